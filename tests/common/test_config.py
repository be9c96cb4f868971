"""Settings.from_env: the seed's variable names, defaults, and loud failures.

Most cases are rows of two tables: ``READS`` (an environment and the settings
it must give, by attribute path) and ``REFUSALS`` (an environment and the
message its ``ConfigError`` must carry). A new setting is a row, not a test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import pytest

from common.config import (
    DEFAULT_PORTS,
    DEVELOPMENT_JWT_SECRET,
    ConfigError,
    FailureLimit,
    Rate,
    Settings,
    parse_duration,
    parse_rate,
)
from common.config.db import database_of, with_database

STRONG_SECRET = "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"
PRODUCTION = {"APP_ENV": "production"}


def settings_at(settings: Settings, paths: Iterable[str]) -> dict[str, Any]:
    """``{"auth.jwt_secret": settings.auth.jwt_secret, ...}`` for each dotted path."""
    return {path: attrgetter(path)(settings) for path in paths}


def read(env: Mapping[str, str], expected: Mapping[str, Any], id: str) -> Any:
    return pytest.param(env, expected, id=id)


READS = [
    read(
        {},
        {
            "app_env": "development",
            "is_production": False,
            "log_level": "INFO",
            "log_format": "human",
            "db.database_url": "postgresql://postgres@localhost:5432/microservices",
            "rpc.redis_url": "redis://localhost:6379/0",
            "auth.jwt_secret": DEVELOPMENT_JWT_SECRET,
            "auth.jwt_expires_in": 15 * 60,
            "rpc.rpc_prefix": "gatehouse",
            "rpc.rpc_timeout": 5.0,
            "auth.bcrypt_rounds": 10,
            "http.max_body_size": 64 * 1024,
            "rpc.heartbeat_interval": 1.0,
            "rpc.heartbeat_ttl": 3.0,
        },
        "defaults from an empty environment",
    ),
    read(
        {
            "DB_HOST": "db.internal",
            "DB_PORT": "6543",
            "DB_NAME": "accounts",
            "DB_USER": "app",
            "DB_PASSWORD": "p@ss:w/rd",
        },
        {"db.database_url": "postgresql://app:p%40ss%3Aw%2Frd@db.internal:6543/accounts"},
        "seed database variables build the url",
    ),
    read(
        {"DB_HOST": "db", "DB_USER": "app"},
        {"db.database_url": "postgresql://app@db:5432/microservices"},
        "database url without password has no colon",
    ),
    read(
        {"DB_HOST": "/run/post gres", "DB_USER": "app", "DB_NAME": "accounts"},
        {"db.database_url": "postgresql://app@/accounts?host=/run/post%20gres&port=5432"},
        "a socket folder as DB_HOST goes in the query",
    ),
    read(
        {"REDIS_HOST": "cache", "REDIS_PORT": "6380"},
        {"rpc.redis_url": "redis://cache:6380/0"},
        "seed redis variables build the url",
    ),
    read(
        {
            "DATABASE_URL": "postgresql://u@winner:5432/db",
            "DB_HOST": "loser",
            "DB_PORT": "1",
            "REDIS_URL": "rediss://winner:6379/2",
            "REDIS_HOST": "loser",
            "REDIS_PORT": "2",
        },
        {
            "db.database_url": "postgresql://u@winner:5432/db",
            "rpc.redis_url": "rediss://winner:6379/2",
        },
        "urls win over split variables",
    ),
    read(
        {
            "BCRYPT_ROUNDS": "4",
            "WORKER_CONCURRENCY": "8",
            "MAX_INFLIGHT_CALLS": "100",
            "MAX_QUEUE_LENGTH": "50",
            "DB_POOL_MIN": "0",
            "DB_POOL_MAX": "3",
            "LOG_LEVEL": "debug",
        },
        {
            "auth.bcrypt_rounds": 4,
            "rpc.worker_concurrency": 8,
            "rpc.max_inflight_calls": 100,
            "rpc.max_queue_length": 50,
            "db.db_pool_min": 0,
            "db.db_pool_max": 3,
            "log_level": "DEBUG",
        },
        "integer settings are read",
    ),
    read(
        {"APP_ENV": "Production", "JWT_SECRET": STRONG_SECRET},
        {"is_production": True, "app_env": "production", "auth.jwt_secret": STRONG_SECRET},
        "production accepts a strong secret",
    ),
    read(
        {**PRODUCTION, "JWT_SECRET": "0123456789abcdef" * 2},
        {"auth.jwt_secret": "0123456789abcdef" * 2},
        "a secret of sixteen different characters is enough",
    ),
    read(
        {"JWT_SECRET": "changeme"},
        {"auth.jwt_secret": "changeme"},
        "development accepts any secret",
    ),
    read(
        {**PRODUCTION, "JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_FILE": "/k.pub.pem"},
        {"auth.jwt_secret": "", "auth.jwt_public_key_file": "/k.pub.pem"},
        "production with a key pair needs no jwt secret",
    ),
    read(
        {},
        {
            "limits.login_throttle.window": 3600,
            "limits.login_throttle.first_delay": 1,
            "limits.login_throttle.account": FailureLimit(max_failures=10, max_delay=60),
            "limits.login_throttle.ip": FailureLimit(max_failures=30, max_delay=900),
            "limits.login_throttle.pair": FailureLimit(max_failures=5, max_delay=900),
        },
        "login throttle defaults",
    ),
    read(
        {
            "LOGIN_FAILURE_WINDOW": "2h",
            "LOGIN_FIRST_DELAY": "500ms",
            "LOGIN_MAX_FAILURES": "20",
            "LOGIN_ACCOUNT_MAX_DELAY": "30s",
            "LOGIN_IP_MAX_FAILURES": "100",
            "LOGIN_IP_MAX_DELAY": "1h",
            "LOGIN_PAIR_MAX_FAILURES": "3",
            "LOGIN_PAIR_MAX_DELAY": "30m",
        },
        {
            "limits.login_throttle.window": 7200,
            "limits.login_throttle.first_delay": 0.5,
            "limits.login_throttle.account": FailureLimit(20, 30),
            "limits.login_throttle.ip": FailureLimit(100, 3600),
            "limits.login_throttle.pair": FailureLimit(3, 1800),
        },
        "login throttle is read",
    ),
    read(
        {},
        {
            "auth.refresh_expires_in": 30 * 86400,
            "auth.refresh_reuse_interval": 10,
            "auth.password_reset_expires_in": 30 * 60,
            "auth.smtp_url": None,
        },
        "session and reset defaults",
    ),
    read(
        {
            "REFRESH_EXPIRES_IN": "7d",
            "REFRESH_REUSE_INTERVAL": "2s",
            "PASSWORD_RESET_EXPIRES_IN": "15m",
            "SMTP_URL": "smtps://u:p@mail.example.org:465",
            "SMTP_FROM": "Auth <auth@example.org>",
        },
        {
            "auth.refresh_expires_in": 7 * 86400,
            "auth.refresh_reuse_interval": 2,
            "auth.password_reset_expires_in": 15 * 60,
            "auth.smtp_url": "smtps://u:p@mail.example.org:465",
            "auth.smtp_from": "Auth <auth@example.org>",
        },
        "session and reset variables",
    ),
    read(
        {},
        {
            "auth.jwt_algorithm": "HS256",
            "auth.jwt_private_key_file": None,
            "auth.jwt_public_key_file": None,
            "auth.jwt_previous_public_key_files": (),
            "auth.jwt_issuer": "gatehouse",
            "auth.jwt_audience": "gatehouse",
            "auth.jwks_max_age": 300,
        },
        "token key defaults",
    ),
    read(
        {
            "JWT_PREVIOUS_PUBLIC_KEY_FILES": " /a.pem, ,/b.pem ,",
            "JWT_ISSUER": "https://id.example",
            "JWT_AUDIENCE": "api.example",
            "JWKS_MAX_AGE": "1h",
        },
        {
            "auth.jwt_previous_public_key_files": ("/a.pem", "/b.pem"),
            "auth.jwt_issuer": "https://id.example",
            "auth.jwt_audience": "api.example",
            "auth.jwks_max_age": 3600,
        },
        "token key variables are read",
    ),
    *(
        read(
            {"JWT_ALGORITHM": raw, "JWT_PRIVATE_KEY_FILE": "/k.pem"},
            {"auth.jwt_algorithm": algorithm},
            f"jwt algorithm {raw} is read case-insensitively",
        )
        for raw, algorithm in [("eddsa", "EdDSA"), ("rs256", "RS256")]
    ),
    read(
        {},
        {"http.max_json_depth": 32, "http.cors_origins": (), "http.hsts_seconds": 0},
        "edge settings default to closed",
    ),
    read(
        {"CORS_ORIGINS": " https://app.example.com/ , http://localhost:5173,,"},
        {"http.cors_origins": ("https://app.example.com", "http://localhost:5173")},
        "cors origins are a comma-separated list",
    ),
    *(
        read(
            {} if raw is None else {"LOG_FORMAT": raw},
            {"log_format": expected},
            f"log format {raw} is {expected}",
        )
        for raw, expected in [(None, "human"), ("json", "json"), ("JSON", "json")]
    ),
    *(
        read({"RPC_PREFIX": value}, {"rpc.rpc_prefix": value}, f"good rpc prefix {value[:8]}")
        for value in ["ok", "with-dash.and_underscore", "A1", "x" * 64]
    ),
]


@pytest.mark.parametrize(("env", "expected"), READS)
def test_the_environment_gives_these_settings(
    env: Mapping[str, str], expected: Mapping[str, Any]
) -> None:
    assert settings_at(Settings.from_env(env), expected) == expected


def test_default_settings_beyond_equality() -> None:
    settings = Settings.from_env({})

    assert dict(settings.http.ports) == {"gateway": 3000, "user": 3001, "auth": 3002}
    assert dict(settings.limits.rate_limits) == {
        "register": Rate(20, 3600),
        "refresh": Rate(60, 60),
        "forgot_password": Rate(10, 3600),
        "reset_password": Rate(20, 3600),
        "verify_email_resend": Rate(5, 3600),
        "webauthn_options": Rate(60, 60),
        "webauthn_login": Rate(60, 60),
    }
    assert settings.auth.smtp_from


def test_rate_limits_switch_off_and_are_read() -> None:
    limits = Settings.from_env({"RATE_LIMIT_REGISTER": "off", "RATE_LIMIT_REFRESH": "2/1s"})
    assert "register" not in limits.limits.rate_limits
    assert limits.limits.rate_limits["refresh"] == Rate(2, 1)


def refused(env: Mapping[str, str], message: str, id: str) -> Any:
    return pytest.param(env, message, id=id)


def each_value(
    name: str, values: Iterable[str], message: str, base: Mapping[str, str] | None = None
) -> list[Any]:
    """One refusal row per value of ``name`` (on top of ``base``)."""
    return [
        refused({**(base or {}), name: value}, message, f"{name}={value[:12]}") for value in values
    ]


REFUSALS = [
    *each_value(
        "JWT_EXPIRES_IN", ["soon", "24x", "-5", "0", "0h", "h", "1e3", "24 hours"], "JWT_EXPIRES_IN"
    ),
    refused({"RPC_TIMEOUT": "fast"}, "RPC_TIMEOUT", "bad rpc timeout"),
    refused(PRODUCTION, "JWT_SECRET is required", "production requires a jwt secret"),
    refused(
        {**PRODUCTION, "JWT_SECRET": "   "},
        "JWT_SECRET is required",
        "production treats a blank secret as missing",
    ),
    *each_value(
        "JWT_SECRET",
        ["changethis", "CHANGEME", "secret", "your-secret-key", DEVELOPMENT_JWT_SECRET],
        "JWT_SECRET is a placeholder",
        PRODUCTION,
    ),
    refused(
        {**PRODUCTION, "JWT_SECRET": "a" * 31},
        "JWT_SECRET must be at least 32 characters",
        "production refuses a short secret",
    ),
    *each_value(
        "JWT_SECRET",
        ["a" * 32, "abcd" * 12, "0123456789abcde" * 3],
        "at least 16 different characters",
        PRODUCTION,
    ),
    refused({"NODE_ENV": "production"}, "JWT_SECRET", "node env is read when app env is unset"),
    *each_value("APP_ENV", ["staging", "prod", "test"], "APP_ENV"),
    *each_value("RPC_PREFIX", ["has space", "a:b", "x" * 65, "naïve", "a/b"], "RPC_PREFIX"),
    *(
        refused({name: value}, f"{name} must be between", f"{name}={value}")
        for name, value in [
            ("BCRYPT_ROUNDS", "3"),
            ("BCRYPT_ROUNDS", "32"),
            ("PORT", "65536"),
            ("PORT", "-1"),
            ("GATEWAY_PORT", "0"),
            ("GATEWAY_PORT", "70000"),
            ("USER_HEALTH_PORT", "99999"),
            ("AUTH_HEALTH_PORT", "0"),
            ("DB_PORT", "65536"),
            ("REDIS_PORT", "0"),
            ("WORKER_CONCURRENCY", "0"),
            ("MAX_BODY_SIZE", "0"),
            ("DB_POOL_MAX", "0"),
        ]
    ),
    *(
        refused({name: "ten"}, f"{name} must be a whole number", f"{name}=ten")
        for name in ["BCRYPT_ROUNDS", "PORT", "DB_PORT", "MAX_INFLIGHT_CALLS"]
    ),
    refused({"DB_POOL_MAX": "5", "DB_POOL_MIN": "6"}, "DB_POOL_MIN", "pool min above max"),
    *each_value(
        "RATE_LIMIT_REFRESH", ["10", "0/1m", "ten/1m", "5/", "5/1x", "-1/1m"], "RATE_LIMIT_REFRESH"
    ),
    *each_value(
        "SMTP_URL", ["http://mail.example.org", "smtp://", "mail.example.org:25"], "SMTP_URL"
    ),
    *each_value(
        "JWT_ALGORITHM",
        ["none", "HS512", "ES256", "Ed25519x"],
        "JWT_ALGORITHM must be one of HS256, EdDSA, RS256",
    ),
    *(
        refused(
            {"APP_ENV": app_env, "JWT_ALGORITHM": "EdDSA"},
            "JWT_ALGORITHM=EdDSA needs JWT_PRIVATE_KEY_FILE",
            f"a key pair algorithm without key files ({app_env})",
        )
        for app_env in ["development", "production"]
    ),
    *each_value(
        "CORS_ORIGINS", ["*", "app.example.com", "https://x.com/path", "null"], "CORS_ORIGINS"
    ),
    refused({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of human, json", "unknown log format"),
]


@pytest.mark.parametrize(("env", "message"), REFUSALS)
def test_a_bad_environment_is_refused_by_name(env: Mapping[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_reads_the_process_environment_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RPC_PREFIX", "from-os-environ")
    monkeypatch.setenv("APP_ENV", "development")

    assert Settings.from_env().rpc.rpc_prefix == "from-os-environ"


@pytest.mark.parametrize(
    ("env", "ports"),
    [
        (
            {"GATEWAY_PORT": "8000", "USER_HEALTH_PORT": "8001", "AUTH_HEALTH_PORT": "8002"},
            {"gateway": 8000, "user": 8001, "auth": 8002},
        ),
        (
            {
                "PORT": "5100",
                "GATEWAY_PORT": "8000",
                "USER_HEALTH_PORT": "8001",
                "AUTH_HEALTH_PORT": "8002",
            },
            {"gateway": 5100, "user": 5100, "auth": 5100},
        ),
    ],
    ids=["service port variables", "PORT overrides every service port"],
)
def test_service_ports(env: Mapping[str, str], ports: dict[str, int]) -> None:
    settings = Settings.from_env(env)

    assert {service: settings.http.port_for(service) for service in DEFAULT_PORTS} == ports


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("24h", 86400),
        ("30m", 1800),
        ("3600", 3600),
        ("45s", 45),
        ("7d", 7 * 86400),
        ("250ms", 0.25),
        ("1.5h", 5400),
        (" 2h ", 7200),
    ],
)
def test_jwt_expires_in_durations(raw: str, seconds: float) -> None:
    assert Settings.from_env({"JWT_EXPIRES_IN": raw}).auth.jwt_expires_in == pytest.approx(seconds)


def test_parse_duration_names_the_variable_it_was_given() -> None:
    with pytest.raises(ConfigError, match="RPC_TIMEOUT"):
        parse_duration("RPC_TIMEOUT", "forever")


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("10/1h", Rate(10, 3600)), ("5/m", Rate(5, 60)), (" 3 / 30s ", Rate(3, 30)), ("off", None)],
)
def test_parse_rate(raw: str, rate: Rate | None) -> None:
    assert parse_rate("RATE_LIMIT_REGISTER", raw) == rate


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.auth.jwt_secret = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "renamed"),
    [
        ("postgresql://u:p@db:5432/postgres", "postgresql://u:p@db:5432/other"),
        # Embedded PostgreSQL's URL: the socket folder is in the query, with slashes.
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg/run",
            "postgresql://postgres:@/other?host=/tmp/pg/run",
        ),
        ("postgresql://u@db/postgres?sslmode=require", "postgresql://u@db/other?sslmode=require"),
    ],
)
def test_another_database_on_the_same_server(url: str, renamed: str) -> None:
    assert with_database(url, "other") == renamed
    assert database_of(url) == "postgres"
    assert database_of(renamed) == "other"
