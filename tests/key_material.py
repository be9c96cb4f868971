"""Signing keys for tests, made with ``cryptography`` at test time into PEM files.

The key id is computed here with PyJWT's JWK export and RFC 7638 written out
again, independently of ``common.security.jwk``, so tests check our kid
against a second implementation rather than against itself.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    required = {"OKP": ["crv", "kty", "x"], "RSA": ["e", "kty", "n"], "oct": ["k", "kty"]}
    canonical = "{" + ",".join(f'"{m}":"{jwk[m]}"' for m in required[jwk["kty"]]) + "}"
    return b64url(hashlib.sha256(canonical.encode()).digest())


def secret_kid(secret: str) -> str:
    """The kid of an HS256 secret: the thumbprint of its ``oct`` JWK."""
    return rfc7638_thumbprint({"kty": "oct", "k": b64url(secret.encode())})


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    private_key: PrivateKey
    private_path: Path
    public_path: Path

    @property
    def public_pem(self) -> bytes:
        return self.public_path.read_bytes()

    @property
    def public_jwk(self) -> dict[str, Any]:
        exporter = OKPAlgorithm if self.algorithm == "EdDSA" else RSAAlgorithm
        jwk: dict[str, Any] = exporter.to_jwk(self.private_key.public_key(), as_dict=True)
        # PyJWT adds key_ops for RSA; the key itself is kty, crv/x or n/e.
        return {name: value for name, value in jwk.items() if name != "key_ops"}

    @property
    def kid(self) -> str:
        return rfc7638_thumbprint(self.public_jwk)


def new_private_key(algorithm: str, *, rsa_bits: int = 2048) -> PrivateKey:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def write_key_pair(directory: Path, algorithm: str, *, rsa_bits: int = 2048) -> KeyPair:
    """A fresh key pair as ``<name>.pem`` (private, PKCS#8) and ``<name>.pub.pem``."""
    key = new_private_key(algorithm, rsa_bits=rsa_bits)
    name = f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
    private_path = directory / f"{name}.pem"
    public_path = directory / f"{name}.pub.pem"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(algorithm, key, private_path, public_path)
