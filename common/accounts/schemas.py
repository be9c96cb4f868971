"""Validation of RPC params, with the seed's rules.

Workers load every request's params with its method's schema, so the rules
hold for every caller, not only for the gateway.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from common.security.passwords import MAX_PASSWORD_BYTES

_USERNAME_CHARS = r"[A-Za-z0-9_]{3,50}"
# \A and \Z, not ^ and $: "$" also matches before a trailing newline.
USERNAME = re.compile(rf"\A{_USERNAME_CHARS}\Z")
MIN_PASSWORD_LENGTH = 8
MAX_EMAIL_LENGTH = 100


# C0 and C1 controls (NUL included: PostgreSQL cannot store it) and lone
# surrogates (no UTF-8 form). Tabs and newlines too: no field of ours holds text
# where they belong, and in a name or a log line they only hide things.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same rule for the API document, as a lookahead that ECMA-262 and Python
# read alike (a "$" would let Python, and so the test generators, end a string
# with a newline). Without the surrogates: a pattern holding them is not a
# regular expression to most validators, and a client's UTF-8 JSON cannot carry
# them unescaped. A string field without a pattern of its own gets
# STORABLE_PATTERN; one that brings its own starts it with NOTHING_UNSTORABLE
# (a test checks every string of the document).
NOTHING_UNSTORABLE = r"(?![\s\S]*[\u0000-\u001f\u007f-\u009f])"
STORABLE_PATTERN = f"^{NOTHING_UNSTORABLE}"


class Text(fields.String):
    """A string every layer can store and show: no control characters, no lone
    surrogates. Every string field of every schema is one (a test checks)."""

    default_error_messages = {"unstorable": "Must not contain control characters."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metadata = {"pattern": STORABLE_PATTERN, **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _UNSTORABLE.search(text):
            raise self.make_error("unstorable")
        return text


class EmailText(Text, fields.Email):
    """An email address that is also storable ``Text``."""


def validate_password(password: str) -> None:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append("Must contain at least one letter and one digit.")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        problems.append(f"Must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8.")
    if problems:
        raise ValidationError(problems)


class _Params(Schema):
    class Meta:
        # Clients of the seed may send more than we read; ignoring it is safer
        # than failing them, and nothing unknown reaches a handler.
        unknown = EXCLUDE


def _username(*, required: bool = True) -> Text:
    return Text(
        required=required,
        validate=validate.Regexp(
            USERNAME, error="Must be 3-50 characters: letters, digits and underscores."
        ),
        # For the API document: JSON Schema patterns are ECMA-262, without \A and \Z.
        metadata={"pattern": f"^{NOTHING_UNSTORABLE}{_USERNAME_CHARS}$"},
    )


def _new_password() -> Text:
    return Text(
        required=True,
        validate=validate_password,
        metadata={
            "minLength": MIN_PASSWORD_LENGTH,
            "pattern": rf"^{NOTHING_UNSTORABLE}(?=.*[A-Za-z])(?=.*\d)",
            "description": f"At least {MIN_PASSWORD_LENGTH} characters with a letter and a digit;"
            f" at most {MAX_PASSWORD_BYTES} bytes in UTF-8.",
        },
    )


def _email(*, required: bool = True) -> EmailText:
    return EmailText(required=required, validate=validate.Length(max=MAX_EMAIL_LENGTH))


class _EmailNormalised(_Params):
    """Strips and lower-cases ``email`` when present, as registration does."""

    @pre_load
    def strip_email(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            return {**data, "email": data["email"].strip()}
        return data

    @post_load
    def lower_email(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("email") is not None:
            data["email"] = data["email"].lower()
        return data


class RegisterParams(_EmailNormalised):
    username = _username()
    email = _email()
    password = _new_password()


# For the API document (gateway_app/openapi.py merges Meta.json_schema):
# the rule of has_login and changes_something below, in JSON Schema.
_USERNAME_OR_EMAIL = {"anyOf": [{"required": ["username"]}, {"required": ["email"]}]}


class LoginParams(_Params):
    """``username`` may hold a username or an email; ``email`` works too."""

    class Meta(_Params.Meta):
        json_schema = _USERNAME_OR_EMAIL

    username = Text(validate=validate.Length(min=1, max=MAX_EMAIL_LENGTH))
    email = Text(validate=validate.Length(min=1, max=MAX_EMAIL_LENGTH))
    # Not checked against the password rules: a login only compares.
    password = Text(required=True, validate=validate.Length(min=1, max=1024))

    # Also when a field failed, so that {} names both missing fields.
    @validates_schema(skip_on_field_errors=False)
    def has_login(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("username") and not data.get("email"):
            raise ValidationError("Missing data for required field.", "username")

    @post_load
    def to_login(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "login": (data.get("username") or data["email"]).strip(),
            "password": data["password"],
        }


class _Authenticated(_Params):
    """Params the gateway adds from a verified token."""

    user_id = fields.Integer(required=True, strict=True)
    session_id = fields.Integer(required=True, strict=True)


# What a client never sends: the gateway adds these from the verified token.
TOKEN_FIELDS = tuple(_Authenticated._declared_fields)


def client_view(schema_cls: type[Schema]) -> Schema:
    """``schema_cls`` as a client sends it over HTTP: without the token's fields.

    The API document describes request bodies with this, so that the schema a
    worker validates with stays the one source of the rules.
    """
    added = [name for name in TOKEN_FIELDS if name in schema_cls._declared_fields]
    return schema_cls(exclude=added)


class ProfileParams(_Authenticated):
    pass


class ChangePasswordParams(_Authenticated):
    currentPassword = Text(required=True, validate=validate.Length(min=1, max=1024))
    newPassword = _new_password()

    @validates_schema
    def differs(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("currentPassword") and data.get("currentPassword") == data.get("newPassword"):
            raise ValidationError("Must differ from the current password.", "newPassword")


class SessionParams(_Params):
    session_id = fields.Integer(required=True, strict=True)


# Refresh and reset tokens are 43 characters; anything far longer is not ours.
MAX_OPAQUE_TOKEN_LENGTH = 512
LOGOUT_SCOPES = ("local", "others", "global")
MAX_AUDIT_LIMIT = 200


def _opaque_token() -> Text:
    return Text(required=True, validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))


class RefreshParams(_Params):
    refresh_token = _opaque_token()


class LogoutParams(_Authenticated):
    scope = Text(load_default="local", validate=validate.OneOf(LOGOUT_SCOPES))


# Session ids are PostgreSQL integers: a larger id names no session.
MAX_SESSION_ID = 2**31 - 1


class EndSessionParams(_Authenticated):
    """``target`` is the session to end; ``session_id`` the caller's own."""

    target = fields.Integer(required=True, strict=True)


class AuditParams(_Authenticated):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_AUDIT_LIMIT))


class ForgotPasswordParams(_EmailNormalised):
    email = _email()


class ResetPasswordParams(_Params):
    token = _opaque_token()
    newPassword = _new_password()


class UpdateProfileParams(_Authenticated, _EmailNormalised):
    class Meta(_Params.Meta):
        json_schema = _USERNAME_OR_EMAIL

    username = _username(required=False)
    email = _email(required=False)

    @validates_schema
    def changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if "username" not in data and "email" not in data:
            raise ValidationError("Give a username, an email, or both.")


class DeleteAccountParams(_Authenticated):
    password = Text(required=True, validate=validate.Length(min=1, max=1024))


class VerifyEmailParams(_Params):
    """The token of an emailed verification or change link."""

    token = _opaque_token()
