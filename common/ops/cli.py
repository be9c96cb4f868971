"""``gatehouse``: the operator's commands.

gatehouse up [-p PORT] [-c TYPE=N,...]   run the whole system (the Procfile, with
                                         embedded servers where none is configured)
gatehouse migrate                        apply pending migrations
gatehouse trace [--method M] [--json]    pair requests with replies, live (MONITOR)
gatehouse bench [--quick] [--json-out F] measure every scenario against its baseline
gatehouse bench --scenario failover      kill -9 of a Sentinel-watched Redis primary
                                         under load: outage window, requests lost
gatehouse admin grant|revoke EMAIL ROLE  give or take a role (the first admin, say)
gatehouse clients add|list|show|rotate-secret|remove   OpenID Connect clients

With no DATABASE_URL / REDIS_URL configured (environment or .env), migrate and
trace use the servers of the gatehouse up running on the data folder
(GATEHOUSE_DATA, default .data).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from common.config import ConfigError, Settings
from common.logging import configure_logging

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
        metavar="TYPE=N,...",
        default=None,
        help="processes per Procfile type, e.g. user=3,auth=2 (default: one of each)",
    )
    up.add_argument(
        "-p",
        "--port",
        type=int,
        default=GATEWAY_BASE_PORT,
        help=f"the gateway's port (default {GATEWAY_BASE_PORT}); the workers' health ports "
        "are numbered from PORT+100 (user) and PORT+200 (auth)",
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
    bench.add_argument(
        "--scenario",
        choices=("failover",),
        help="failover: kill -9 of a Sentinel-watched Redis primary under load (alone)",
    )

    admin = commands.add_parser("admin", help="grant or revoke a role (e.g. the first admin)")
    admin.add_argument("action", choices=("grant", "revoke"))
    admin.add_argument("email", help="the account's email address")
    admin.add_argument("role", help="a role name, e.g. admin")

    from common.ops.clients import add_parser as add_clients_parser

    add_clients_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "clients":
        from common.ops.clients import run_clients

        raise SystemExit(run_clients(_settings(), args))
    if args.command == "up":
        from common.ops.up import run_up

        raise SystemExit(run_up(args.port, args.concurrency))
    if args.command == "migrate":
        raise SystemExit(run_migrate())
    if args.command == "admin":
        from common.ops.admin import run_admin

        raise SystemExit(run_admin(_settings(), args.action, args.email, args.role))
    if args.command == "bench":
        raise SystemExit(run_bench_command(args))
    if args.command == "trace":
        from common.ops.trace import run_trace

        raise SystemExit(
            run_trace(
                _settings(), method=args.method, request_id=args.request_id, as_json=args.json
            )
        )


def _settings() -> Settings:
    from common.ops.datafolder import data_folder, with_running_servers
    from common.ops.up import PROJECT_ROOT, load_dotenv

    environ = {**load_dotenv(PROJECT_ROOT / ".env"), **os.environ}
    folder = data_folder(os.environ, PROJECT_ROOT)
    env = with_running_servers(environ, folder)
    if env != environ:
        print(f"gatehouse: using the servers gatehouse up runs on {folder}", file=sys.stderr)
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_bench_command(args: argparse.Namespace) -> int:
    # The one import of bench: the operator's command, never at import time.
    from bench.command import run_bench_command as run

    return run(args)


def run_migrate() -> int:
    from common.db.migrations import migrate
    from common.db.queries import Queries

    settings = _settings()
    configure_logging("migrate", settings.log_level)

    async def apply() -> int:
        import asyncpg

        conn = await asyncpg.connect(settings.db.database_url)
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


if __name__ == "__main__":
    main()
