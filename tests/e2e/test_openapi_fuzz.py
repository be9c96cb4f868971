"""Schemathesis against a live stack: every operation of /openapi.json, bounded.

Each generated request, valid and invalid (bodies, parameters, headers), goes
through every check schemathesis has: no 5xx, only documented statuses, media
types and headers, a body that matches its documented schema, valid data
accepted and invalid bodies refused. Protected operations get a valid bearer
token.

Schemathesis' own pytest plugin reads a private attribute pytest 9 removed, so
the cases come from its Python API (``as_strategy``) under a plain ``@given``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import is_check_class, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.schemas import OpenApiSchema

from common.config import Settings
from common.errors import BadRequest, ValidationFailed
from common.security.passwords import MAX_PASSWORD_BYTES
from gateway_app.app import create_app
from gateway_app.openapi import build_document
from tests.conftest import TEST_JWT_SECRET
from tests.e2e.helpers import PASSWORD, bearer, email_for
from tests.e2e.stack import Stack

# Per operation and mode; bounded so the whole file stays near a minute.
MAX_EXAMPLES = 50

# A request the document allows may still be refused for what it names rather
# than for its shape: a reset token that is unknown or spent is a 400
# (invalid_reset_token), as an unknown user is a 401. Only these two codes say
# "the request is malformed", so only they fail a schema-valid request.
SHAPE_ERRORS = {BadRequest.code, ValidationFailed.code}


# bcrypt's limit is in bytes of UTF-8 and JSON Schema's maxLength in
# characters, so the document cannot state it (its description does): a
# password of at most 72 characters but over 72 bytes is valid to the document
# and refused by the server, for this reason alone.
PASSWORD_BYTES_RULE = f"Must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8."


def positive_data_acceptance(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """schemathesis' check, except for a 400 that judges the request's content."""
    if response.status_code == 400 and _error_code(response) not in SHAPE_ERRORS:
        return None
    if response.status_code == 400 and _only_the_byte_limit(response):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


def _only_the_byte_limit(response: Any) -> bool:
    try:
        details = response.json()["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(details) and all(messages == [PASSWORD_BYTES_RULE] for messages in details.values())


def _error_code(response: Any) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


# Every check schemathesis has (its CLI's ``--checks all``): the registry holds
# the built-in ones once the OpenAPI checks are loaded (call_and_validate takes
# check functions; the registry holds no check class today).
load_all_checks()
CHECKS = [
    positive_data_acceptance if check is checks.positive_data_acceptance else check
    for check in CHECK_REGISTRY.get_all()
    if not is_check_class(check)
]


def _documented_cases() -> list[tuple[str, str, GenerationMode]]:
    """(METHOD, path, mode) for every operation, from an app built but not started.

    Invalid data only where a client sends some (a body or a query); schemathesis
    leaves out the document it was loaded from, which test_pages.py covers.
    """
    offline = Settings.from_env(
        {
            "APP_ENV": "development",
            "JWT_SECRET": TEST_JWT_SECRET,
            "DATABASE_URL": "postgresql://collect@127.0.0.1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )
    document = build_document(create_app(offline, name=f"gatehouse_fuzz_{uuid.uuid4().hex[:8]}"))
    cases = []
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            if path == "/openapi.json":
                continue
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            parameters = operation.get("parameters", [])
            if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


@pytest.fixture
def token(stack: Stack) -> str:
    """A valid token of a new account, per operation: a fuzzed logout or profile
    update (a new username) would spoil a shared one."""
    username = f"fuzz_{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=stack.url, timeout=15) as http:
        created = http.post(
            "/api/users/register",
            json={"username": username, "email": email_for(username), "password": PASSWORD},
        )
        assert created.status_code == 201, created.text
        logged_in = http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text
        return str(logged_in.json()["token"])


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Cases sent per operation, summed up on the terminal when the module ends."""
    sent: Counter[str] = Counter()
    yield sent
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and sent:
        with capture.global_and_fixture_disabled():
            print(f"\nschemathesis: {len(sent)} operations, {sum(sent.values())} cases sent")


def _operation(api_schema: OpenApiSchema, method: str, path: str) -> Any:
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) == (method, path):
            return operation
    raise AssertionError(f"{method} {path} is not in the served /openapi.json")


@pytest.mark.parametrize(("method", "path", "mode"), _documented_cases())
def test_operation_conforms_to_the_document(
    api_schema: OpenApiSchema,
    token: str,
    tally: Counter[str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = _operation(api_schema, method, path)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        tally[f"{method} {path}"] += 1
        judged = CHECKS
        if case.meta is None or not case.meta.is_negative_at(ParameterLocation.BODY):
            # Rejection is judged on bodies only: the token header is ours, and
            # unknown query arguments are ignored by design.
            judged = [check for check in CHECKS if check is not checks.negative_data_rejection]
        case.call_and_validate(headers=bearer(token), checks=judged)

    conforms()
