"""The bodies the admin API answers, for the API document (see api_schemas.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class _Reply(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))


class AdminUser(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    email_verified = fields.Boolean(required=True)
    disabled = fields.Boolean(required=True)
    last_login_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class AdminUsersReply(_Reply):
    users = fields.List(fields.Nested(AdminUser), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as cursor for the next page; null on the last one"},
    )


class AdminMfaState(Schema):
    required = fields.Boolean(required=True, metadata={"description": "users.mfa_required"})
    required_by_role = fields.Boolean(
        required=True, metadata={"description": "One of the user's roles requires MFA"}
    )
    enrolled = fields.Boolean(
        required=True,
        allow_none=True,
        metadata={"description": "Whether a second factor is enrolled; null when unknown"},
    )


class AdminSession(Schema):
    id = fields.Integer(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    last_used_at = fields.String(required=True, metadata={"format": "date-time"})
    user_agent = fields.String(required=True, allow_none=True)
    ip = fields.String(required=True, allow_none=True)
    amr = fields.List(fields.String(), required=True)


class AdminUserDetail(AdminUser):
    roles = fields.List(fields.String(), required=True)
    mfa = fields.Nested(AdminMfaState, required=True)
    sessions = fields.List(fields.Nested(AdminSession), required=True)


class AdminUserReply(_Reply):
    user = fields.Nested(AdminUserDetail, required=True)


class AdminActionReply(_Reply):
    message = fields.String(required=True)
    sessions_ended = fields.Integer(required=True)


class AdminRolesReply(_Reply):
    message = fields.String(required=True)
    changed = fields.Boolean(required=True, metadata={"description": "False if nothing changed"})
    roles = fields.List(fields.String(), required=True)


class AdminMfaReply(_Reply):
    message = fields.String(required=True)
    mfa_required = fields.Boolean(required=True)
