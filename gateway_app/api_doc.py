"""How a route is documented: one ``@documented(...)`` declaration per handler.

The declaration holds the route's summary, its request schema (the marshmallow
schema the worker validates with), its success replies and the errors it can
raise. ``gateway_app.openapi.build_document`` reads it for every route the
app serves and refuses a route without one, so a route cannot be served
undocumented. Paths, methods and path parameters come from the router.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from marshmallow import Schema

from common import errors
from common.errors import GatehouseError

_OPERATION_ATTR = "__gatehouse_operation__"

Handler = TypeVar("Handler", bound=Callable[..., Any])
SchemaRef = type[Schema] | Schema


@dataclass(frozen=True)
class Content:
    """A reply that is not a JSON object: a page, a script, a stylesheet..."""

    media_types: tuple[str, ...]
    description: str = "OK"


NO_CONTENT = Content((), "No content")


@dataclass(frozen=True)
class Operation:
    summary: str
    responses: Mapping[int, SchemaRef | Content]
    request: SchemaRef | None = None
    query: SchemaRef | None = None
    errors: tuple[type[GatehouseError], ...] = ()
    auth: bool = False
    rpc: bool = False
    description: str | None = None

    @cached_property
    def body_fields(self) -> frozenset[str]:
        """The top-level keys a client may send in the request body (none without one).

        A request body is closed: the document says ``additionalProperties:
        false`` and the gateway refuses any other key (``gateway_app.body``),
        so what the document accepts and what the server accepts are the same.
        """
        if self.request is None:
            return frozenset()
        schema = self.request() if isinstance(self.request, type) else self.request
        return frozenset(
            field.data_key or name for name, field in schema.fields.items() if not field.dump_only
        )

    def error_classes(self) -> list[type[GatehouseError]]:
        """The declared errors and those that follow from the route's kind."""
        implied: list[type[GatehouseError]] = []
        if self.request is not None or self.query is not None:
            implied += [errors.BadRequest, errors.ValidationFailed]
        if self.request is not None:
            implied += [errors.PayloadTooLarge, errors.UnsupportedMediaType]
        if self.auth:
            implied += [errors.Unauthorized, errors.InvalidToken]
        if self.auth or self.rpc:
            # A call to a worker, or the session check (Redis, else the auth worker).
            implied += [
                errors.ServiceUnavailable,
                errors.NoResponders,
                errors.Overloaded,
                errors.DeadlineExceeded,
            ]
        return list(dict.fromkeys([*implied, *self.errors]))


def documented(
    summary: str,
    *,
    responses: Mapping[int, SchemaRef | Content],
    request: SchemaRef | None = None,
    query: SchemaRef | None = None,
    errors: Iterable[type[GatehouseError]] = (),
    auth: bool = False,
    rpc: bool = False,
    description: str | None = None,
) -> Callable[[Handler], Handler]:
    """Declare how a handler appears in the API document.

    ``auth`` adds the bearer requirement and its 401/503; ``rpc`` the 503/504
    of a call to a worker; a ``request`` schema adds 400, 413 and 415. ``errors``
    lists what else the handler can raise.
    """
    operation = Operation(summary, responses, request, query, tuple(errors), auth, rpc, description)

    def attach(handler: Handler) -> Handler:
        setattr(handler, _OPERATION_ATTR, operation)
        return handler

    return attach


class UndocumentedRoute(LookupError):
    """A route whose handler has no ``@documented`` declaration."""


def declared_operation(handler: Callable[..., Any]) -> Operation | None:
    """The handler's declaration, None when it has none."""
    operation = getattr(handler, _OPERATION_ATTR, None)
    return operation if isinstance(operation, Operation) else None


def operation_of(handler: Callable[..., Any]) -> Operation:
    operation = getattr(handler, _OPERATION_ATTR, None)
    if not isinstance(operation, Operation):
        name = getattr(handler, "__qualname__", repr(handler))
        raise UndocumentedRoute(f"{name} serves a route but has no @documented declaration")
    return operation
