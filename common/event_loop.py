"""uvloop for the processes that can use it: the gateway (through Sanic) and the bench.

uvloop (libuv) spends less CPU per socket read and write than the standard
loop: about 40 µs per profile request in a user worker. The workers do NOT
run on it yet: under uvloop a worker told to stop shortly after start-up hung
in its shutdown in 5 of 15 tries (``Worker._close`` never finished, the loop
idle), never on the standard loop. ``common/entrypoint.py`` keeps
``asyncio.run`` until that is understood.
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
