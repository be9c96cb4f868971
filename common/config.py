"""Typed settings, read once from the environment.

The seed's variable names (``DB_HOST``, ``REDIS_HOST``, ``JWT_EXPIRES_IN``, ...)
keep working; URLs win over the split variables when both are given.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

APP_ENVS = ("development", "production")
SERVICE_NAMES = ("gateway", "user", "auth")
LOG_FORMATS = ("human", "json")
DEFAULT_PORTS = {"gateway": 3000, "user": 3001, "auth": 3002}
PORT_VARIABLES = {"gateway": "GATEWAY_PORT", "user": "USER_HEALTH_PORT", "auth": "AUTH_HEALTH_PORT"}

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

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


TrustedProxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

# Gateway routes limited per client IP, by the suffix of their RATE_LIMIT_* variable.
DEFAULT_RATE_LIMITS = {
    "register": "20/1h",
    "refresh": "60/1m",
    "forgot_password": "10/1h",
    "reset_password": "20/1h",
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class FailureLimit:
    """One scope of the login throttle: ``max_failures`` in the window are free;
    each further attempt waits, twice as long per failure, at most ``max_delay``."""

    max_failures: int
    max_delay: float


@dataclass(frozen=True, slots=True)
class LoginThrottleSettings:
    """Failed logins counted per account, per client IP and per (account, IP) pair."""

    window: float
    first_delay: float
    account: FailureLimit
    ip: FailureLimit
    pair: FailureLimit


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``period`` seconds, in a burst or spread out."""

    count: int
    period: float


def parse_rate(name: str, raw: str) -> Rate | None:
    """``"10/1h"``, ``"5/m"``, ``"100/30s"``; ``"off"`` for no limit (None)."""
    if raw.strip().lower() == "off":
        return None
    match = _RATE.match(raw)
    if not match or int(match.group(1)) < 1:
        raise ConfigError(f"{name} must be a rate such as 10/1h, 5/m or off (got {raw!r})")
    period = match.group(2)
    return Rate(
        int(match.group(1)), parse_duration(name, period if period[0].isdigit() else f"1{period}")
    )


def parse_duration(name: str, raw: str) -> float:
    """Seconds from ``"24h"``, ``"30m"``, ``"1.5s"``, ``"250ms"`` or a bare number of seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name} must be a duration such as 3600, 30m, 24h or 7d (got {raw!r})")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{name} must be positive (got {raw!r})")
    return seconds


class _Env:
    """Typed reads from one environment mapping, each error naming its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or default

    def integer(self, name: str, default: int, *, low: int = 1, high: int = 2**31) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high} (got {value})")
        return value

    def port(self, name: str, default: int, *, listen: bool = False) -> int:
        """A port number.

        Kubernetes service links put ``tcp://host:port`` in variables such as
        REDIS_PORT (for a Service named ``redis``): for a port we connect to
        that names the right port; for one we listen on it is not ours, so the
        default stands.
        """
        raw = self.text(name)
        if raw is not None and raw.startswith("tcp://"):
            linked = raw.rpartition(":")[2]
            if listen:
                return default
            if not linked.isdigit():
                raise ConfigError(f"{name} must be a port number (got {raw!r})")
            return int(linked)
        return self.integer(name, default, high=65535)

    def duration(self, name: str, default: float) -> float:
        raw = self.text(name)
        return default if raw is None else parse_duration(name, raw)

    def rate(self, name: str, default: str) -> Rate | None:
        return parse_rate(name, self.text(name, default) or default)


