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
