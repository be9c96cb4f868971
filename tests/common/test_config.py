"""Settings.from_env: the seed's variable names, defaults, and loud failures."""

from __future__ import annotations

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

STRONG_SECRET = "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})

    assert settings.app_env == "development"
    assert not settings.is_production
    assert settings.log_level == "INFO"
    assert settings.db.database_url == "postgresql://postgres@localhost:5432/microservices"
    assert settings.rpc.redis_url == "redis://localhost:6379/0"
    assert settings.auth.jwt_secret == DEVELOPMENT_JWT_SECRET
    assert settings.auth.jwt_expires_in == 15 * 60
    assert settings.rpc.rpc_prefix == "gatehouse"
    assert settings.rpc.rpc_timeout == 5.0
    assert settings.auth.bcrypt_rounds == 10
    assert settings.http.max_body_size == 64 * 1024
    assert dict(settings.http.ports) == {"gateway": 3000, "user": 3001, "auth": 3002}
    assert settings.rpc.heartbeat_interval == 1.0
    assert settings.rpc.heartbeat_ttl == 3.0


def test_reads_the_process_environment_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RPC_PREFIX", "from-os-environ")
    monkeypatch.setenv("APP_ENV", "development")

    assert Settings.from_env().rpc.rpc_prefix == "from-os-environ"


def test_seed_database_variables_build_the_url() -> None:
    settings = Settings.from_env(
        {
            "DB_HOST": "db.internal",
            "DB_PORT": "6543",
            "DB_NAME": "accounts",
            "DB_USER": "app",
            "DB_PASSWORD": "p@ss:w/rd",
        }
    )

    assert settings.db.database_url == "postgresql://app:p%40ss%3Aw%2Frd@db.internal:6543/accounts"


def test_database_url_without_password_has_no_colon() -> None:
    settings = Settings.from_env({"DB_HOST": "db", "DB_USER": "app"})

    assert settings.db.database_url == "postgresql://app@db:5432/microservices"


def test_seed_redis_variables_build_the_url() -> None:
    settings = Settings.from_env({"REDIS_HOST": "cache", "REDIS_PORT": "6380"})

    assert settings.rpc.redis_url == "redis://cache:6380/0"


def test_urls_win_over_split_variables() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@winner:5432/db",
            "DB_HOST": "loser",
            "DB_PORT": "1",
            "REDIS_URL": "rediss://winner:6379/2",
            "REDIS_HOST": "loser",
            "REDIS_PORT": "2",
        }
    )

    assert settings.db.database_url == "postgresql://u@winner:5432/db"
    assert settings.rpc.redis_url == "rediss://winner:6379/2"


def test_service_port_variables() -> None:
    settings = Settings.from_env(
        {"GATEWAY_PORT": "8000", "USER_HEALTH_PORT": "8001", "AUTH_HEALTH_PORT": "8002"}
    )

    assert settings.http.port_for("gateway") == 8000
    assert settings.http.port_for("user") == 8001
    assert settings.http.port_for("auth") == 8002


def test_port_overrides_every_service_port() -> None:
    settings = Settings.from_env(
        {
            "PORT": "5100",
            "GATEWAY_PORT": "8000",
            "USER_HEALTH_PORT": "8001",
            "AUTH_HEALTH_PORT": "8002",
        }
    )

    assert {service: settings.http.port_for(service) for service in DEFAULT_PORTS} == {
        "gateway": 5100,
        "user": 5100,
        "auth": 5100,
    }


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


@pytest.mark.parametrize("raw", ["soon", "24x", "-5", "0", "0h", "h", "1e3", "24 hours"])
def test_bad_jwt_expires_in_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="JWT_EXPIRES_IN"):
        Settings.from_env({"JWT_EXPIRES_IN": raw})


def test_parse_duration_names_the_variable_it_was_given() -> None:
    with pytest.raises(ConfigError, match="RPC_TIMEOUT"):
        parse_duration("RPC_TIMEOUT", "forever")