@dataclass(frozen=True, slots=True)
class Settings:
    app_env: Literal["development", "production"]
    log_level: str
    database_url: str
    redis_url: str
    jwt_secret: str
    jwt_expires_in: float
    rpc_prefix: str
    rpc_timeout: float
    bcrypt_rounds: int
    max_body_size: int
    ports: Mapping[str, int]
    # How many requests one worker runs at once; also its batch size per pop.
    worker_concurrency: int
    # Calls one gateway process may have waiting for replies before it sheds load.
    max_inflight_calls: int
    # Requests a service queue may hold before callers are told to back off.
    max_queue_length: int
    db_pool_min: int
    db_pool_max: int
    heartbeat_interval: float
    # Threads for bcrypt; each hash takes a core for tens of milliseconds.
    password_threads: int
    # Token keys: the algorithm, the auth worker's private key, the public key the
    # gateway verifies with, and older public keys still accepted during a rotation.
    jwt_algorithm: str
    jwt_private_key_file: str | None
    jwt_public_key_file: str | None
    jwt_previous_public_key_files: tuple[str, ...]
    jwt_issuer: str
    jwt_audience: str
    # How long clients may cache /.well-known/jwks.json.
    jwks_max_age: float
    # Peers whose X-Forwarded-For the gateway believes (addresses or CIDR ranges).
    trusted_proxies: TrustedProxies = ()
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
    # Failed-login throttling (auth_app/throttle.py). The defaults (here only so
    # that fields may follow trusted_proxies) are from_env's for an empty environment.
    login_throttle: LoginThrottleSettings = field(default_factory=lambda: _login_throttle(_Env({})))
    # Per-client-IP limits, by DEFAULT_RATE_LIMITS' names; a missing name is unlimited.
    rate_limits: Mapping[str, Rate] = field(default_factory=lambda: _rate_limits(_Env({})))
    # How long a stopping worker may spend finishing requests it has taken.
    drain_timeout: float = 10.0
    # Deepest nesting of arrays and objects a request body may have (400 past it).
    max_json_depth: int = 32
    # Origins whose pages may call the API from a browser (CORS); empty: none.
    cors_origins: tuple[str, ...] = ()
    # Strict-Transport-Security max-age; 0 sends no such header (plain HTTP).
    hsts_seconds: int = 0
    # "human" (the default) or "json": one JSON object per line for log shippers.
    log_format: str = "human"

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def heartbeat_ttl(self) -> float:
        """An instance missing three heartbeats is considered dead."""
        return self.heartbeat_interval * 3

    def port_for(self, service: str) -> int:
        return self.ports[service]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Env(os.environ if environ is None else environ)

        app_env = (env.text("APP_ENV") or env.text("NODE_ENV") or "development").lower()
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)} (got {app_env!r})")
        production = app_env == "production"

        port = env.port("PORT", 0, listen=True)
        ports = {
            service: port or env.port(PORT_VARIABLES[service], default, listen=True)
            for service, default in DEFAULT_PORTS.items()
        }

        # The CPUs this process may use (a container's share), not the host's.
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        db_pool_max = env.integer("DB_POOL_MAX", 10, high=1000)
        jwt_algorithm = _jwt_algorithm(env)
        return cls(
            app_env="production" if production else "development",
            log_level=(env.text("LOG_LEVEL") or "INFO").upper(),
            database_url=_database_url(env),
            redis_url=_redis_url(env),
            jwt_secret=_jwt_secret(env, production=production, required=jwt_algorithm == "HS256"),
            # Short-lived: a client stays signed in with its refresh token.
            jwt_expires_in=env.duration("JWT_EXPIRES_IN", 15 * 60),
            rpc_prefix=_rpc_prefix(env),
            rpc_timeout=env.duration("RPC_TIMEOUT", 5.0),
            bcrypt_rounds=env.integer("BCRYPT_ROUNDS", 10, low=4, high=31),
            max_body_size=env.integer("MAX_BODY_SIZE", 64 * 1024, high=64 * 1024 * 1024),
            ports=ports,
            worker_concurrency=env.integer("WORKER_CONCURRENCY", 64, high=10_000),
            max_inflight_calls=env.integer("MAX_INFLIGHT_CALLS", 1024, high=1_000_000),
            max_queue_length=env.integer("MAX_QUEUE_LENGTH", 10_000, high=10_000_000),
            db_pool_min=env.integer("DB_POOL_MIN", 1, low=0, high=db_pool_max),
            db_pool_max=db_pool_max,
            heartbeat_interval=env.duration("HEARTBEAT_INTERVAL", 1.0),
            password_threads=env.integer("PASSWORD_THREADS", cpus or 2, high=256),
            jwt_algorithm=jwt_algorithm,
            jwt_private_key_file=env.text("JWT_PRIVATE_KEY_FILE"),
            jwt_public_key_file=env.text("JWT_PUBLIC_KEY_FILE"),
            jwt_previous_public_key_files=_file_list(env, "JWT_PREVIOUS_PUBLIC_KEY_FILES"),
            jwt_issuer=env.text("JWT_ISSUER", DEFAULT_JWT_ISSUER) or DEFAULT_JWT_ISSUER,
            jwt_audience=env.text("JWT_AUDIENCE", DEFAULT_JWT_AUDIENCE) or DEFAULT_JWT_AUDIENCE,
            jwks_max_age=env.duration("JWKS_MAX_AGE", 300),
            trusted_proxies=_trusted_proxies(env),
            refresh_expires_in=env.duration("REFRESH_EXPIRES_IN", 30 * 86400),
            refresh_reuse_interval=env.duration("REFRESH_REUSE_INTERVAL", 10.0),
            password_reset_expires_in=env.duration("PASSWORD_RESET_EXPIRES_IN", 30 * 60),
            smtp_url=_smtp_url(env),
            smtp_from=env.text("SMTP_FROM", "Gatehouse <no-reply@localhost>") or "",
            login_throttle=_login_throttle(env),
            rate_limits=_rate_limits(env),
            drain_timeout=env.duration("DRAIN_TIMEOUT", 10.0),
            max_json_depth=env.integer("MAX_JSON_DEPTH", 32, high=200),
            cors_origins=_cors_origins(env),
            hsts_seconds=env.integer("HSTS_SECONDS", 0, low=0, high=10 * 365 * 86400),
            log_format=_log_format(env),
        )


