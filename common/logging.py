"""loguru set-up: one line per event, each carrying the current request id.

Standard-library loggers (Sanic, asyncio) are routed through loguru so their
lines carry the id too. ``LOG_FORMAT=json`` writes one JSON object per line
for log shippers instead of the human format.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from datetime import UTC
from typing import TYPE_CHECKING, Any

import orjson
from loguru import logger

from common.context import request_id_var

if TYPE_CHECKING:
    from loguru import Message, Record

# Set by configure_logging and set_instance; every line carries them.
_process: dict[str, str] = {"service": "-", "instance": "-"}
# How configure_logging set up the access line (see log_access).
_access: dict[str, Any] = {"enabled": True, "json": False}
_INFO = 20

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
        "redis_password",
        "redis_sentinel_password",
        "sentinel_password",
        # Second factors: codes, the pending-login token, the TOTP secret and its URI and QR.
        "code",
        "recovery_code",
        "recovery_codes",
        "mfa_token",
        "secret",
        "otpauth_uri",
        "qr_svg",
        # The OpenID Connect provider's secrets (auth_app/oidc/, gateway_app/oauth/).
        "client_secret",
        "authorization_code",
        "code_verifier",
        "id_token",
        "id_token_hint",
        "browser",
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


def _write_json(message: Message) -> None:
    """One JSON object per line: the fixed fields, then the line's own extras, redacted."""
    record = message.record
    extra = dict(record["extra"])
    line: dict[str, Any] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "service": extra.pop("service", "-"),
        "instance": extra.pop("instance", "-"),
        "request_id": extra.pop("request_id", "-"),
        "message": record["message"],
        "logger": f"{record['name']}:{record['line']}",
    }
    line.update(redact(extra))
    exception = record["exception"]
    if exception is not None:
        # The traceback without local variables, which may hold secrets.
        line["exception"] = "".join(
            traceback.format_exception(exception.type, exception.value, exception.traceback)
        )
    # str() for extras JSON has no type for (exceptions, paths...): a log line never fails.
    sys.stderr.write(orjson.dumps(line, default=str).decode() + "\n")


def configure_logging(service: str, level: str = "INFO", log_format: str = "human") -> None:
    """Log to stderr in ``log_format`` (``human`` or ``json``) from ``level`` up."""
    _process.update(service=service, instance="-")
    _access.update(enabled=logger.level(level).no <= _INFO, json=log_format == "json")
    logger.remove()
    logger.configure(extra=dict(_process), patcher=_add_request_id)
    if log_format == "json":
        logger.add(_write_json, level=level, format="{message}", backtrace=False, diagnose=False)
    else:
        logger.add(sys.stderr, level=level, format=FORMAT, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)


def set_instance(instance: str) -> None:
    """Name this process's instance on every line from now on (JSON ``instance``)."""
    _process["instance"] = instance
    logger.configure(extra=dict(_process))


def log_access(method: str, path: str, status: int | str, elapsed: str) -> None:
    """The gateway's access line: INFO, in the configured format, with the request id.

    Written directly rather than through loguru, whose record (frame lookup,
    patcher, formatting) cost about 30 µs a request, a tenth of the gateway's
    CPU per call; this costs a few. It looks like any other line.
    """
    if not _access["enabled"]:
        return
    now = time.time()
    message = f"{method} {path} {status} {elapsed}"
    request_id = request_id_var.get()
    if _access["json"]:
        line = {
            "time": _utc_stamp(now),
            "level": "INFO",
            "service": _process["service"],
            "instance": _process["instance"],
            "request_id": request_id,
            "message": message,
            "logger": "access",
        }
        sys.stderr.write(orjson.dumps(line).decode() + "\n")
    else:
        sys.stderr.write(
            f"{_local_stamp(now)} INFO    {_process['service']} rid={request_id} access {message}\n"
        )


# The formatted second and zone of each clock, recomputed once a second
# rather than on every line.
_seconds: dict[str, tuple[int, str, str]] = {"local": (-1, "", ""), "utc": (-1, "", "")}


def _local_stamp(now: float) -> str:
    """As loguru's ``YYYY-MM-DDTHH:mm:ss.SSSZ``: local time, milliseconds, offset."""
    second, head, zone = _seconds["local"]
    if int(now) != second:
        local = time.localtime(now)
        offset = time.strftime("%z", local)
        head, zone = time.strftime("%Y-%m-%dT%H:%M:%S", local), f"{offset[:3]}:{offset[3:]}"
        _seconds["local"] = (int(now), head, zone)
    return f"{head}.{int(now % 1 * 1000):03d}{zone}"


def _utc_stamp(now: float) -> str:
    """As the JSON lines' ``time``: UTC ISO 8601 with milliseconds."""
    second, head, zone = _seconds["utc"]
    if int(now) != second:
        head, zone = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)), "+00:00"
        _seconds["utc"] = (int(now), head, zone)
    return f"{head}.{int(now % 1 * 1000):03d}{zone}"
