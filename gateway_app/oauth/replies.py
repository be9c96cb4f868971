"""Reply bodies of the provider's JSON API routes, for the API document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class _Reply(Schema):
    success = fields.Boolean(required=True, validate=validate.Equal(True))


class App(Schema):
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    granted_at = fields.String(required=True, metadata={"format": "date-time"})


class AppsReply(_Reply):
    apps = fields.List(fields.Nested(App), required=True)


class Client(Schema):
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    public = fields.Boolean(required=True)
    redirect_uris = fields.List(fields.String(), required=True)
    post_logout_redirect_uris = fields.List(fields.String(), required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class ClientsReply(_Reply):
    clients = fields.List(fields.Nested(Client), required=True)


class ClientReply(_Reply):
    client = fields.Nested(Client, required=True)


class NewClientReply(ClientReply):
    client_secret = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Shown once; null for a public client"},
    )


class SecretReply(_Reply):
    client_id = fields.String(required=True)
    client_secret = fields.String(required=True, metadata={"description": "Shown once"})


class OAuthErrorReply(Schema):
    """RFC 6749 5.2's error shape (not Gatehouse's): the /oauth JSON routes answer it."""

    error = fields.String(required=True)
    error_description = fields.String(required=True)


class TokenReply(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
    id_token = fields.String(metadata={"description": "When the openid scope was granted"})
    refresh_token = fields.String(
        metadata={"description": "When offline_access was granted; rotated on every use"}
    )


class IntrospectionReply(Schema):
    """RFC 7662 2.2: only ``active`` for a token that does not count (any more)."""

    active = fields.Boolean(required=True)
    scope = fields.String()
    client_id = fields.String()
    sub = fields.String()
    exp = fields.Integer()
    iat = fields.Integer()
    iss = fields.String()
    aud = fields.String()
    token_type = fields.String()


class UserInfoReply(Schema):
    sub = fields.String(required=True)
    name = fields.String()
    preferred_username = fields.String()
    email = fields.String()
    email_verified = fields.Boolean()


class EmptyReply(Schema):
    """RFC 7009 2.2: an empty object, for a known token or not."""


class DiscoveryReply(Schema):
    issuer = fields.String(required=True)
    authorization_endpoint = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    userinfo_endpoint = fields.String(required=True)
    jwks_uri = fields.String(required=True)
    revocation_endpoint = fields.String(required=True)
    introspection_endpoint = fields.String(required=True)
    end_session_endpoint = fields.String(required=True)
    scopes_supported = fields.List(fields.String(), required=True)
    response_types_supported = fields.List(fields.String(), required=True)
    response_modes_supported = fields.List(fields.String(), required=True)
    grant_types_supported = fields.List(fields.String(), required=True)
    subject_types_supported = fields.List(fields.String(), required=True)
    id_token_signing_alg_values_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    revocation_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    introspection_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    code_challenge_methods_supported = fields.List(fields.String(), required=True)
    claims_supported = fields.List(fields.String(), required=True)
    prompt_values_supported = fields.List(fields.String(), required=True)
    authorization_response_iss_parameter_supported = fields.Boolean(required=True)
    request_parameter_supported = fields.Boolean(required=True)
    request_uri_parameter_supported = fields.Boolean(required=True)
    claims_parameter_supported = fields.Boolean(required=True)
