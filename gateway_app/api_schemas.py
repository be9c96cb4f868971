"""The bodies the gateway answers, as marshmallow schemas for the API document.

Request bodies are documented from the schemas the workers validate with
(``common.accounts.schemas``); these describe what comes back, in the seed's shapes.
They are only read by the document builder: handlers build plain dicts.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class _Reply(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))


class User(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class LoginUser(Schema):
    """The user as login returns it (the seed's login shape has no created_at)."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True)


class MessageReply(_Reply):
    message = fields.String(required=True)


class AccountReply(MessageReply):
    """Register and profile update: a message and the account as it now is."""

    user = fields.Nested(User, required=True)


class LoginReply(MessageReply):
    """Login and refresh: the seed's token and user, plus the refresh token."""

    token = fields.String(required=True, metadata={"description": "Bearer access token (JWT)"})
    user = fields.Nested(LoginUser, required=True)
    refresh_token = fields.String(
        required=True, metadata={"description": "Single use: POST it to /api/auth/refresh"}
    )
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds until the access token expires"}
    )
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))


class ProfileUser(User):
    """The profile adds the state of the address (verified email, issue 12)."""

    email_verified = fields.Boolean(required=True)
    pending_email = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "A new address waiting for its emailed link, or null"},
    )


class ProfileReply(_Reply):
    user = fields.Nested(ProfileUser, required=True)


class ProfileUpdateReply(AccountReply):
    pending_email = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The new address, once its link is followed; null if none"},
    )


class VerifiedUser(User):
    email_verified = fields.Boolean(required=True, validate=validate.Equal(True))


class VerifiedReply(MessageReply):
    user = fields.Nested(VerifiedUser, required=True)


class ResendReply(MessageReply):
    sent = fields.Boolean(required=True)


class Session(Schema):
    id = fields.Integer(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    last_used_at = fields.String(required=True, metadata={"format": "date-time"})
    user_agent = fields.String(required=True, allow_none=True)
    ip = fields.String(required=True, allow_none=True)
    current = fields.Boolean(required=True, metadata={"description": "The session of this token"})


class SessionsReply(_Reply):
    sessions = fields.List(fields.Nested(Session), required=True)


class AuditEvent(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "e.g. login.succeeded"})
    occurred_at = fields.String(required=True, metadata={"format": "date-time"})
    ip = fields.String(required=True, allow_none=True)
    user_agent = fields.String(required=True, allow_none=True)
    request_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


class AuditReply(_Reply):
    events = fields.List(fields.Nested(AuditEvent), required=True)


class ServicesReply(_Reply):
    services = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Dict()),
        required=True,
        metadata={"description": "Live instances by service name"},
    )


class HealthReply(Schema):
    class Meta:
        # Operational detail grows with the service; clients read status first.
        unknown = INCLUDE

    status = fields.String(required=True, validate=validate.OneOf(["healthy", "unhealthy"]))
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    service = fields.String(required=True)
    instance = fields.String(required=True)
    dependencies = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    inflight = fields.Integer(required=True)
    rpc = fields.Dict(metadata={"description": "RPC counters of this gateway process"})


class AliveReply(Schema):
    status = fields.String(required=True, validate=validate.Equal("alive"))


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "Stable error code"})
    message = fields.String(required=True)
    details = fields.Dict(
        required=True, metadata={"description": "Per-field messages for validation errors"}
    )


class ErrorReply(Schema):
    """The one shape of every error, from any layer."""

    success = fields.Boolean(required=True, validate=validate.Equal(False))
    error = fields.Nested(ErrorDetail, required=True)
    request_id = fields.String(required=True)


class PublicJwk(Schema):
    """One public key (RFC 7517): Ed25519 keys carry crv and x, RSA keys n and e."""

    kty = fields.String(required=True, validate=validate.OneOf(["OKP", "RSA"]))
    kid = fields.String(required=True)
    alg = fields.String(required=True)
    use = fields.String(required=True, validate=validate.Equal("sig"))
    crv = fields.String()
    x = fields.String()
    n = fields.String()
    e = fields.String()


class JwksReply(Schema):
    keys = fields.List(
        fields.Nested(PublicJwk),
        required=True,
        metadata={"description": "Empty while tokens are HMAC-signed (HS256)"},
    )
