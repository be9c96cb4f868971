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