def test_bad_rpc_timeout_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="RPC_TIMEOUT"):
        Settings.from_env({"RPC_TIMEOUT": "fast"})


def test_production_requires_a_jwt_secret() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        Settings.from_env({"APP_ENV": "production"})


def test_production_treats_a_blank_secret_as_missing() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        Settings.from_env({"APP_ENV": "production", "JWT_SECRET": "   "})


@pytest.mark.parametrize(
    "secret", ["changethis", "CHANGEME", "secret", "your-secret-key", DEVELOPMENT_JWT_SECRET]
)
def test_production_refuses_placeholder_secrets(secret: str) -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET is a placeholder"):
        Settings.from_env({"APP_ENV": "production", "JWT_SECRET": secret})


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET must be at least 32 characters"):
        Settings.from_env({"APP_ENV": "production", "JWT_SECRET": "a" * 31})


def test_production_accepts_a_strong_secret() -> None:
    settings = Settings.from_env({"APP_ENV": "Production", "JWT_SECRET": STRONG_SECRET})

    assert settings.is_production
    assert settings.app_env == "production"
    assert settings.auth.jwt_secret == STRONG_SECRET


def test_development_accepts_any_secret() -> None:
    assert Settings.from_env({"JWT_SECRET": "changeme"}).auth.jwt_secret == "changeme"


def test_node_env_is_read_when_app_env_is_unset() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        Settings.from_env({"NODE_ENV": "production"})


@pytest.mark.parametrize("value", ["staging", "prod", "test"])
def test_bad_app_env(value: str) -> None:
    with pytest.raises(ConfigError, match="APP_ENV"):
        Settings.from_env({"APP_ENV": value})


@pytest.mark.parametrize("value", ["has space", "a:b", "x" * 65, "naïve", "a/b"])
def test_bad_rpc_prefix(value: str) -> None:
    with pytest.raises(ConfigError, match="RPC_PREFIX"):
        Settings.from_env({"RPC_PREFIX": value})


@pytest.mark.parametrize("value", ["ok", "with-dash.and_underscore", "A1", "x" * 64])
def test_good_rpc_prefix(value: str) -> None:
    assert Settings.from_env({"RPC_PREFIX": value}).rpc.rpc_prefix == value


@pytest.mark.parametrize(
    ("name", "value"),
    [
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
    ],
)
def test_out_of_range_integers_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be between"):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name", ["BCRYPT_ROUNDS", "PORT", "DB_PORT", "MAX_INFLIGHT_CALLS"])
def test_non_integers_name_the_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be a whole number"):
        Settings.from_env({name: "ten"})


def test_pool_minimum_may_not_exceed_the_maximum() -> None:
    with pytest.raises(ConfigError, match="DB_POOL_MIN"):
        Settings.from_env({"DB_POOL_MAX": "5", "DB_POOL_MIN": "6"})


def test_integer_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "BCRYPT_ROUNDS": "4",
            "WORKER_CONCURRENCY": "8",
            "MAX_INFLIGHT_CALLS": "100",
            "MAX_QUEUE_LENGTH": "50",
            "DB_POOL_MIN": "0",
            "DB_POOL_MAX": "3",
            "LOG_LEVEL": "debug",
        }
    )

    assert settings.auth.bcrypt_rounds == 4
    assert settings.rpc.worker_concurrency == 8
    assert settings.rpc.max_inflight_calls == 100
    assert settings.rpc.max_queue_length == 50
    assert (settings.db.db_pool_min, settings.db.db_pool_max) == (0, 3)
    assert settings.log_level == "DEBUG"


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.auth.jwt_secret = "other"  # type: ignore[misc]


