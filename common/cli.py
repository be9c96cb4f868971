"""``gatehouse``: the operator's commands.

gatehouse up [honcho args]   set up and run the whole system (Procfile)
gatehouse migrate            apply pending migrations
gatehouse trace              pair requests with replies, live (MONITOR)
gatehouse bench              measure every scenario against its baseline, one table
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from common.config import ConfigError, Settings
from common.logging import configure_logging

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GATEWAY_BASE_PORT = 3000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="gatehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole system (embedded servers when needed)")
    up.add_argument(
        "-c",
        "--concurrency",
        default=None,
        help="processes per type for honcho, e.g. user=3,auth=2",
    )
    up.add_argument(
        "-p",
        "--port",
        type=int,
        default=GATEWAY_BASE_PORT,
        help="the gateway's port; worker health ports follow at +100, +200",
    )

    commands.add_parser("migrate", help="apply pending migrations to DATABASE_URL")

    trace = commands.add_parser("trace", help="print each RPC call with its reply and latency")
    trace.add_argument("--method", help="only calls of this method (e.g. user.register)")
    trace.add_argument("--request-id", help="only calls carrying this request id")
    trace.add_argument("--json", action="store_true", help="one JSON object per line")

    bench = commands.add_parser(
        "bench", help="throughput, latency, CPU and memory per scenario, with baselines"
    )
    bench.add_argument("--quick", action="store_true", help="tiny durations: a smoke test")
    bench.add_argument("--rounds", type=int, help="rounds per scenario (median; default 3)")
    bench.add_argument("--seconds", type=float, help="seconds per HTTP cell (default 5)")
    bench.add_argument("--rpc-seconds", type=float, help="seconds per RPC cell (default 3)")
    bench.add_argument("--client", choices=("auto", "wrk", "builtin"), default="auto")
    bench.add_argument("--bcrypt-rounds", type=int, help="BCRYPT_ROUNDS of the stack (10)")
    bench.add_argument("--log-level", help="LOG_LEVEL of the stack (INFO, the default)")
    bench.add_argument("--json-out", type=Path, help="also write the table as JSON here")
    bench.add_argument(
        "--compare-tree",
        type=Path,
        help="also load a stack run from this source tree (e.g. a git archive of main)",
    )
    bench.add_argument(
        "--only", help="comma-separated subset of profile,rpc,login,startup (default: all)"
    )

    args = parser.parse_args(argv)
    if args.command == "up":
        raise SystemExit(run_up(args.port, args.concurrency))
    if args.command == "migrate":
        raise SystemExit(run_migrate())
    if args.command == "bench":
        raise SystemExit(run_bench_command(args))
    if args.command == "trace":
        from common.trace import run_trace

        raise SystemExit(
            run_trace(
                _settings(), method=args.method, request_id=args.request_id, as_json=args.json
            )
        )


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_bench_command(args: argparse.Namespace) -> int:
    from bench.runner import BenchOptions, command_line, run_bench

    given = {
        name: value
        for name in (
            "rounds",
            "seconds",
            "rpc_seconds",
            "bcrypt_rounds",
            "log_level",
            "json_out",
            "compare_tree",
        )
        if (value := getattr(args, name)) is not None
    }
    given["client"] = args.client
    if args.only:
        given["only"] = tuple(name.strip() for name in args.only.split(","))
    options = BenchOptions.quick(**given) if args.quick else BenchOptions(**given)
    return run_bench(options, command_line())


def run_migrate() -> int:
    from common.db.migrations import migrate
    from common.db.queries import Queries

    settings = _settings()
    configure_logging("migrate", settings.log_level)

    async def apply() -> int:
        import asyncpg

        conn = await asyncpg.connect(settings.database_url)
        try:
            applied = await migrate(conn, Queries.load())
        finally:
            await conn.close()
        for migration in applied:
            print(f"applied {migration.version:04d} {migration.name}")
        if not applied:
            print("database is up to date")
        return 0

    return asyncio.run(apply())


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


def run_up(port: int, concurrency: str | None) -> int:
    from common.embedded import EmbeddedPostgres, EmbeddedRedis, data_root

    os.chdir(PROJECT_ROOT)
    dotenv = PROJECT_ROOT / ".env"
    env = {**load_dotenv(dotenv), **os.environ}
    ensure_dev_secret(dotenv, env)
    data = data_root()
    with ExitStack() as servers:
        if not (env.get("DATABASE_URL") or env.get("DB_HOST")):
            postgres = EmbeddedPostgres(data / "postgres")
            env["DATABASE_URL"] = postgres.start()
            servers.callback(postgres.stop)
            print(f"gatehouse: embedded PostgreSQL in {postgres.data_dir}")
        if not (env.get("REDIS_URL") or env.get("REDIS_HOST")):
            redis = EmbeddedRedis(data / "redis")
            env["REDIS_URL"] = redis.start()
            servers.callback(redis.stop)
            print(f"gatehouse: embedded Valkey on {env['REDIS_URL']}")
        env.pop("PORT", None)
        # The Procfile says "python": make it this environment's Python.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        migrated = subprocess.run(
            [sys.executable, "-m", "common.cli", "migrate"], env=env, check=False
        )
        if migrated.returncode != 0:
            return migrated.returncode
        command = [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(port)]
        if concurrency:
            command += ["-c", concurrency]
        print(f"gatehouse: gateway on http://localhost:{port} (Ctrl-C stops everything)")
        honcho = subprocess.Popen(command, env=env)
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            # honcho got the same Ctrl-C and is stopping its processes; the
            # servers stop only after it, so workers drain against them.
            return honcho.wait()


if __name__ == "__main__":
    main()
