"""``gatehouse up``: the whole system on one machine, and nothing left when it stops.

Order of events: take the data folder's lock; start the watchdog (see
``common.ops.watchdog``); start the embedded servers that are not configured;
record their URLs; migrate; run the Procfile with honcho. Whatever stops it
(Ctrl-C in the terminal, SIGINT, SIGTERM or SIGHUP to this process), the
services are stopped first and drain, then the servers, then it exits.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from common.ops.datafolder import (
    DATABASE_VARIABLES,
    REDIS_VARIABLES,
    DataFolderBusy,
    DataFolderLock,
    data_folder,
    forget_urls,
    record_urls,
)
from common.ops.dev_keys import ensure_dev_keys
from common.ops.watchdog import Watchdog

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# honcho kills a process 5 s after its SIGTERM; a worker's drain ends before.
DRAIN_UNDER_HONCHO = "4s"


def load_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines, as honcho reads them; the real environment wins."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    return values


def ensure_dev_secret(dotenv: Path, env: dict[str, str]) -> None:
    """Generate a JWT secret once and keep it in .env, so tokens survive restarts."""
    if env.get("JWT_SECRET"):
        return
    secret = secrets.token_urlsafe(48)
    with dotenv.open("a") as handle:
        handle.write(f"JWT_SECRET={secret}\n")
    os.chmod(dotenv, 0o600)
    env["JWT_SECRET"] = secret
    print(f"gatehouse: generated a development JWT_SECRET in {dotenv}")


class StopRequest:
    """Signal handler: remember the stop, and pass it on to the running child."""

    def __init__(self) -> None:
        self.requested = False
        self.child: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.requested:
            # os.write: print() could re-enter a write the handler interrupted.
            os.write(2, f"gatehouse: {signal.Signals(signum).name}: stopping\n".encode())
        self.requested = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def wait(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for ``child``, which gets SIGTERM for any stop signal this process gets."""
        self.child = child
        if self.requested:
            child.send_signal(signal.SIGTERM)
        try:
            return child.wait()
        finally:
            self.child = None


def gateway_count(concurrency: str | None) -> int:
    """How many gateway processes honcho's ``-c`` (``gateway=2,user=4``) asks for."""
    for item in (concurrency or "").split(","):
        name, _, count = item.partition("=")
        if name.strip() == "gateway" and count.strip().isdigit():
            return int(count)
    return 1


def run_up(port: int, concurrency: str | None) -> int:
    data = data_folder(os.environ, PROJECT_ROOT)
    lock = DataFolderLock(data)
    try:
        lock.acquire()
    except DataFolderBusy as busy:
        print(f"gatehouse: {busy}", file=sys.stderr)
        return 1
    stop = StopRequest()
    stop.install()
    watchdog = Watchdog(lock.fd)
    try:
        return _run(data, port, concurrency, stop, watchdog)
    finally:
        forget_urls(data)
        watchdog.dismiss()
        lock.release()


def _run(
    data: Path, port: int, concurrency: str | None, stop: StopRequest, watchdog: Watchdog
) -> int:
    from common.ops.embedded import EmbeddedPostgres, EmbeddedRedis

    os.chdir(PROJECT_ROOT)
    dotenv = PROJECT_ROOT / ".env"
    env = {**load_dotenv(dotenv), **os.environ}
    ensure_dev_secret(dotenv, env)
    # An OpenID Connect provider out of the box: a key pair in the data folder.
    ensure_dev_keys(data, env, port)
    watchdog.tell(data=str(data))
    embedded: list[str] = []
    with ExitStack() as servers:
        if not any(env.get(name) for name in DATABASE_VARIABLES):
            postgres = EmbeddedPostgres(data / "postgres")
            watchdog.tell(postgres=str(postgres.data_dir))
            servers.callback(postgres.stop)
            env["DATABASE_URL"] = postgres.start()
            embedded.append("DATABASE_URL")
            print(f"gatehouse: embedded PostgreSQL in {postgres.data_dir}")
        if not any(env.get(name) for name in REDIS_VARIABLES):
            redis = EmbeddedRedis(data / "redis")
            watchdog.tell(valkey=str(redis.data_dir))
            servers.callback(redis.stop)
            env["REDIS_URL"] = redis.start()
            embedded.append("REDIS_URL")
            print(f"gatehouse: embedded Valkey on {env['REDIS_URL']}")
        # Only what this run started: a configured URL may carry a password,
        # and the commands read the configuration themselves.
        record_urls(
            data,
            {
                **{name: env[name] for name in embedded},
                "GATEWAY_URL": f"http://localhost:{port}",
            },
        )
        if stop.requested:
            return 0
        env.pop("PORT", None)
        # Every process, not only the gateway, must know the gateway's port: the auth
        # worker accepts passkeys made on http://localhost:<it> (WEBAUTHN_ORIGINS' default).
        env["GATEWAY_PORT"] = str(port)
        env.setdefault("DRAIN_TIMEOUT", DRAIN_UNDER_HONCHO)
        # The Procfile runs this Python when it is told which (see the Procfile).
        env["GATEHOUSE_PYTHON"] = sys.executable
        migrate = [sys.executable, "-m", "common.ops.cli", "migrate"]
        # Own sessions: the terminal's Ctrl-C reaches this process only, which
        # stops the children in order (services, then servers).
        migrated = stop.wait(subprocess.Popen(migrate, env=env, start_new_session=True))
        if stop.requested:
            return 0
        if migrated != 0:
            return migrated
        command = [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(port)]
        if concurrency:
            command += ["-c", concurrency]
        if gateway_count(concurrency) > 1:
            # honcho gives gateway.2 the next PORT; all of them must share this one.
            env["GATEWAY_SHARED_PORT"] = str(port)
        print(f"gatehouse: gateway on http://localhost:{port} (Ctrl-C stops everything)")
        honcho = subprocess.Popen(command, env=env, start_new_session=True)
        watchdog.tell(honcho=honcho.pid)
        returncode = stop.wait(honcho)
        # Stopped on request: honcho reports the signal it passed on, not a failure.
        return 0 if stop.requested else returncode