def _database_url(env: _Env) -> str:
    url = env.text("DATABASE_URL")
    if url:
        return url
    user = quote(env.text("DB_USER", "postgres") or "", safe="")
    password = env.text("DB_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = env.text("DB_HOST", "localhost")
    port = env.port("DB_PORT", 5432)
    name = env.text("DB_NAME", "microservices")
    return f"postgresql://{auth}@{host}:{port}/{name}"


def _redis_url(env: _Env) -> str:
    url = env.text("REDIS_URL")
    if url:
        return url
    password = env.text("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    host = env.text("REDIS_HOST", "localhost")
    port = env.port("REDIS_PORT", 6379)
    return f"redis://{auth}{host}:{port}/0"


def _jwt_secret(env: _Env, *, production: bool, required: bool) -> str:
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


def _jwt_algorithm(env: _Env) -> str:
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


def _file_list(env: _Env, name: str) -> tuple[str, ...]:
    """Comma-separated paths; blanks between commas are ignored."""
    return tuple(path.strip() for path in (env.text(name) or "").split(",") if path.strip())


def _trusted_proxies(env: _Env) -> TrustedProxies:
    networks = []
    for item in (env.text("TRUSTED_PROXIES") or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES must list addresses or CIDR ranges, comma-separated "
                f"(got {item.strip()!r})"
            ) from None
    return tuple(networks)


def _login_throttle(env: _Env) -> LoginThrottleSettings:
    # LOGIN_MAX_FAILURES keeps the seed-era name: it now counts per resolved account.
    return LoginThrottleSettings(
        window=env.duration("LOGIN_FAILURE_WINDOW", 3600),
        first_delay=env.duration("LOGIN_FIRST_DELAY", 1),
        account=FailureLimit(
            env.integer("LOGIN_MAX_FAILURES", 10, high=1_000_000),
            env.duration("LOGIN_ACCOUNT_MAX_DELAY", 60),
        ),
        ip=FailureLimit(
            env.integer("LOGIN_IP_MAX_FAILURES", 30, high=1_000_000),
            env.duration("LOGIN_IP_MAX_DELAY", 15 * 60),
        ),
        pair=FailureLimit(
            env.integer("LOGIN_PAIR_MAX_FAILURES", 5, high=1_000_000),
            env.duration("LOGIN_PAIR_MAX_DELAY", 15 * 60),
        ),
    )


def _rate_limits(env: _Env) -> dict[str, Rate]:
    limits = {}
    for route, default in DEFAULT_RATE_LIMITS.items():
        rate = env.rate(f"RATE_LIMIT_{route.upper()}", default)
        if rate is not None:
            limits[route] = rate
    return limits


def _cors_origins(env: _Env) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in (env.text("CORS_ORIGINS") or "").split(","))
    for origin in origins:
        if origin and not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?", origin):
            raise ConfigError(
                "CORS_ORIGINS must be a comma-separated list of origins such as "
                f"https://app.example.com (got {origin!r})"
            )
    return tuple(o for o in origins if o)


def _rpc_prefix(env: _Env) -> str:
    prefix = env.text("RPC_PREFIX", "gatehouse") or "gatehouse"
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", prefix):
        raise ConfigError(f"RPC_PREFIX may hold letters, digits, '_', '.', '-' (got {prefix!r})")
    return prefix


def _smtp_url(env: _Env) -> str | None:
    url = env.text("SMTP_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
    return url


def _log_format(env: _Env) -> str:
    log_format = (env.text("LOG_FORMAT") or "human").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {log_format!r})"
        )
    return log_format
