"""Passwords, token signing and lifetimes, refresh and reset, outgoing mail."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.config.env import ConfigError, Env

# Used only in development when JWT_SECRET is unset, so that a bare checkout
# runs; production refuses it (and anything else that looks like a placeholder).
DEVELOPMENT_JWT_SECRET = "gatehouse-development-secret-do-not-use-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
# 32 x "a" or a short string repeated is long but guessable.
MIN_SECRET_DISTINCT_CHARACTERS = 16
PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "your-secret-key", "jwt_secret"}

_HOW_TO_GENERATE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
# Token signing algorithms: HS256 (the seed's, shared secret) or a key pair.
JWT_ALGORITHMS = ("HS256", "EdDSA", "RS256")
ASYMMETRIC_ALGORITHMS = ("EdDSA", "RS256")
DEFAULT_JWT_ISSUER = "gatehouse"
DEFAULT_JWT_AUDIENCE = "gatehouse"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    jwt_secret: str
    # Short-lived: a client stays signed in with its refresh token.
    jwt_expires_in: float = 15 * 60
    bcrypt_rounds: int = 10
    # Threads for bcrypt; each hash takes a core for tens of milliseconds.
    password_threads: int = 2
    # How far below the event loop's thread the bcrypt threads run (Linux nice,
    # per thread; 0 = the same priority): common/security/passwords.py says why.
    password_niceness: int = 10
    # Token keys: the algorithm, the auth worker's private key, the public key the
    # gateway verifies with, and older public keys still accepted during a rotation.
    jwt_algorithm: str = "HS256"
    jwt_private_key_file: str | None = None
    jwt_public_key_file: str | None = None
    jwt_previous_public_key_files: tuple[str, ...] = ()
    jwt_issuer: str = DEFAULT_JWT_ISSUER
    jwt_audience: str = DEFAULT_JWT_AUDIENCE
    # How long clients may cache /.well-known/jwks.json.
    jwks_max_age: float = 300
    # Sliding lifetime of a session's refresh token (each refresh extends it).
    refresh_expires_in: float = 30 * 86400
    # A rotated refresh token presented again within this many seconds gets the
    # same successor (clients retry and race); later, it is taken for theft.
    refresh_reuse_interval: float = 10.0
    password_reset_expires_in: float = 30 * 60
    # smtp://user:pass@host:port (STARTTLS when offered) or smtps:// (implicit
    # TLS); None sends reset tokens to the development log instead.
    smtp_url: str | None = None
    smtp_from: str = "Gatehouse <no-reply@localhost>"
    # Verified email: how long an emailed link works, whether login and refresh
    # refuse an unverified address, and where the links in the mails point.
    email_verification_expires_in: float = 24 * 3600
    require_verified_email: bool = False
    public_url: str = "http://localhost:3000"

    @classmethod
    def from_env(cls, env: Env, *, production: bool) -> AuthSettings:
        # The CPUs this process may use (a container's share), not the host's.
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        jwt_algorithm = _jwt_algorithm(env)
        return cls(
            jwt_secret=_jwt_secret(env, production=production, required=jwt_algorithm == "HS256"),
            jwt_expires_in=env.duration("JWT_EXPIRES_IN", 15 * 60),
            bcrypt_rounds=env.integer("BCRYPT_ROUNDS", 10, low=4, high=31),
            password_threads=env.integer("PASSWORD_THREADS", cpus or 2, high=256),
            password_niceness=env.integer("PASSWORD_NICENESS", 10, low=0, high=19),
            jwt_algorithm=jwt_algorithm,
            jwt_private_key_file=env.text("JWT_PRIVATE_KEY_FILE"),
            jwt_public_key_file=env.text("JWT_PUBLIC_KEY_FILE"),
            jwt_previous_public_key_files=env.items("JWT_PREVIOUS_PUBLIC_KEY_FILES"),
            jwt_issuer=env.text("JWT_ISSUER", DEFAULT_JWT_ISSUER) or DEFAULT_JWT_ISSUER,
            jwt_audience=env.text("JWT_AUDIENCE", DEFAULT_JWT_AUDIENCE) or DEFAULT_JWT_AUDIENCE,
            jwks_max_age=env.duration("JWKS_MAX_AGE", 300),
            refresh_expires_in=env.duration("REFRESH_EXPIRES_IN", 30 * 86400),
            refresh_reuse_interval=env.duration("REFRESH_REUSE_INTERVAL", 10.0),
            password_reset_expires_in=env.duration("PASSWORD_RESET_EXPIRES_IN", 30 * 60),
            smtp_url=_smtp_url(env),
            smtp_from=env.text("SMTP_FROM", "Gatehouse <no-reply@localhost>") or "",
            email_verification_expires_in=env.duration("EMAIL_VERIFICATION_EXPIRES_IN", 24 * 3600),
            require_verified_email=env.boolean("REQUIRE_VERIFIED_EMAIL", False),
            public_url=_public_url(env),
        )


def _jwt_secret(env: Env, *, production: bool, required: bool) -> str:
    secret = env.text("JWT_SECRET")
    if not production:
        return secret or DEVELOPMENT_JWT_SECRET
    if not required and secret is None:
        # A key pair signs; nothing checks a shared secret, so none is needed.
        return ""
    if secret is None:
        raise ConfigError("JWT_SECRET is required when APP_ENV=production")
    if secret.lower() in PLACEHOLDER_SECRETS or secret == DEVELOPMENT_JWT_SECRET:
        raise ConfigError("JWT_SECRET is a placeholder; set a random secret in production")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters in production "
            f"(got {len(secret)}); make one with: {_HOW_TO_GENERATE_ONE}"
        )
    distinct = len(set(secret))
    if distinct < MIN_SECRET_DISTINCT_CHARACTERS:
        raise ConfigError(
            f"JWT_SECRET must hold at least {MIN_SECRET_DISTINCT_CHARACTERS} different "
            f"characters in production (got {distinct}); make one with: {_HOW_TO_GENERATE_ONE}"
        )
    return secret


def _jwt_algorithm(env: Env) -> str:
    raw = env.text("JWT_ALGORITHM", "HS256") or "HS256"
    algorithm = next((a for a in JWT_ALGORITHMS if a.lower() == raw.lower()), None)
    if algorithm is None:
        raise ConfigError(f"JWT_ALGORITHM must be one of {', '.join(JWT_ALGORITHMS)} (got {raw!r})")
    if algorithm in ASYMMETRIC_ALGORITHMS and not (
        env.text("JWT_PRIVATE_KEY_FILE") or env.text("JWT_PUBLIC_KEY_FILE")
    ):
        raise ConfigError(
            f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY_FILE (the auth worker signs "
            "with it) or JWT_PUBLIC_KEY_FILE (the gateway verifies with it)"
        )
    return algorithm


def _smtp_url(env: Env) -> str | None:
    url = env.text("SMTP_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
    return url


def _public_url(env: Env) -> str:
    url = (env.text("PUBLIC_URL") or "http://localhost:3000").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("PUBLIC_URL must look like https://accounts.example.org")
    return url
