"""A service worker: resources opened at start, RPC served, drained on SIGTERM.

``user_app`` and ``auth_app`` differ only in the methods they hand to
``Worker``; everything about lifecycle lives here: ``context`` (what handlers
may use), ``lifecycle`` (opening and closing the resources), ``serving`` (the
serving loop, its drain and its maintenance).
"""

from common.worker.context import MethodsFactory, WorkerContext
from common.worker.serving import Worker

__all__ = ["MethodsFactory", "Worker", "WorkerContext"]
