"""Per-request context that follows a call across tasks and RPC hops.

The request id tags every log line; the deadline lets a nested call inherit
what is left of its caller's time budget instead of starting a fresh one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar

NO_REQUEST = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
# Absolute deadline in epoch milliseconds, or None outside a request.
deadline_var: ContextVar[int | None] = ContextVar("deadline", default=None)
# Who made the public request ("client_ip", "user_agent"), set by the gateway and
# carried in message headers, so that workers can record sessions and rate-limit
# by client without a hop back to the gateway. Nested calls inherit it.
origin_var: ContextVar[Mapping[str, str] | None] = ContextVar("origin", default=None)
ORIGIN_HEADERS = ("client_ip", "user_agent")

# What we accept from X-Request-ID: enough for uuids and tracing ids, and
# nothing that could break a log line or a header.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """The client's id when it is safe to echo and log, otherwise a new one."""
    if candidate and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return new_request_id()
