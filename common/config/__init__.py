"""Typed settings, read once from the environment, one group per concern.

The seed's variable names (``DB_HOST``, ``REDIS_HOST``, ``JWT_EXPIRES_IN``, ...)
keep working; URLs win over the split variables when both are given. Each
group (``settings.http``, ``.rpc``, ``.db``, ``.auth``, ``.limits``, ``.mfa``) reads its
own variables in its own module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from common.config.auth import (
    DEFAULT_JWT_AUDIENCE,
    DEFAULT_JWT_ISSUER,
    DEVELOPMENT_JWT_SECRET,
    AuthSettings,
)
from common.config.db import DatabaseSettings
from common.config.env import ConfigError, Env, Rate, parse_duration, parse_rate
from common.config.http import DEFAULT_PORTS, HttpSettings, TrustedProxies
from common.config.limits import (
    DEFAULT_RATE_LIMITS,
    FailureLimit,
    LimitSettings,
    LoginThrottleSettings,
)
from common.config.mfa import MfaSettings
from common.config.oidc import OidcSettings, check_provider_keys
from common.config.rpc import RpcSettings
from common.config.webauthn import WebAuthnSettings

__all__ = [
    "DEFAULT_JWT_AUDIENCE",
    "DEFAULT_JWT_ISSUER",
    "DEFAULT_PORTS",
    "DEFAULT_RATE_LIMITS",
    "DEVELOPMENT_JWT_SECRET",
    "AuthSettings",
    "ConfigError",
    "DatabaseSettings",
    "FailureLimit",
    "HttpSettings",
    "LimitSettings",
    "LoginThrottleSettings",
    "MfaSettings",
    "OidcSettings",
    "Rate",
    "RpcSettings",
    "Settings",
    "TrustedProxies",
    "WebAuthnSettings",
    "parse_duration",
    "parse_rate",
]

APP_ENVS = ("development", "production")
SERVICE_NAMES = ("gateway", "user", "auth")
LOG_FORMATS = ("human", "json")


@dataclass(frozen=True, slots=True)
class Settings:
    app_env: Literal["development", "production"]
    http: HttpSettings
    rpc: RpcSettings
    db: DatabaseSettings
    auth: AuthSettings
    limits: LimitSettings = field(default_factory=LimitSettings)
    mfa: MfaSettings = field(default_factory=MfaSettings)
    webauthn: WebAuthnSettings = field(default_factory=WebAuthnSettings)
    oidc: OidcSettings = field(default_factory=OidcSettings)
    log_level: str = "INFO"
    # "human" (the default) or "json": one JSON object per line for log shippers.
    log_format: str = "human"

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        app_env = (env.text("APP_ENV") or env.text("NODE_ENV") or "development").lower()
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)} (got {app_env!r})")
        production = app_env == "production"
        auth = AuthSettings.from_env(env, production=production)
        oidc = OidcSettings.from_env(env)
        check_provider_keys(oidc, auth.jwt_algorithm)
        return cls(
            app_env="production" if production else "development",
            http=HttpSettings.from_env(env),
            rpc=RpcSettings.from_env(env),
            db=DatabaseSettings.from_env(env),
            auth=auth,
            limits=LimitSettings.from_env(env),
            mfa=MfaSettings.from_env(env, production=production),
            webauthn=WebAuthnSettings.from_env(env),
            oidc=oidc,
            log_level=(env.text("LOG_LEVEL") or "INFO").upper(),
            log_format=_log_format(env),
        )


def _log_format(env: Env) -> str:
    log_format = (env.text("LOG_FORMAT") or "human").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {log_format!r})"
        )
    return log_format
