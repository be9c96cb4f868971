"""moleculer-web as an in-run peer of the profile scenario.

``bench/moleculer_peer.js`` runs as two Node processes (an API node with
moleculer-web, a users node reading PostgreSQL) over moleculer's Redis
transporter, against the run's own database and Redis. Its npm packages are
installed with the machine's npm into a temporary folder for the run and
removed with it; without node or npm (or when the install fails) the peer is
skipped with a note, never faked.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.launcher import Launched, Launcher
from common.config import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER

PACKAGES = ("moleculer@0.14", "moleculer-web@0.10", "ioredis@5", "pg@8")
SCRIPT = Path(__file__).with_name("moleculer_peer.js")
INSTALL_SECONDS = 180
# The users node's pool: the same as the user worker's default DB_POOL_MAX.
USERS_POOL = 10


def unavailable() -> str | None:
    """Why the peer cannot run here, or None."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found" if missing else None


@contextmanager
def installed() -> Iterator[Path]:
    """A temporary folder holding the peer's script and its npm packages."""
    with tempfile.TemporaryDirectory(prefix="gatehouse-moleculer-") as folder:
        root = Path(folder)
        (root / "package.json").write_text('{"private": true}\n')
        shutil.copy(SCRIPT, root / SCRIPT.name)
        completed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"npm install failed: {completed.stderr.strip()[-500:]}")
        yield root


def start(launcher: Launcher, root: Path) -> dict[str, Launched]:
    """The users node, then the API node (healthy once it sees the users service)."""
    node = shutil.which("node") or "node"
    env = {
        "DB_POOL_MAX": str(USERS_POOL),
        "JWT_ISSUER": DEFAULT_JWT_ISSUER,
        "JWT_AUDIENCE": DEFAULT_JWT_AUDIENCE,
    }
    users = launcher.launch_command("moleculer-users", [node, SCRIPT.name, "users"], root, env)
    api = launcher.launch_command("moleculer-api", [node, SCRIPT.name, "api"], root, env)
    launcher.wait_healthy(api)
    return {"api": api, "users": users}


def describe() -> str:
    return (
        f"{', '.join(PACKAGES)} from npm, node {_node_version()}; an API node (moleculer-web, "
        f"JWT HS256 + session GET) and a users node (pg pool {USERS_POOL}, prepared statement)"
    )


def _node_version() -> str:
    completed = subprocess.run(
        [shutil.which("node") or "node", "--version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return completed.stdout.strip() or "?"
