"""Params of the admin API's methods (the actor's user_id and session_id come
from the token, like every bearer call's)."""

from __future__ import annotations

from marshmallow import fields, validate

from common.accounts.roles import ROLE_NAME
from common.accounts.schemas import MAX_SESSION_ID, Text, _Authenticated

ADMIN_SORTS = ("created_at", "username", "email")
MAX_ADMIN_PAGE = 100
MAX_CURSOR_LENGTH = 512
MAX_SEARCH_LENGTH = 100


def _flag() -> fields.Boolean:
    # JSON true or false only: not "yes", 1 or "on".
    return fields.Boolean(required=True, truthy={True}, falsy={False})


def _role() -> Text:
    return Text(
        required=True,
        validate=validate.Regexp(ROLE_NAME, error="Not a role name."),
        metadata={"pattern": "^[a-z][a-z0-9_-]{0,49}$"},
    )


class AdminListParams(_Authenticated):
    q = Text(
        validate=validate.Length(min=1, max=MAX_SEARCH_LENGTH),
        metadata={"description": "Part of a username or email, case-insensitively"},
    )
    sort = Text(
        load_default="created_at",
        validate=validate.OneOf(ADMIN_SORTS),
        metadata={"description": "created_at: newest first; username, email: A to Z"},
    )
    cursor = Text(
        validate=validate.Length(min=1, max=MAX_CURSOR_LENGTH),
        metadata={"description": "next_cursor of the previous page, with the same q and sort"},
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_ADMIN_PAGE))


class AdminTargetParams(_Authenticated):
    """``target`` is the user acted on; ``user_id`` the admin acting."""

    target = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_SESSION_ID)
    )


class AdminRoleParams(AdminTargetParams):
    role = _role()


class AdminUserMfaParams(AdminTargetParams):
    required = _flag()


class AdminRoleMfaParams(_Authenticated):
    role = _role()
    required = _flag()


class ForbiddenParams(_Authenticated):
    """A gateway's report of a call refused for a missing role."""

    role = _role()
    action = Text(required=True, validate=validate.Length(min=1, max=200))
