"""Params of the OpenID Connect provider's RPC methods (auth_app/oidc/).

The gateway passes OAuth parameters through as the strings the client sent;
the worker judges them, so that every refusal is decided (and audited) in one
place. Lengths are bounded here: anything longer is ``invalid_request``.
"""

from __future__ import annotations

from marshmallow import fields, validate

from common.accounts.schemas import MAX_OPAQUE_TOKEN_LENGTH, Text, _Authenticated, _Params

MAX_PARAM = 2048
MAX_JWT = 8192
# A registered URI and how many a client may have: a registration stays a
# small body (under MAX_BODY_SIZE, whatever is sent).
MAX_URI = 512
MAX_URIS = 10


def _param(length: int = MAX_PARAM) -> Text:
    return Text(load_default=None, allow_none=True, validate=validate.Length(max=length))


class _ClientAuth(_Params):
    """How the client authenticated: basic, post or none (the gateway read which)."""

    client_id = _param(256)
    client_secret = _param(MAX_OPAQUE_TOKEN_LENGTH)
    auth_method = Text(required=True, validate=validate.OneOf(("basic", "post", "none")))


class AuthorizeParams(_Params):
    client_id = _param(256)
    redirect_uri = _param()
    response_type = _param(64)
    scope = _param()
    state = _param()
    nonce = _param()
    code_challenge = _param(256)
    code_challenge_method = _param(64)
    prompt = _param(64)
    # Parameters the request repeated: RFC 6749 3.1 refuses them.
    duplicates = fields.List(Text(validate=validate.Length(max=64)), load_default=list)
    browser = _param(MAX_OPAQUE_TOKEN_LENGTH)


class AttachParams(_Params):
    request_id = Text(required=True, validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))
    access_token = Text(required=True, validate=validate.Length(min=1, max=MAX_JWT))


class ConsentParams(_Params):
    request_id = Text(required=True, validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))
    browser = _param(MAX_OPAQUE_TOKEN_LENGTH)
    allow = fields.Boolean(required=True)


class PendingParams(_Params):
    request_id = Text(required=True, validate=validate.Length(min=1, max=MAX_OPAQUE_TOKEN_LENGTH))


class TokenParams(_ClientAuth):
    grant_type = _param(128)
    # The form's "code", renamed so that log redaction can name it without
    # hiding every error code.
    authorization_code = _param(MAX_OPAQUE_TOKEN_LENGTH)
    redirect_uri = _param()
    code_verifier = _param(256)
    refresh_token = _param(MAX_OPAQUE_TOKEN_LENGTH)
    scope = _param()
    duplicates = fields.List(Text(validate=validate.Length(max=64)), load_default=list)


class TokenUseParams(_ClientAuth):
    """Revocation (RFC 7009) and introspection (RFC 7662)."""

    token = _param(MAX_JWT)
    token_type_hint = _param(64)


class UserInfoParams(_Params):
    access_token = Text(required=True, validate=validate.Length(min=1, max=MAX_JWT))


class EndSessionParams(_Params):
    browser = _param(MAX_OPAQUE_TOKEN_LENGTH)
    id_token_hint = _param(MAX_JWT)
    client_id = _param(256)
    post_logout_redirect_uri = _param()
    state = _param()


class RefusalParams(_Params):
    """A refusal the gateway decided alone (a JSON body on a form route), to audit."""

    endpoint = Text(required=True, validate=validate.Length(min=1, max=64))
    error = Text(required=True, validate=validate.Length(min=1, max=64))
    description = Text(required=True, validate=validate.Length(max=512))


class ClientIdParams(_Authenticated):
    client_id = Text(required=True, validate=validate.Length(min=1, max=256))


class NewClientParams(_Authenticated):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    redirect_uris = fields.List(
        Text(validate=validate.Length(min=1, max=MAX_URI)),
        required=True,
        validate=validate.Length(min=1, max=MAX_URIS),
    )
    post_logout_redirect_uris = fields.List(
        Text(validate=validate.Length(min=1, max=MAX_URI)),
        load_default=list,
        validate=validate.Length(max=MAX_URIS),
    )
    scopes = fields.List(
        Text(validate=validate.Length(min=1, max=64)),
        load_default=lambda: ["openid", "profile", "email", "offline_access"],
        validate=validate.Length(min=1, max=20),
    )
    public = fields.Boolean(load_default=False)


class AdminParams(_Authenticated):
    """An admin call with nothing but the caller."""
