"""Process entry points: settings, logging, then the service, exit codes that mean something."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from loguru import logger

from common import event_loop
from common.config import DEVELOPMENT_JWT_SECRET, ConfigError, Settings
from common.db.migrations import MigrationError
from common.db.queries import QueryFileError
from common.logging import configure_logging
from common.worker import MethodsFactory, Worker


@contextmanager
def exit_on_config_error(service: str) -> Iterator[None]:
    """Turn a ConfigError (settings, key files) into exit 2 with the reason on stderr."""
    try:
        yield
    except ConfigError as exc:
        print(f"gatehouse {service}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load_settings(service: str) -> Settings:
    """Settings from the environment, or exit 2 with the reason on stderr."""
    with exit_on_config_error(service):
        settings = Settings.from_env()
    configure_logging(service, settings.log_level, settings.log_format)
    if (
        settings.auth.jwt_algorithm == "HS256"
        and settings.auth.jwt_secret == DEVELOPMENT_JWT_SECRET
    ):
        logger.warning(
            "JWT_SECRET is not set: using the development secret (refused in production)"
        )
    return settings


def run_worker(
    service: str,
    build_methods: MethodsFactory,
    *,
    signs_tokens: bool = False,
    require: Callable[[Settings], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; a second one during the drain stops at once.

    ``require`` checks settings only this service needs (raising ConfigError).
    Exits 0 when every request taken was answered, 1 when some were left for a
    live instance to redeliver (drain time out, or a second signal).
    """
    settings = load_settings(service)
    with exit_on_config_error(service):
        if require is not None:
            require(settings)
        worker = Worker(settings, service, build_methods, signs_tokens=signs_tokens)
    try:
        event_loop.run(worker.run())
    except (OSError, QueryFileError, MigrationError) as exc:
        # Unreachable database, or a schema the queries do not match (in
        # production: migrations not applied yet). Say so; no traceback.
        logger.error("{} worker cannot start: {}", service, exc)
        raise SystemExit(1) from None
    if worker.abandoned:
        raise SystemExit(1)
