"""Schemas of the refresh, logout, sessions, audit, reset and account methods."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from common.accounts.schemas import (
    AuditParams,
    DeleteAccountParams,
    EndSessionParams,
    ForgotPasswordParams,
    LogoutParams,
    RefreshParams,
    ResetPasswordParams,
    UpdateProfileParams,
)

CALLER = {"user_id": 7, "session_id": 9}


def refused(schema: Schema, data: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


@pytest.mark.parametrize("token", [None, 7, "", "x" * 513, ["x"]])
def test_refresh_token_must_be_a_bounded_string(token: Any) -> None:
    assert "refresh_token" in refused(RefreshParams(), {"refresh_token": token})


def test_logout_scope_defaults_to_local() -> None:
    assert LogoutParams().load(CALLER)["scope"] == "local"


@pytest.mark.parametrize("scope", ["", "all", "LOCAL", ["local", "global"], None])
def test_logout_refuses_other_scopes(scope: Any) -> None:
    assert "scope" in refused(LogoutParams(), {**CALLER, "scope": scope})


@pytest.mark.parametrize("target", ["3", 3.5, None, True])
def test_end_session_target_is_a_strict_integer(target: Any) -> None:
    assert "target" in refused(EndSessionParams(), {**CALLER, "target": target})


@pytest.mark.parametrize(("given", "limit"), [({}, 50), ({"limit": "5"}, 5), ({"limit": 200}, 200)])
def test_audit_limit(given: dict[str, Any], limit: int) -> None:
    assert AuditParams().load({**CALLER, **given})["limit"] == limit


@pytest.mark.parametrize("limit", [0, 201, "", "abc", [1, 2]])
def test_audit_limit_refused(limit: Any) -> None:
    assert "limit" in refused(AuditParams(), {**CALLER, "limit": limit})


def test_forgot_password_normalises_the_email() -> None:
    loaded = ForgotPasswordParams().load({"email": " Ada@Example.COM "})
    assert loaded == {"email": "ada@example.com"}


@pytest.mark.parametrize("email", [None, "", "nope", 5])
def test_forgot_password_refuses_bad_emails(email: Any) -> None:
    assert "email" in refused(ForgotPasswordParams(), {"email": email})


@pytest.mark.parametrize("password", ["short1", "lettersonly", "12345678", "é" * 37 + "1"])
def test_reset_applies_the_password_rules(password: str) -> None:
    assert "newPassword" in refused(ResetPasswordParams(), {"token": "t", "newPassword": password})


def test_update_profile_needs_a_field_and_normalises_the_email() -> None:
    assert "_schema" in refused(UpdateProfileParams(), CALLER)
    loaded = UpdateProfileParams().load({**CALLER, "email": " New@Example.ORG"})
    assert loaded == {**CALLER, "email": "new@example.org"}


@pytest.mark.parametrize(
    "change", [{"username": "ab"}, {"username": "has space"}, {"email": "x"}, {"email": None}]
)
def test_update_profile_applies_the_registration_rules(change: dict[str, Any]) -> None:
    assert set(change) <= set(refused(UpdateProfileParams(), {**CALLER, **change}))


def test_delete_account_requires_the_password() -> None:
    assert "password" in refused(DeleteAccountParams(), CALLER)
    assert "password" in refused(DeleteAccountParams(), {**CALLER, "password": ""})
