"""``GET /.well-known/jwks.json``: the public keys that verify our tokens.

Third parties verify a token with a standard JWT library from this document
alone, picking the key by the token's ``kid``. It lists the current key and
the previous ones of a rotation; with HS256 it is empty (the secret is never
published).
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.config import Settings
from gateway_app.api_doc import documented
from gateway_app.api_schemas import JwksReply
from gateway_app.responses import json_response

JWKS_PATH = "/.well-known/jwks.json"


def register_key_routes(app: Sanic[Any, Any]) -> None:
    app.add_route(jwks, JWKS_PATH, methods=["GET"])


@documented("Public keys that verify our tokens (JWK Set)", responses={200: JwksReply})
async def jwks(request: Request) -> HTTPResponse:
    settings: Settings = request.app.ctx.settings
    return json_response(
        request.app.ctx.verifier.jwks(),
        headers={"Cache-Control": f"public, max-age={int(settings.auth.jwks_max_age)}"},
    )
