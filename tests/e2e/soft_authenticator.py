"""A software WebAuthn authenticator for the API tests: ES256 keys from `cryptography`.

It answers the options the gateway gives the way a browser and a platform
authenticator would (a "none" attestation, user present and verified), with
knobs to answer wrongly: another origin, an old counter, someone else's key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:3000"
RP_ID = "localhost"
FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Passkey:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    rp_id: str = RP_ID
    origin: str = ORIGIN
    passkeys: list[Passkey] = field(default_factory=list)

    def create(
        self, public_key: dict[str, Any], *, origin: str | None = None, verified: bool = True
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a new passkey, as the JSON a page would send."""
        assert public_key["rp"]["id"] == self.rp_id
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = {
            1: 2,
            3: -7,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        passkey = Passkey(os.urandom(32), key, unb64url(public_key["user"]["id"]))
        attested = bytes(16) + struct.pack(">H", len(passkey.credential_id)) + passkey.credential_id
        auth_data = (
            self._rp_hash()
            + bytes([FLAG_UP | (FLAG_UV if verified else 0) | FLAG_AT])
            + struct.pack(">I", 0)
            + attested
            + cbor2.dumps(cose)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.passkeys.append(passkey)
        return {
            "id": b64url(passkey.credential_id),
            "rawId": b64url(passkey.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": self._client_data("webauthn.create", public_key, origin),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        public_key: dict[str, Any],
        passkey: Passkey | None = None,
        *,
        origin: str | None = None,
        sign_count: int | None = None,
        verified: bool = True,
    ) -> dict[str, Any]:
        """navigator.credentials.get() with ``passkey`` (default: the newest), counter + 1."""
        passkey = passkey or self.passkeys[-1]
        passkey.sign_count = passkey.sign_count + 1 if sign_count is None else sign_count
        auth_data = (
            self._rp_hash()
            + bytes([FLAG_UP | (FLAG_UV if verified else 0)])
            + struct.pack(">I", passkey.sign_count)
        )
        client_data = self._client_data("webauthn.get", public_key, origin)
        signed = auth_data + hashlib.sha256(unb64url(client_data)).digest()
        return {
            "id": b64url(passkey.credential_id),
            "rawId": b64url(passkey.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": client_data,
                "authenticatorData": b64url(auth_data),
                "signature": b64url(passkey.key.sign(signed, ec.ECDSA(hashes.SHA256()))),
                "userHandle": b64url(passkey.user_handle),
            },
        }

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()

    def _client_data(self, kind: str, public_key: dict[str, Any], origin: str | None) -> str:
        data = {
            "type": kind,
            "challenge": public_key["challenge"],
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return b64url(json.dumps(data).encode())
