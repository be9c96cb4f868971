"""A tiny web app on its own loopback port that signs people in with Gatehouse.

Written the way a team would wire any OpenID Connect provider by hand:
``/`` links to the authorization endpoint (PKCE S256, state, nonce);
``/callback`` checks the state, trades the code at the token endpoint with
its client secret, reads UserInfo, and greets the person by name.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx


class RelyingParty:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.client_id = ""
        self.client_secret = ""
        self._pending: dict[str, tuple[str, str]] = {}  # state -> (verifier, nonce)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> RelyingParty:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def login_link(self) -> str:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        self._pending[state] = (verifier, nonce)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid profile email",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
        return f"{self.issuer}/oauth/authorize?{query}"

    def finish(self, query: dict[str, str]) -> str:
        """The callback: the greeting page, or what went wrong."""
        if "error" in query:
            return f'<p id="error">{escape(query["error"])}</p>'
        pending = self._pending.pop(query.get("state", ""), None)
        if pending is None:
            return '<p id="error">unknown state</p>'
        verifier, _ = pending
        with httpx.Client(timeout=15) as http:
            tokens = http.post(
                f"{self.issuer}/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": query.get("code", ""),
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": verifier,
                },
                auth=(self.client_id, self.client_secret),
            ).json()
            info = http.get(
                f"{self.issuer}/oauth/userinfo",
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            ).json()
        return f'<p id="greeting">Hello, {escape(info["name"])}</p>'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/callback":
                    body = app.finish(dict(parse_qsl(parts.query)))
                else:
                    body = f'<a id="sign-in" href="{escape(app.login_link())}">Sign in</a>'
                page = f"<!doctype html><title>Team app</title>{body}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
