"""The gateway's edge: ports, body limits, browser headers, trusted proxies."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from common.config.env import ConfigError, Env

DEFAULT_PORTS = {"gateway": 3000, "user": 3001, "auth": 3002}
PORT_VARIABLES = {"gateway": "GATEWAY_PORT", "user": "USER_HEALTH_PORT", "auth": "AUTH_HEALTH_PORT"}

TrustedProxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    ports: Mapping[str, int]
    max_body_size: int = 64 * 1024
    # Deepest nesting of arrays and objects a request body may have (400 past it).
    max_json_depth: int = 32
    # Origins whose pages may call the API from a browser (CORS); empty: none.
    cors_origins: tuple[str, ...] = ()
    # Strict-Transport-Security max-age; 0 sends no such header (plain HTTP).
    hsts_seconds: int = 0
    # Peers whose X-Forwarded-For the gateway believes (addresses or CIDR ranges).
    trusted_proxies: TrustedProxies = ()
    # Several gateway processes listen on one port together (SO_REUSEPORT).
    reuse_port: bool = False

    def port_for(self, service: str) -> int:
        return self.ports[service]

    @classmethod
    def from_env(cls, env: Env) -> HttpSettings:
        # honcho and foreman give every process its own PORT: it wins for all.
        port = env.port("PORT", 0, listen=True)
        ports = {
            service: port or env.port(PORT_VARIABLES[service], default, listen=True)
            for service, default in DEFAULT_PORTS.items()
        }
        # Except for gateways that share one port: honcho's PORT is one per process.
        shared = env.port("GATEWAY_SHARED_PORT", 0, listen=True)
        if shared:
            ports["gateway"] = shared
        return cls(
            ports=ports,
            reuse_port=bool(shared),
            max_body_size=env.integer("MAX_BODY_SIZE", 64 * 1024, high=64 * 1024 * 1024),
            max_json_depth=env.integer("MAX_JSON_DEPTH", 32, high=200),
            cors_origins=_cors_origins(env),
            hsts_seconds=env.integer("HSTS_SECONDS", 0, low=0, high=10 * 365 * 86400),
            trusted_proxies=_trusted_proxies(env),
        )


def _trusted_proxies(env: Env) -> TrustedProxies:
    networks = []
    for item in env.items("TRUSTED_PROXIES"):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                "TRUSTED_PROXIES must list addresses or CIDR ranges, comma-separated "
                f"(got {item!r})"
            ) from None
    return tuple(networks)


def _cors_origins(env: Env) -> tuple[str, ...]:
    origins = tuple(origin.rstrip("/") for origin in env.items("CORS_ORIGINS"))
    for origin in origins:
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?", origin):
            raise ConfigError(
                "CORS_ORIGINS must be a comma-separated list of origins such as "
                f"https://app.example.com (got {origin!r})"
            )
    return origins
