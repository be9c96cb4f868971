"""Token keys: loaded from settings, each with its id and its one algorithm.

A key never takes its algorithm from a token: an Ed25519 key verifies EdDSA,
an RSA key RS256, the shared secret HS256, and nothing else. Every problem
with a key file is a ConfigError naming the variable, raised at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)

from common.config import ConfigError, Settings
from common.security.jwk import PublicKey, public_jwk, secret_jwk, thumbprint

PrivateKey = Ed25519PrivateKey | RSAPrivateKey
MIN_RSA_BITS = 2048
KEY_TYPES: dict[str, tuple[type[PrivateKey], type[PublicKey]]] = {
    "EdDSA": (Ed25519PrivateKey, Ed25519PublicKey),
    "RS256": (RSAPrivateKey, RSAPublicKey),
}
KEY_NAMES = {"EdDSA": "an Ed25519", "RS256": "an RSA"}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What checks one key's signatures: a public key, or for HS256 the shared secret."""

    kid: str
    algorithm: str
    key: PublicKey | bytes

    def public_jwk(self) -> dict[str, str] | None:
        """The JWK Set entry for this key; None for a shared secret (never published)."""
        if isinstance(self.key, bytes):
            return None
        return {**public_jwk(self.key), "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """What signs tokens: a private key, or for HS256 the shared secret."""

    kid: str
    algorithm: str
    key: PrivateKey | bytes

    def verification_key(self) -> VerificationKey:
        public = self.key if isinstance(self.key, bytes) else self.key.public_key()
        return VerificationKey(self.kid, self.algorithm, public)


def hmac_key(secret: str) -> SigningKey:
    """The HS256 key of a shared secret; its kid is a hash, never the secret."""
    raw = secret.encode("utf-8")
    return SigningKey(thumbprint(secret_jwk(raw)), "HS256", raw)


def public_key(key: PublicKey, *, variable: str) -> VerificationKey:
    """A public key with its thumbprint and the one algorithm its type allows."""
    _check_size(key, variable)
    algorithm = "EdDSA" if isinstance(key, Ed25519PublicKey) else "RS256"
    return VerificationKey(thumbprint(public_jwk(key)), algorithm, key)


def load_private_key(path: str, algorithm: str, *, variable: str) -> SigningKey:
    """The private key in PEM file ``path``, which must suit ``algorithm``."""
    pem = _read(path, variable)
    try:
        key = load_pem_private_key(pem, password=None)
    except TypeError:
        raise ConfigError(f"{variable} ({path}) is encrypted; give an unencrypted PEM") from None
    except ValueError:
        raise ConfigError(f"{variable} ({path}) is not a PEM private key") from None
    if not isinstance(key, KEY_TYPES[algorithm][0]):
        raise ConfigError(
            f"{variable} ({path}) is not {KEY_NAMES[algorithm]} private key, "
            f"which JWT_ALGORITHM={algorithm} needs"
        )
    verification = public_key(key.public_key(), variable=variable)
    return SigningKey(verification.kid, algorithm, key)


def load_public_key(path: str, *, variable: str) -> VerificationKey:
    """The Ed25519 or RSA public key in PEM file ``path``."""
    pem = _read(path, variable)
    if b"PRIVATE KEY" in pem:
        raise ConfigError(f"{variable} ({path}) holds a private key; give its public key only")
    try:
        key = load_pem_public_key(pem)
    except ValueError:
        raise ConfigError(f"{variable} ({path}) is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey | RSAPublicKey):
        raise ConfigError(f"{variable} ({path}) is neither an Ed25519 nor an RSA public key")
    return public_key(key, variable=variable)


def signing_key(settings: Settings) -> SigningKey:
    """The auth worker's key: the shared secret, or JWT_PRIVATE_KEY_FILE."""
    if settings.auth.jwt_algorithm == "HS256":
        return hmac_key(settings.auth.jwt_secret)
    if settings.auth.jwt_private_key_file is None:
        raise ConfigError(
            "JWT_PRIVATE_KEY_FILE is required to sign with "
            f"JWT_ALGORITHM={settings.auth.jwt_algorithm}"
        )
    key = load_private_key(
        settings.auth.jwt_private_key_file,
        settings.auth.jwt_algorithm,
        variable="JWT_PRIVATE_KEY_FILE",
    )
    if settings.auth.jwt_public_key_file is not None:
        published = load_public_key(
            settings.auth.jwt_public_key_file, variable="JWT_PUBLIC_KEY_FILE"
        )
        if published.kid != key.kid:
            raise ConfigError(
                "JWT_PUBLIC_KEY_FILE is not the public half of JWT_PRIVATE_KEY_FILE: "
                "the gateway would refuse every token"
            )
    return key


def current_verification_key(settings: Settings) -> VerificationKey:
    """The gateway's key for current tokens, holding no private part when one can be avoided.

    JWT_PUBLIC_KEY_FILE is the way; deriving the public key from
    JWT_PRIVATE_KEY_FILE is a development convenience that production refuses.
    """
    algorithm = settings.auth.jwt_algorithm
    if algorithm == "HS256":
        return hmac_key(settings.auth.jwt_secret).verification_key()
    if settings.auth.jwt_public_key_file is not None:
        key = load_public_key(settings.auth.jwt_public_key_file, variable="JWT_PUBLIC_KEY_FILE")
        if key.algorithm != algorithm:
            raise ConfigError(
                f"JWT_PUBLIC_KEY_FILE ({settings.auth.jwt_public_key_file}) is not a key for "
                f"JWT_ALGORITHM={algorithm}"
            )
        return key
    if settings.is_production or settings.auth.jwt_private_key_file is None:
        raise ConfigError(
            f"JWT_PUBLIC_KEY_FILE is required to verify JWT_ALGORITHM={algorithm} tokens "
            "(in production the gateway never reads the private key)"
        )
    return signing_key(settings).verification_key()


def previous_keys(settings: Settings) -> list[VerificationKey]:
    """Public keys of a rotation, still accepted until removed from the setting."""
    return [
        load_public_key(path, variable="JWT_PREVIOUS_PUBLIC_KEY_FILES")
        for path in settings.auth.jwt_previous_public_key_files
    ]


def _read(path: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable} ({path}) cannot be read: {exc.strerror}") from None


def _check_size(key: PublicKey, variable: str) -> None:
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ConfigError(
            f"{variable}: an RSA key needs at least {MIN_RSA_BITS} bits (got {key.key_size})"
        )
