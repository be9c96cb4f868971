"""Params of the passkey (WebAuthn) methods.

The credential a browser returns is ``PublicKeyCredential`` in its JSON form
(``toJSON()``, or the same fields built by hand): binary members as base64url
text. Unknown fields are refused at every level; the few that ``toJSON()``
adds and no check needs are accepted and left unread.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from common.accounts.schemas import MAX_EMAIL_LENGTH, MAX_OPAQUE_TOKEN_LENGTH, Text

_BASE64URL = r"^[A-Za-z0-9_-]+={0,2}$"
# A credential id is at most 1023 bytes (WebAuthn Level 3), 1364 in base64url.
MAX_CREDENTIAL_ID_TEXT = 1400
# Attestation objects with certificate chains run to a few KiB; the body limit caps the rest.
MAX_BINARY_TEXT = 16384
MAX_PASSKEY_NAME = 64
MAX_CEREMONY_LENGTH = 128
AUTHENTICATOR_ATTACHMENTS = ("platform", "cross-platform")


def _base64url(max_length: int, *, required: bool = True, allow_none: bool = False) -> Text:
    return Text(
        required=required,
        allow_none=allow_none,
        validate=[
            validate.Length(min=1, max=max_length),
            validate.Regexp(_BASE64URL, error="Must be base64url text."),
        ],
        metadata={"pattern": _BASE64URL},
    )


class WholeNumber(fields.Integer):
    """An integer as JSON Schema counts one: ``-7`` or ``-7.0``, never ``"-7"``,
    ``true`` or ``-7.5`` (a strict Integer refuses ``-7.0``, which the document allows)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Caller(_Strict):
    """Added by the gateway from the verified token (common.accounts.schemas.TOKEN_FIELDS)."""

    user_id = fields.Integer(required=True, strict=True)
    session_id = fields.Integer(required=True, strict=True)


class _Credential(_Strict):
    id = _base64url(MAX_CREDENTIAL_ID_TEXT)
    rawId = _base64url(MAX_CREDENTIAL_ID_TEXT)
    type = Text(required=True, validate=validate.Equal("public-key"))
    authenticatorAttachment = Text(
        allow_none=True, validate=validate.OneOf(AUTHENTICATOR_ATTACHMENTS)
    )
    # Extension outputs: none is requested, so none is read.
    clientExtensionResults = fields.Dict(keys=Text(validate=validate.Length(max=64)))


class AttestationResponse(_Strict):
    clientDataJSON = _base64url(MAX_BINARY_TEXT)
    attestationObject = _base64url(MAX_BINARY_TEXT)
    transports = fields.List(
        Text(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=10)
    )
    # What toJSON() adds, all inside attestationObject already.
    authenticatorData = _base64url(MAX_BINARY_TEXT, required=False)
    publicKey = _base64url(MAX_BINARY_TEXT, required=False)
    publicKeyAlgorithm = WholeNumber()


class RegistrationCredential(_Credential):
    response = fields.Nested(AttestationResponse, required=True)


class AssertionResponse(_Strict):
    clientDataJSON = _base64url(MAX_BINARY_TEXT)
    authenticatorData = _base64url(MAX_BINARY_TEXT)
    signature = _base64url(MAX_BINARY_TEXT)
    userHandle = _base64url(MAX_CREDENTIAL_ID_TEXT, required=False, allow_none=True)


class AuthenticationCredential(_Credential):
    response = fields.Nested(AssertionResponse, required=True)


def _ceremony() -> Text:
    return Text(
        required=True,
        validate=validate.Length(min=1, max=MAX_CEREMONY_LENGTH),
        metadata={"description": "The `ceremony` of the options call this answers"},
    )


def _mfa_token() -> Text:
    return Text(
        validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH),
        metadata={"description": "From a login that answered mfa_required: finish that login"},
    )


class PasskeyOwnerParams(_Caller):
    """register/options and the list: the caller only."""


class RegisterPasskeyParams(_Caller):
    ceremony = _ceremony()
    credential = fields.Nested(RegistrationCredential, required=True)
    name = Text(
        load_default=None,
        validate=validate.Length(min=1, max=MAX_PASSKEY_NAME),
        metadata={"description": "How the list shows it; default: 'Passkey' and the date"},
    )


class PasskeyLoginOptionsParams(_Strict):
    """Optional: whose passkeys to offer (else any discoverable one), or a pending login."""

    class Meta(_Strict.Meta):
        # The rule of one_way, for the API document.
        json_schema = {
            "not": {
                "anyOf": [
                    {"required": ["mfa_token", "username"]},
                    {"required": ["mfa_token", "email"]},
                ]
            }
        }

    username = Text(validate=validate.Length(min=1, max=MAX_EMAIL_LENGTH))
    email = Text(validate=validate.Length(min=1, max=MAX_EMAIL_LENGTH))
    mfa_token = _mfa_token()

    @validates_schema
    def one_way(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("mfa_token") and (data.get("username") or data.get("email")):
            raise ValidationError("Give a username or an mfa_token, not both.", "mfa_token")


class PasskeyLoginParams(_Strict):
    ceremony = _ceremony()
    credential = fields.Nested(AuthenticationCredential, required=True)
    mfa_token = _mfa_token()


class DeletePasskeyParams(_Caller):
    """``target`` is the id of the caller's passkey to delete."""

    target = fields.Integer(required=True, strict=True)
