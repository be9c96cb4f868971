"""How much one client may try: failed-login throttling and per-address rate limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config.env import Env, Rate

# Gateway routes limited per client IP, by the suffix of their RATE_LIMIT_* variable.
DEFAULT_RATE_LIMITS = {
    "register": "20/1h",
    "refresh": "60/1m",
    "forgot_password": "10/1h",
    "reset_password": "20/1h",
    "verify_email_resend": "5/1h",
    # Passkey sign-in: each options call stores a challenge in Redis.
    "webauthn_options": "60/1m",
    "webauthn_login": "60/1m",
}


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

    @classmethod
    def from_env(cls, env: Env) -> LoginThrottleSettings:
        # LOGIN_MAX_FAILURES keeps the seed-era name: it now counts per resolved account.
        return cls(
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


def _rate_limits(env: Env) -> dict[str, Rate]:
    limits = {}
    for route, default in DEFAULT_RATE_LIMITS.items():
        rate = env.rate(f"RATE_LIMIT_{route.upper()}", default)
        if rate is not None:
            limits[route] = rate
    return limits


@dataclass(frozen=True, slots=True)
class LimitSettings:
    # Failed-login throttling (auth_app/throttle.py).
    login_throttle: LoginThrottleSettings = field(
        default_factory=lambda: LoginThrottleSettings.from_env(Env({}))
    )
    # Per-client-IP limits, by DEFAULT_RATE_LIMITS' names; a missing name is unlimited.
    rate_limits: Mapping[str, Rate] = field(default_factory=lambda: _rate_limits(Env({})))

    @classmethod
    def from_env(cls, env: Env) -> LimitSettings:
        return cls(
            login_throttle=LoginThrottleSettings.from_env(env), rate_limits=_rate_limits(env)
        )
