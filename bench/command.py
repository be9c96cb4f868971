"""``gatehouse bench``: the arguments ``common/ops/cli.py`` parsed, turned into runs.

The command line lives with the operator's other verbs; what it runs lives
here, so that nothing in ``common/`` needs to know the bench's modules.
"""

from __future__ import annotations

import argparse

from bench.failover_scenario import FailoverOptions, run_failover
from bench.runner import BenchOptions, command_line, run_bench


def run_bench_command(args: argparse.Namespace) -> int:
    """``gatehouse bench`` with its parsed arguments; the exit status."""
    only = [name.strip() for name in (args.only or "").split(",") if name.strip()]
    if args.scenario == "failover" or "failover" in only:
        # Its own servers and its own figures: not a row of the throughput table.
        failover = FailoverOptions(
            **({"bcrypt_rounds": args.bcrypt_rounds} if args.bcrypt_rounds else {})
        )
        status = run_failover(failover)
        args.only = ",".join(name for name in only if name != "failover")
        if status or not args.only:
            return status

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
