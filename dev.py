#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11+ (standard library only).

usage: python3 dev.py up [-p PORT] [-c TYPE=N,...]
       python3 dev.py test [PYTEST ARGS]

  up     virtual environment (.venv), dependencies, then the whole system
         (gatehouse up: gateway on PORT, default 3000; -c user=3,auth=2 runs
         more workers); Ctrl-C or any stop signal stops everything
  test   the same set-up, then ruff, ruff format --check, mypy --strict and
         pytest; arguments go to pytest, e.g. python3 dev.py test -k register
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("GATEHOUSE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".gatehouse-installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Gatehouse needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("dev.py: installing dependencies", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*command: str) -> None:
    completed = subprocess.run(command, cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def main() -> None:
    if sys.argv[1:2] in (["-h"], ["--help"], ["help"]):
        print(__doc__.strip())
        return
    if len(sys.argv) < 2 or sys.argv[1] not in ("up", "test"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    verb, extra = sys.argv[1], sys.argv[2:]
    ensure_environment()
    if verb == "up":
        os.execv(BIN / "gatehouse", [str(BIN / "gatehouse"), "up", *extra])
    run(str(BIN / "ruff"), "check", ".")
    run(str(BIN / "ruff"), "format", "--check", ".")
    run(str(BIN / "mypy"))
    run(str(BIN / "python"), "-m", "pytest", *extra)


if __name__ == "__main__":
    main()