def test_login_throttle_defaults() -> None:
    limits = Settings.from_env({}).limits.login_throttle

    assert (limits.window, limits.first_delay) == (3600, 1)
    assert limits.account == FailureLimit(max_failures=10, max_delay=60)
    assert limits.ip == FailureLimit(max_failures=30, max_delay=900)
    assert limits.pair == FailureLimit(max_failures=5, max_delay=900)


def test_login_throttle_is_read() -> None:
    limits = Settings.from_env(
        {
            "LOGIN_FAILURE_WINDOW": "2h",
            "LOGIN_FIRST_DELAY": "500ms",
            "LOGIN_MAX_FAILURES": "20",
            "LOGIN_ACCOUNT_MAX_DELAY": "30s",
            "LOGIN_IP_MAX_FAILURES": "100",
            "LOGIN_IP_MAX_DELAY": "1h",
            "LOGIN_PAIR_MAX_FAILURES": "3",
            "LOGIN_PAIR_MAX_DELAY": "30m",
        }
    ).limits.login_throttle

    assert (limits.window, limits.first_delay) == (7200, 0.5)
    assert limits.account == FailureLimit(20, 30)
    assert limits.ip == FailureLimit(100, 3600)
    assert limits.pair == FailureLimit(3, 1800)


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("10/1h", Rate(10, 3600)), ("5/m", Rate(5, 60)), (" 3 / 30s ", Rate(3, 30)), ("off", None)],
)
def test_parse_rate(raw: str, rate: Rate | None) -> None:
    assert parse_rate("RATE_LIMIT_REGISTER", raw) == rate


@pytest.mark.parametrize("raw", ["10", "0/1m", "ten/1m", "5/", "5/1x", "-1/1m"])
def test_bad_rates_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_REFRESH"):
        Settings.from_env({"RATE_LIMIT_REFRESH": raw})


def test_rate_limits_default_and_switch_off() -> None:
    assert dict(Settings.from_env({}).limits.rate_limits) == {
        "register": Rate(20, 3600),
        "refresh": Rate(60, 60),
        "forgot_password": Rate(10, 3600),
        "reset_password": Rate(20, 3600),
        "webauthn_options": Rate(60, 60),
        "webauthn_login": Rate(60, 60),
    }
    limits = Settings.from_env({"RATE_LIMIT_REGISTER": "off", "RATE_LIMIT_REFRESH": "2/1s"})
    assert "register" not in limits.limits.rate_limits
    assert limits.limits.rate_limits["refresh"] == Rate(2, 1)


def test_session_and_reset_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.auth.refresh_expires_in == 30 * 86400
    assert settings.auth.refresh_reuse_interval == 10
    assert settings.auth.password_reset_expires_in == 30 * 60
    assert settings.auth.smtp_url is None
    assert settings.auth.smtp_from


def test_session_and_reset_variables() -> None:
    settings = Settings.from_env(
        {
            "REFRESH_EXPIRES_IN": "7d",
            "REFRESH_REUSE_INTERVAL": "2s",
            "PASSWORD_RESET_EXPIRES_IN": "15m",
            "SMTP_URL": "smtps://u:p@mail.example.org:465",
            "SMTP_FROM": "Auth <auth@example.org>",
        }
    )
    assert settings.auth.refresh_expires_in == 7 * 86400
    assert settings.auth.refresh_reuse_interval == 2
    assert settings.auth.password_reset_expires_in == 15 * 60
    assert settings.auth.smtp_url == "smtps://u:p@mail.example.org:465"
    assert settings.auth.smtp_from == "Auth <auth@example.org>"


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_a_bad_smtp_url_names_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="SMTP_URL"):
        Settings.from_env({"SMTP_URL": url})


# ----------------------------------------------------------------------------
# Token keys


def test_token_key_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.auth.jwt_algorithm == "HS256"
    assert settings.auth.jwt_private_key_file is None
    assert settings.auth.jwt_public_key_file is None
    assert settings.auth.jwt_previous_public_key_files == ()
    assert (settings.auth.jwt_issuer, settings.auth.jwt_audience) == ("gatehouse", "gatehouse")
    assert settings.auth.jwks_max_age == 300


