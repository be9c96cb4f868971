"""The README stands on its own: every link resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
HEADINGS = {
    re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
    for line in README.splitlines()
    if line.startswith("## ")
}


def test_every_relative_link_names_a_file_of_the_repository() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    files = [t.split("#")[0] for t in targets if not re.match(r"(https?|mailto):|#", t)]
    assert files, "the README links to no file at all?"
    assert [f for f in files if not (ROOT / f).exists()] == []


def test_every_anchor_link_names_a_section() -> None:
    anchors = re.findall(r"\]\(#([^)\s]+)\)", README)
    assert [a for a in anchors if a not in HEADINGS] == []


def test_no_reference_to_documents_outside_the_repository() -> None:
    assert "DESIGN.md" not in README
    assert "STYLE.md" not in README
    assert "../" not in README


def layout_entries() -> dict[str, str]:
    """The README's layout block: each folder it names, with its description."""
    section = README.split("\n## Layout\n", 1)[1]
    block = section.split("```", 2)[1]
    entries: dict[str, str] = {}
    folder = ""
    for line in block.splitlines()[1:]:
        if line and not line[0].isspace():
            folder, _, line = line.partition(" ")
            entries[folder] = ""
        entries[folder] += " " + line.strip()
    return entries


def _tracked_folders(folder: Path) -> set[str]:
    return {
        path.name
        for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith((".", "__")) and not path.suffix
    }


def test_the_layout_names_every_top_level_folder_and_only_those() -> None:
    entries = layout_entries()
    top = {name.split("/")[0] for name in entries}
    tracked = _tracked_folders(ROOT) - {"gatehouse.egg-info"}

    assert [name for name in entries if not (ROOT / name).is_dir()] == []
    assert top == tracked


def test_the_layout_names_every_package_of_common() -> None:
    entries = layout_entries()
    below = [name for name in entries if name.startswith("common/") and name != "common/"]
    named = {name.removeprefix("common/").rstrip("/") for name in below}
    # The runtime's packages are named in common/'s own description, as "rpc/ (...)".
    named |= set(re.findall(r"(\w+)/", entries["common/"]))
    packages = {path.parent.name for path in (ROOT / "common").glob("*/__init__.py")}

    assert named == packages


def test_the_files_and_folders_a_layout_entry_names_exist() -> None:
    missing = []
    for folder, description in layout_entries().items():
        for name in re.findall(r"[\w*]+\.py\b|\b\w+/", description):
            if not list((ROOT / folder).glob(name.rstrip("/"))):
                missing.append(f"{folder}{name}")
    assert missing == []
