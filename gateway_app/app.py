"""The gateway application, built by ``create_app(settings)``.

Redis clients, the RPC client and the heartbeat open in a before-start
listener and close after stop, so importing this module opens nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loguru import logger
from redis.exceptions import RedisError
from sanic import Request, Sanic
from sanic.exceptions import RequestCancelled
from sanic.response import HTTPResponse

from common.accounts.schemas import ChangePasswordParams, LoginParams, RegisterParams, client_view
from common.config import Settings
from common.context import accept_request_id, origin_var, request_id_var
from common.errors import (
    ClientClosed,
    Conflict,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    http_status,
)
from common.keys import Keys
from common.logging import log_access, set_instance
from common.redis_client import blocking_client_for, command_client_for
from common.replication import ReplicaConfirm
from common.rpc.client import REPLY_BLOCK_SECONDS, RpcClient
from common.rpc.registry import Registry, describe_process, new_instance_id
from common.rpc.slots import keys_for
from common.security.tokens import TokenVerifier
from gateway_app import api_schemas as replies
from gateway_app.api_doc import documented
from gateway_app.api_schemas_mfa import LoginAnswer
from gateway_app.auth import call_as_caller
from gateway_app.body import call_with_body
from gateway_app.client_ip import client_ip, user_agent
from gateway_app.edge import EdgeRequest, install_edge
from gateway_app.errors import render_error
from gateway_app.oauth.account_routes import register_oauth_account_routes
from gateway_app.oauth.routes import register_oauth_routes
from gateway_app.rate_limits import register_rate_limits
from gateway_app.responses import json_response
from gateway_app.routes_account import register_account_routes
from gateway_app.routes_admin import register_admin_routes
from gateway_app.routes_email import register_email_routes
from gateway_app.routes_keys import register_key_routes
from gateway_app.routes_metrics import register_metrics_routes
from gateway_app.routes_mfa import challenge_answer, register_mfa_routes
from gateway_app.routes_pages import register_pages_routes
from gateway_app.routes_sessions import register_sessions_routes, token_answer
from gateway_app.routes_webauthn import register_webauthn_routes
from gateway_app.verified_tokens import VerifiedTokens

SERVICE = "gateway"
BACKEND_SERVICES = ("user", "auth")
CLIENT_CLOSED = http_status(ClientClosed.code)


def create_app(settings: Settings, *, name: str = "gatehouse_gateway") -> Sanic[Any, Any]:
    app: Sanic[Any, Any] = Sanic(name, configure_logging=False, request_class=EdgeRequest)
    app.config.REQUEST_MAX_SIZE = settings.http.max_body_size
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = settings.rpc.rpc_timeout + 1
    app.ctx.settings = settings
    # Built (and on a Redis Cluster, checked slot by slot) before anything opens.
    app.ctx.keys = keys_for(settings.rpc)
    # Public keys only (or the HS256 secret): the gateway never signs.
    app.ctx.verifier = TokenVerifier.from_settings(settings)
    app.ctx.tokens = VerifiedTokens(app.ctx.verifier)
    app.error_handler.add(Exception, render_error)
    # A client that hung up cancels its handler: not an Exception, still ours to log.
    app.error_handler.add(RequestCancelled, render_error)

    app.register_listener(_open_resources, "before_server_start")
    app.register_listener(_close_resources, "after_server_stop")
    app.register_middleware(_tag_request, "request")
    app.register_middleware(_echo_request_id, "response")  # type: ignore[arg-type]
    install_edge(app)

    app.add_route(register, "/api/users/register", methods=["POST"])
    app.add_route(profile, "/api/users/profile", methods=["GET"])
    app.add_route(login, "/api/auth/login", methods=["POST"])
    app.add_route(change_password, "/api/auth/change-password", methods=["PUT"])
    app.add_route(health, "/health", methods=["GET", "HEAD"])
    app.add_route(alive, "/health/live", methods=["GET", "HEAD"])
    app.add_route(services, "/services", methods=["GET", "HEAD"])
    register_metrics_routes(app)
    register_rate_limits(app)
    register_sessions_routes(app)
    register_account_routes(app)
    register_key_routes(app)
    register_mfa_routes(app)
    register_webauthn_routes(app)
    register_pages_routes(app)
    register_email_routes(app)
    register_admin_routes(app)
    # The OpenID Connect provider, when OIDC_ENABLED=true (gateway_app/oauth/).
    register_oauth_routes(app)
    register_oauth_account_routes(app)
    return app


async def _open_resources(app: Sanic[Any, Any]) -> None:
    settings: Settings = app.ctx.settings
    keys: Keys = app.ctx.keys
    app.ctx.instance = new_instance_id(SERVICE)
    set_instance(app.ctx.instance)
    app.ctx.redis = command_client_for(settings.rpc, max_connections=32)
    app.ctx.blocking_redis = blocking_client_for(settings.rpc, block_seconds=REPLY_BLOCK_SECONDS)
    app.ctx.registry = Registry(app.ctx.redis, keys, ttl=settings.rpc.heartbeat_ttl)
    app.ctx.stats = app.ctx.metrics.rpc
    app.ctx.rpc = RpcClient(
        app.ctx.redis,
        app.ctx.blocking_redis,
        keys,
        app.ctx.registry,
        app.ctx.instance,
        default_timeout=settings.rpc.rpc_timeout,
        max_inflight=settings.rpc.max_inflight_calls,
        max_queue_length=settings.rpc.max_queue_length,
        stats=app.ctx.stats,
        replicas=ReplicaConfirm(app.ctx.redis, settings.rpc.replica_wait),
    )
    await app.ctx.rpc.start()
    app.ctx.heartbeat = asyncio.create_task(_heartbeat(app), name="heartbeat")
    logger.info(
        "gateway {} listening on port {}", app.ctx.instance, settings.http.port_for(SERVICE)
    )


async def _close_resources(app: Sanic[Any, Any]) -> None:
    app.ctx.heartbeat.cancel()
    await asyncio.gather(app.ctx.heartbeat, return_exceptions=True)
    try:
        await app.ctx.registry.leave(SERVICE, app.ctx.instance)
    except RedisError as exc:
        logger.warning("could not leave the registry: {}", exc)
    await app.ctx.rpc.close()
    await app.ctx.redis.aclose()
    await app.ctx.blocking_redis.aclose()


async def _heartbeat(app: Sanic[Any, Any]) -> None:
    settings: Settings = app.ctx.settings
    info = describe_process(SERVICE) | {"port": settings.http.port_for(SERVICE)}
    # A gateway killed with -9 never leaves: the others forget it once no call
    # of it can still be waiting (twice the longest call).
    dead_for_ms = int(max(settings.rpc.rpc_timeout, settings.rpc.heartbeat_ttl) * 2000)
    while True:
        try:
            await app.ctx.registry.heartbeat(SERVICE, app.ctx.instance, info)
            for gone in await app.ctx.registry.forget_dead_callers(
                SERVICE, dead_for_ms=dead_for_ms
            ):
                logger.info("forgot dead gateway {} and its reply list", gone)
        except RedisError as exc:
            logger.warning("heartbeat failed: {}", exc)
        await asyncio.sleep(settings.rpc.heartbeat_interval)


async def _tag_request(request: Request) -> None:
    request.ctx.started = time.perf_counter()
    request.ctx.request_id = accept_request_id(request.headers.get("x-request-id"))
    request_id_var.set(request.ctx.request_id)
    origin = {
        "client_ip": client_ip(
            request.ip,
            request.headers.getall("x-forwarded-for", []),
            request.app.ctx.settings.http.trusted_proxies,
        )
    }
    agent = user_agent(request.headers.get("user-agent"))
    if agent is not None:
        origin["user_agent"] = agent
    origin_var.set(origin)


async def _echo_request_id(request: Request, response: HTTPResponse) -> None:
    """Echo the request id and write the access line (no query string: it may hold secrets)."""
    request_id = getattr(request.ctx, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    started = getattr(request.ctx, "started", None)
    elapsed = f"{(time.perf_counter() - started) * 1000:.1f}ms" if started else "-"
    # The answer to a client that hung up was never sent: say so, not "500".
    status = (
        f"{response.status} client closed" if response.status == CLIENT_CLOSED else response.status
    )
    log_access(request.method, request.path, status, elapsed)


@documented(
    "Register a user; publishes user.created",
    request=RegisterParams,
    responses={201: replies.AccountReply},
    errors=[Conflict, RateLimited],
    rpc=True,
)
async def register(request: Request) -> HTTPResponse:
    result = await call_with_body(request, "user.register")
    return json_response(
        {"success": True, "message": "User registered successfully", "user": result["user"]},
        status=201,
    )


@documented(
    "Log in with a username (or email) and password",
    description="`username` may hold the username or the email; `email` works too. With a "
    "second factor on, the answer is `mfa_required` and an `mfa_token` (no token): finish "
    "with POST /api/auth/mfa/verify.",
    request=LoginParams,
    responses={200: LoginAnswer},
    errors=[InvalidCredentials, RateLimited],
    rpc=True,
)
async def login(request: Request) -> HTTPResponse:
    result = await call_with_body(request, "auth.login")
    # With a second factor (or one required), a challenge first and no token.
    return challenge_answer(result) or token_answer(result, "Login successful")


@documented(
    "Change the password; ends every session of the user, this one included",
    request=client_view(ChangePasswordParams),
    responses={200: replies.MessageReply},
    errors=[InvalidCredentials],
    auth=True,
)
async def change_password(request: Request) -> HTTPResponse:
    await call_as_caller(request, "auth.change_password", body=True)
    return json_response({"success": True, "message": "Password changed successfully"})


@documented(
    "The caller's profile",
    responses={200: replies.ProfileReply},
    errors=[NotFound, InvalidToken],
    auth=True,
)
async def profile(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "user.profile")
    return json_response({"success": True, "user": result["user"]})


@documented(
    "Health of the gateway and its dependencies",
    responses={200: replies.HealthReply, 503: replies.HealthReply},
)
async def health(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    dependencies: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.wait_for(ctx.redis.ping(), 2)
        dependencies["redis"] = {"status": "up"}
        for service in BACKEND_SERVICES:
            count = await ctx.registry.live_count(service)
            dependencies[service] = {"status": "up" if count else "down", "instances": count}
    except (RedisError, TimeoutError):
        dependencies["redis"] = {"status": "down"}
        for service in BACKEND_SERVICES:
            dependencies[service] = {"status": "unknown"}
    healthy = all(dep["status"] == "up" for dep in dependencies.values())
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "service": "api-gateway",
        "instance": ctx.instance,
        "dependencies": dependencies,
        "inflight": ctx.rpc.inflight,
    }
    return json_response(body, status=200 if healthy else 503)


@documented("Liveness: the process answers", responses={200: replies.AliveReply})
async def alive(request: Request) -> HTTPResponse:
    """Liveness for orchestrators: the process answers, whatever its dependencies."""
    return json_response({"status": "alive"})


@documented(
    "Live service instances from the registry",
    responses={200: replies.ServicesReply},
    errors=[ServiceUnavailable],
)
async def services(request: Request) -> HTTPResponse:
    try:
        instances = await request.app.ctx.registry.live_instances()
    except RedisError as exc:
        raise ServiceUnavailable("Service registry unreachable") from exc
    for name in (SERVICE, *BACKEND_SERVICES):
        instances.setdefault(name, [])
    return json_response({"success": True, "services": instances})
