"""What the passkey routes answer, as marshmallow schemas for the API document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway_app.api_schemas import MessageReply


class _Success(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))


class PasskeyOptionsReply(_Success):
    """A ceremony's options: give ``publicKey`` to the browser, send ``ceremony`` back."""

    ceremony = fields.String(
        required=True,
        metadata={"description": "Names this ceremony's challenge in the call that answers it"},
    )
    publicKey = fields.Dict(
        required=True,
        metadata={
            "description": "PublicKeyCredentialCreationOptions (register) or "
            "PublicKeyCredentialRequestOptions (login), binary members in base64url"
        },
    )


class Passkey(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    transports = fields.List(fields.String(), required=True)
    backed_up = fields.Boolean(
        required=True, metadata={"description": "Synced to other devices (a multi-device passkey)"}
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    last_used_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class PasskeyReply(MessageReply):
    passkey = fields.Nested(Passkey, required=True)


class PasskeysReply(_Success):
    passkeys = fields.List(fields.Nested(Passkey), required=True)
