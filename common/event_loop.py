"""uvloop for every process: the gateway (through Sanic), the workers and the bench.

uvloop (libuv) spends less CPU per socket read and write than the standard
loop: about 40 µs per profile request in a user worker.

The workers were once taken off it: a worker told to stop shortly after
start-up hung in its shutdown under uvloop (5 of 15 tries), never on the
standard loop. ``bench/stop_cycles.py`` still reproduces that hang on the
tree of that time (6aa13a6^: 3 of 20 stops hung, the loop idle), and not on
today's (0 of 80 user and auth worker stops). That tree stopped its
maintenance task by cancelling it, and on Python 3.11 redis-py's
``asyncio.wait_for`` drops a cancel that lands as a command completes, so
that task could run for ever and the shutdown waited on it; uvloop's
callback order only made the race likelier. Long-running loops now end on
an event and what must be cancelled is cancelled until done
(``common/tasks.py``), which is what made uvloop safe for the workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a new uvloop loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