@pytest.mark.parametrize(("raw", "algorithm"), [("eddsa", "EdDSA"), ("rs256", "RS256")])
def test_jwt_algorithm_is_read_case_insensitively(raw: str, algorithm: str) -> None:
    settings = Settings.from_env({"JWT_ALGORITHM": raw, "JWT_PRIVATE_KEY_FILE": "/k.pem"})

    assert settings.auth.jwt_algorithm == algorithm


@pytest.mark.parametrize("raw", ["none", "HS512", "ES256", "Ed25519x"])
def test_an_unsupported_jwt_algorithm_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="JWT_ALGORITHM must be one of HS256, EdDSA, RS256"):
        Settings.from_env({"JWT_ALGORITHM": raw})


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_a_key_pair_algorithm_without_key_files_is_refused(app_env: str) -> None:
    with pytest.raises(ConfigError, match="JWT_ALGORITHM=EdDSA needs JWT_PRIVATE_KEY_FILE"):
        Settings.from_env({"APP_ENV": app_env, "JWT_ALGORITHM": "EdDSA"})


def test_production_with_a_key_pair_needs_no_jwt_secret() -> None:
    settings = Settings.from_env(
        {"APP_ENV": "production", "JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_FILE": "/k.pub.pem"}
    )

    assert settings.auth.jwt_secret == ""
    assert settings.auth.jwt_public_key_file == "/k.pub.pem"


def test_token_key_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "JWT_PREVIOUS_PUBLIC_KEY_FILES": " /a.pem, ,/b.pem ,",
            "JWT_ISSUER": "https://id.example",
            "JWT_AUDIENCE": "api.example",
            "JWKS_MAX_AGE": "1h",
        }
    )

    assert settings.auth.jwt_previous_public_key_files == ("/a.pem", "/b.pem")
    assert (settings.auth.jwt_issuer, settings.auth.jwt_audience) == (
        "https://id.example",
        "api.example",
    )
    assert settings.auth.jwks_max_age == 3600


@pytest.mark.parametrize("secret", ["a" * 32, "abcd" * 12, "0123456789abcde" * 3])
def test_production_refuses_a_secret_with_too_little_variety(secret: str) -> None:
    with pytest.raises(ConfigError, match="at least 16 different characters"):
        Settings.from_env({"APP_ENV": "production", "JWT_SECRET": secret})


def test_a_secret_of_sixteen_different_characters_is_enough() -> None:
    secret = "0123456789abcdef" * 2
    assert (
        Settings.from_env({"APP_ENV": "production", "JWT_SECRET": secret}).auth.jwt_secret == secret
    )


def test_edge_settings_default_to_closed() -> None:
    settings = Settings.from_env({})
    assert (
        settings.http.max_json_depth,
        settings.http.cors_origins,
        settings.http.hsts_seconds,
    ) == (32, (), 0)


def test_cors_origins_are_a_comma_separated_list() -> None:
    settings = Settings.from_env(
        {"CORS_ORIGINS": " https://app.example.com/ , http://localhost:5173,,"}
    )
    assert settings.http.cors_origins == ("https://app.example.com", "http://localhost:5173")


@pytest.mark.parametrize("origin", ["*", "app.example.com", "https://x.com/path", "null"])
def test_cors_origins_must_be_origins(origin: str) -> None:
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        Settings.from_env({"CORS_ORIGINS": origin})


@pytest.mark.parametrize(("raw", "expected"), [(None, "human"), ("json", "json"), ("JSON", "json")])
def test_log_format_is_human_unless_json_is_asked(raw: str | None, expected: str) -> None:
    assert Settings.from_env({} if raw is None else {"LOG_FORMAT": raw}).log_format == expected


def test_an_unknown_log_format_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of human, json"):
        Settings.from_env({"LOG_FORMAT": "xml"})
