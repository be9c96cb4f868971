"""loguru set-up: one line per event, each carrying the current request id.

Standard-library loggers (Sanic, asyncio) are routed through loguru so their
lines carry the id too.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from loguru import logger

from common.context import request_id_var

if TYPE_CHECKING:
    from loguru import Record

# Keys whose values never reach a log line or a trace, at any depth.
SECRET_FIELDS = frozenset(
    {
        "password",
        "currentpassword",
        "newpassword",
        "current_password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "jwt_secret",
        "password_hash",
    }
)
REDACTED = "[redacted]"

FORMAT = (
    "{time:YYYY-MM-DDTHH:mm:ss.SSSZ} {level: <7} {extra[service]} "
    "rid={extra[request_id]} {name}:{line} {message}"
)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret field replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED if str(key).lower() in SECRET_FIELDS else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _add_request_id(record: Record) -> None:
    record["extra"]["request_id"] = request_id_var.get()


class _InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(service: str, level: str = "INFO") -> None:
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_add_request_id)
    logger.add(sys.stderr, level=level, format=FORMAT, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
