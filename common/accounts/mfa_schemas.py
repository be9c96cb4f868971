"""Validation of the second-factor methods' params.

Unlike the seed's schemas, these refuse fields they do not know (marshmallow's
RAISE): no client of the original system sends them, and a typo such as
``recovery-code`` is better answered 400 than silently ignored.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from common.accounts.schemas import MAX_OPAQUE_TOKEN_LENGTH, Text, client_view

__all__ = [
    "MfaStateParams",
    "MfaVerifyParams",
    "RecoveryCodesParams",
    "TotpConfirmBody",
    "TotpConfirmParams",
    "TotpDisableParams",
    "TotpEnrolConfirmParams",
    "TotpEnrolStartParams",
    "TotpStartBody",
    "TotpStartParams",
    "client_view",
]

TOTP_CODE_PATTERN = r"^[0-9]{6}$"
MAX_RECOVERY_CODE_LENGTH = 64


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Caller(_Strict):
    """Params the gateway adds from a verified token (as in common.accounts.schemas)."""

    user_id = fields.Integer(required=True, strict=True)
    session_id = fields.Integer(required=True, strict=True)


def _password() -> Text:
    return Text(required=True, validate=validate.Length(min=1, max=1024))


def _code(*, required: bool = True) -> Text:
    return Text(
        required=required,
        validate=validate.Regexp(r"\A[0-9]{6}\Z", error="Must be the 6 digits of a current code."),
        metadata={"pattern": TOTP_CODE_PATTERN, "description": "The authenticator app's code"},
    )


def _recovery_code() -> Text:
    return Text(
        validate=validate.Length(min=1, max=MAX_RECOVERY_CODE_LENGTH),
        metadata={"description": "One of the recovery codes (single use)"},
    )


def _mfa_token() -> Text:
    return Text(
        required=True,
        validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH),
        metadata={"description": "The mfa_token of the login answer"},
    )


def _exactly_one(data: dict[str, Any], names: tuple[str, ...]) -> None:
    given = [name for name in names if data.get(name) is not None]
    if len(given) != 1:
        message = f"Give exactly one of: {', '.join(names)}."
        raise ValidationError({name: [message] for name in names})


class MfaStateParams(_Caller):
    pass


class TotpStartParams(_Caller):
    """Enrolment by a signed-in user: the current password proves it is them."""

    password = _password()


class TotpEnrolStartParams(_Strict):
    """Enrolment required at login: the enrolment token stands for the first factor."""

    mfa_token = _mfa_token()


class TotpConfirmParams(_Caller):
    code = _code()


class TotpEnrolConfirmParams(_Strict):
    mfa_token = _mfa_token()
    code = _code()


def _one_of(*names: str) -> dict[str, Any]:
    """The rule of ``_exactly_one`` for the API document (``Meta.json_schema``)."""
    return {"oneOf": [{"required": [name]} for name in names]}


class _CodeOrRecoveryCode(_Strict):
    class Meta(_Strict.Meta):
        json_schema = _one_of("code", "recovery_code")

    code = _code(required=False)
    recovery_code = _recovery_code()

    @validates_schema(skip_on_field_errors=True)
    def one_code(self, data: dict[str, Any], **_: Any) -> None:
        _exactly_one(data, ("code", "recovery_code"))


class MfaVerifyParams(_CodeOrRecoveryCode):
    mfa_token = _mfa_token()


class TotpDisableParams(_Caller, _CodeOrRecoveryCode):
    password = _password()


class RecoveryCodesParams(_Caller):
    """Regenerating asks for the password or a code (either proves it is the owner)."""

    class Meta(_Strict.Meta):
        json_schema = _one_of("password", "code", "recovery_code")

    password = Text(validate=validate.Length(min=1, max=1024))
    code = _code(required=False)
    recovery_code = _recovery_code()

    @validates_schema(skip_on_field_errors=True)
    def one_proof(self, data: dict[str, Any], **_: Any) -> None:
        _exactly_one(data, ("password", "code", "recovery_code"))


class TotpStartBody(_Strict):
    """``POST /api/auth/mfa/totp`` as a client sends it: with a bearer token, the
    password; at a login that requires enrolment, the mfa_token instead (no bearer)."""

    class Meta(_Strict.Meta):
        json_schema = _one_of("password", "mfa_token")

    password = Text(validate=validate.Length(min=1, max=1024))
    mfa_token = Text(validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))


class TotpConfirmBody(_Strict):
    """``POST /api/auth/mfa/totp/confirm``: the code; with the mfa_token instead of a bearer."""

    code = _code()
    mfa_token = Text(validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))
