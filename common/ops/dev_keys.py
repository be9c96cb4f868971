"""``gatehouse up`` with an OpenID Connect provider out of the box.

ID tokens need an asymmetric key (apps verify them with the JWKS). When no
key is configured, ``gatehouse up`` makes an Ed25519 pair once in its data
folder (private key 0600) and signs with it; a configured JWT_ALGORITHM or
key file is left alone, and so is OIDC_ENABLED when set.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_VARIABLES = ("JWT_ALGORITHM", "JWT_PRIVATE_KEY_FILE", "JWT_PUBLIC_KEY_FILE")


def ensure_dev_keys(data: Path, env: dict[str, str], port: int) -> None:
    """Set the key, provider and issuer variables in ``env`` unless configured."""
    env.setdefault("PUBLIC_URL", f"http://localhost:{port}")
    if any(env.get(name) for name in KEY_VARIABLES):
        return
    folder = data / "keys"
    private, public = folder / "jwt-ed25519.pem", folder / "jwt-ed25519.pub.pem"
    if not private.exists() or not public.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        print(f"gatehouse: generated an Ed25519 signing key pair in {folder}")
    env["JWT_ALGORITHM"] = "EdDSA"
    env["JWT_PRIVATE_KEY_FILE"] = str(private)
    env["JWT_PUBLIC_KEY_FILE"] = str(public)
    env.setdefault("OIDC_ENABLED", "true")
