"""The data folder of ``gatehouse up``: who holds it, and where its servers are.

While ``gatehouse up`` runs it holds an exclusive ``flock`` on
``<data>/gatehouse.lock`` (the file names its PID), so a second ``up`` on the
same folder refuses at once instead of sharing the servers. The kernel drops
the lock when its holders die, so a lock file left by a killed run is simply
taken over. ``<data>/urls.json`` records the URLs of the servers the run
started, so that other ``gatehouse`` commands find them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path

LOCK_FILE = "gatehouse.lock"
URLS_FILE = "urls.json"
# Settings that say where the servers are; any of them set means "configured".
DATABASE_VARIABLES = ("DATABASE_URL", "DB_HOST")
REDIS_VARIABLES = ("REDIS_URL", "REDIS_HOST", "REDIS_SENTINELS")


def data_folder(environ: Mapping[str, str], project_root: Path) -> Path:
    """``GATEHOUSE_DATA``, else ``.data`` in the project."""
    configured = environ.get("GATEHOUSE_DATA", "").strip()
    return Path(configured).resolve() if configured else project_root / ".data"


class DataFolderBusy(RuntimeError):
    """Another ``gatehouse up`` holds the data folder."""

    def __init__(self, folder: Path, pid: str) -> None:
        if pid.isdigit() and not _alive(int(pid)):
            # Killed outright: its watchdog still holds the lock while it stops the rest.
            super().__init__(
                f"{folder} is still being cleaned up after gatehouse up (pid {pid}) "
                "was killed; try again in a few seconds"
            )
            return
        super().__init__(
            f"{folder} is in use by gatehouse up (pid {pid or 'unknown'}); "
            "stop that one first, or set GATEHOUSE_DATA to another folder"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class DataFolderLock:
    """An exclusive, non-blocking ``flock`` on the data folder's lock file."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def fd(self) -> int:
        """The locked descriptor; a process given a copy holds the lock too."""
        assert self._fd is not None
        return self._fd

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise DataFolderBusy(self.path.parent, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def is_held(folder: Path) -> bool:
    """Whether a live ``gatehouse up`` (or its watchdog) holds ``folder``."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def record_urls(folder: Path, urls: Mapping[str, str]) -> None:
    """Write the running servers' URLs, replacing the file in one step."""
    partial = folder / f".{URLS_FILE}.partial"
    partial.write_text(json.dumps(dict(urls), indent=2) + "\n")
    partial.replace(folder / URLS_FILE)


def forget_urls(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / URLS_FILE).unlink()


def recorded_urls(folder: Path) -> dict[str, str]:
    """The URLs of the ``gatehouse up`` running on ``folder``; none when nothing runs."""
    path = folder / URLS_FILE
    if not path.exists() or not is_held(folder):
        return {}
    try:
        urls = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in urls.items() if isinstance(value, str)}


def with_running_servers(environ: Mapping[str, str], folder: Path) -> dict[str, str]:
    """``environ`` plus the servers of a running ``gatehouse up`` where none is configured."""
    env = dict(environ)
    urls = recorded_urls(folder)
    for url_variable, configured_by in (
        ("DATABASE_URL", DATABASE_VARIABLES),
        ("REDIS_URL", REDIS_VARIABLES),
    ):
        if url_variable in urls and not any(env.get(name) for name in configured_by):
            env[url_variable] = urls[url_variable]
    return env
