"""Log formats: the human line by default, one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from common.context import request_id_var
from common.logging import configure_logging, set_instance


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put loguru's and the root logger's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    logger.remove()
    logger.configure(extra={}, patcher=lambda record: None)
    logger.add(sys.stderr)
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_fixed_fields_and_the_extras(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("auth", "INFO", "json")
    set_instance("auth-1234")
    token = request_id_var.set("req-42")
    try:
        logger.bind(user_id=7, password="hunter2-secret").info("user {} logged in", 7)
        logger.debug("below the level")
    finally:
        request_id_var.reset(token)

    [line] = json_lines(capsys.readouterr().err)
    assert line["level"] == "INFO"
    assert line["service"] == "auth"
    assert line["instance"] == "auth-1234"
    assert line["request_id"] == "req-42"
    assert line["message"] == "user 7 logged in"
    assert line["user_id"] == 7
    assert line["password"] == "[redacted]"
    assert line["time"].endswith("+00:00")
    assert "hunter2-secret" not in json.dumps(line)


@pytest.mark.usefixtures("restore_logging")
def test_a_json_exception_is_one_line_with_the_traceback_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("user", "INFO", "json")
    secret = "do-not-show-this-local"
    try:
        raise ValueError("broken")
    except ValueError:
        logger.exception("handler failed")
    del secret

    [line] = json_lines(capsys.readouterr().err)
    assert line["message"] == "handler failed"
    assert "ValueError: broken" in line["exception"]
    assert "do-not-show-this-local" not in line["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_the_human_format_stays_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("gateway", "INFO")
    logger.info("hello")

    err = capsys.readouterr().err
    assert " INFO    gateway rid=- " in err
    assert err.rstrip().endswith("hello")
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)
