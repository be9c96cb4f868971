"""The bodies the second-factor routes answer, for the API document (see api_schemas.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway_app.api_schemas import LoginReply, LoginUser, MessageReply

_METHODS = fields.List(
    fields.String(validate=validate.OneOf(["totp", "recovery_code", "webauthn"])),
    required=True,
)
_MFA_TOKEN = fields.String(
    metadata={"description": "Single use, short-lived; POST it to /api/auth/mfa/verify"}
)
_RECOVERY_CODES = fields.List(
    fields.String(),
    required=True,
    metadata={"description": "10 single-use codes, shown this once (stored hashed)"},
)


class LoginAnswer(MessageReply):
    """Login: the tokens (as LoginReply), or a second step first, with no token at all."""

    token = fields.String(metadata={"description": "Bearer access token (JWT)"})
    user = fields.Nested(LoginUser)
    refresh_token = fields.String()
    expires_in = fields.Integer(
        metadata={"description": "Seconds until the access token (or the mfa_token) expires"}
    )
    token_type = fields.String(validate=validate.Equal("Bearer"))
    mfa_required = fields.Boolean(
        metadata={"description": "A second factor is needed: POST /api/auth/mfa/verify"}
    )
    mfa_enrolment_required = fields.Boolean(
        metadata={"description": "A second factor is required and missing: enrol with the token"}
    )
    mfa_token = _MFA_TOKEN
    methods = fields.List(fields.String(), metadata={"description": "What the next step accepts"})


class MfaVerifyReply(LoginReply):
    recovery_codes_left = fields.Integer(
        metadata={"description": "When a recovery code was used: how many remain"}
    )


class TotpState(Schema):
    enabled = fields.Boolean(required=True)
    pending = fields.Boolean(
        required=True, metadata={"description": "Enrolment started, not confirmed"}
    )


class MfaState(Schema):
    methods = _METHODS
    totp = fields.Nested(TotpState, required=True)
    recovery_codes_left = fields.Integer(required=True)
    required = fields.Boolean(
        required=True, metadata={"description": "A second factor is required (user or role)"}
    )


class MfaStateReply(MessageReply):
    mfa = fields.Nested(MfaState, required=True)


class TotpEnrolmentReply(MessageReply):
    secret = fields.String(required=True, metadata={"description": "Base32 TOTP secret"})
    otpauth_uri = fields.String(required=True, metadata={"description": "otpauth://totp/..."})
    qr_svg = fields.String(
        required=True, metadata={"description": "The URI as a QR code, an SVG document"}
    )


class RecoveryCodesReply(MessageReply):
    recovery_codes = _RECOVERY_CODES


class TotpEnabledReply(RecoveryCodesReply):
    """Confirmed with a bearer: the codes; with an enrolment token: the login answer too."""

    token = fields.String()
    user = fields.Nested(LoginUser)
    refresh_token = fields.String()
    expires_in = fields.Integer()
    token_type = fields.String(validate=validate.Equal("Bearer"))


class TotpDisabledReply(MessageReply):
    sessions_ended = fields.Integer(required=True)
