"""The second-factor params: unknown fields refused, one proof at a time, storable text only."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields

import common.accounts.mfa_schemas as module
from common.accounts.mfa_schemas import (
    MfaVerifyParams,
    RecoveryCodesParams,
    TotpConfirmParams,
    TotpDisableParams,
    TotpEnrolStartParams,
)
from common.accounts.schemas import Text

CALLER = {"user_id": 1, "session_id": 2}
TOKEN = "t" * 43


def errors_of(schema: Schema, data: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as raised:
        schema.load(data)
    return dict(raised.value.messages)  # type: ignore[arg-type]


SCHEMAS = [
    value
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__
]


def test_every_string_field_is_text() -> None:
    assert len(SCHEMAS) >= 8
    for schema in SCHEMAS:
        for name, field in schema().fields.items():
            if isinstance(field, fields.String):
                assert isinstance(field, Text), f"{schema.__name__}.{name} is not Text"


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_unknown_fields_are_refused(schema: type[Schema]) -> None:
    assert errors_of(schema(), {"surprise": 1})["surprise"] == ["Unknown field."]


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", " 123456", "123456\n", "١٢٣٤٥٦"])
def test_a_code_is_six_ascii_digits(code: str) -> None:
    assert "code" in errors_of(TotpConfirmParams(), {**CALLER, "code": code})


def test_verify_takes_a_code_or_a_recovery_code_not_both_nor_neither() -> None:
    schema = MfaVerifyParams()
    assert schema.load({"mfa_token": TOKEN, "code": "123456"})["code"] == "123456"
    assert schema.load({"mfa_token": TOKEN, "recovery_code": "ABCD"})["recovery_code"] == "ABCD"
    for data in (
        {"mfa_token": TOKEN},
        {"mfa_token": TOKEN, "code": "123456", "recovery_code": "A"},
    ):
        problems = errors_of(schema, data)
        assert set(problems) == {"code", "recovery_code"}


def test_disable_needs_the_password_and_one_code() -> None:
    assert set(errors_of(TotpDisableParams(), {**CALLER, "code": "123456"})) == {"password"}
    assert TotpDisableParams().load({**CALLER, "password": "p", "recovery_code": "X"})


def test_regeneration_takes_exactly_one_proof() -> None:
    schema = RecoveryCodesParams()
    assert schema.load({**CALLER, "password": "p"})["password"] == "p"
    problems = errors_of(schema, {**CALLER, "password": "p", "code": "123456"})
    assert set(problems) == {"password", "code", "recovery_code"}
    assert set(errors_of(schema, CALLER)) == {"password", "code", "recovery_code"}


def test_the_enrolment_token_route_takes_no_caller_fields() -> None:
    """Sent without a bearer, a user_id of the client's choosing must not reach the worker."""
    problems = errors_of(TotpEnrolStartParams(), {"mfa_token": TOKEN, "user_id": 1})
    assert problems == {"user_id": ["Unknown field."]}
