"""The OpenAPI 3.1 document, built from the routes the app really serves.

``build_document(app)`` walks ``app.router.routes``, reads each handler's
``@documented`` declaration (``gateway_app.api_doc``) and renders it with
apispec's marshmallow plugin; a route without a declaration is refused.

Two rules hold for every route, so that a new one gets them without asking:
request bodies are closed (``additionalProperties: false``, which the gateway
enforces from the same declaration, ``gateway_app.body``), and a schema's
``Meta.json_schema`` (rules across fields, such as "username or email") is
merged into its JSON Schema.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import fields
from sanic import Sanic

from common.errors import GatehouseError, http_status
from gateway_app.api_doc import Content, Operation, SchemaRef, operation_of
from gateway_app.api_schemas import ErrorReply

OPENAPI_VERSION = "3.1.0"
BEARER = "bearer"
TAGS = {
    "users": "Accounts and profiles",
    "auth": "Logging in, passwords and sessions",
    "service": "Health, discovery and keys",
    "admin": "Operators (role admin): users, roles, sessions",
    "pages": "The account page, the docs page and this document",
}
_PAGES = {"", "account", "docs", "assets", "openapi.json"}


class _Converter(OpenAPIConverter):
    """apispec's converter, plus the rules a schema states in ``Meta.json_schema``."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        extra = getattr(getattr(schema, "Meta", None), "json_schema", None)
        if extra:
            jsonschema.update(extra)
        return jsonschema


def _dict_key_names(
    converter: OpenAPIConverter, field: fields.Field[Any], **_: Any
) -> dict[str, Any]:
    """A ``Dict``'s key field as ``propertyNames``: apispec documents only its values,
    so a key the server refuses (a control character, say) looked valid."""
    if isinstance(field, fields.Dict) and field.key_field is not None:
        return {"propertyNames": converter.field2property(field.key_field)}
    return {}


class _Plugin(MarshmallowPlugin):
    Converter = _Converter

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        assert self.converter is not None
        self.converter.add_attribute_function(_dict_key_names)  # type: ignore[no-untyped-call]


def build_document(app: Sanic[Any, Any]) -> dict[str, Any]:
    spec = APISpec(
        title="Gatehouse",
        version=version("gatehouse"),
        openapi_version=OPENAPI_VERSION,
        plugins=[_Plugin()],
        info={"description": "User accounts and authentication (gateway HTTP API)."},
    )
    spec.components.security_scheme(
        BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("ErrorReply", schema=ErrorReply)
    for name, description in TAGS.items():
        spec.tag({"name": name, "description": description})
    operation_ids: set[str] = set()
    by_path: dict[str, dict[str, Any]] = {}
    for route in sorted(app.router.routes, key=lambda r: r.path):
        operation = operation_of(route.handler)
        path = openapi_path(route.path)
        parameters = _path_parameters(route.path)
        for method in sorted(route.methods):
            operation_id = _unique(route.handler.__name__, method, operation_ids)
            by_path.setdefault(path, {})[method.lower()] = _operation(
                operation, operation_id, path, parameters
            )
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    _close_request_bodies(document)
    return document


def _close_request_bodies(document: dict[str, Any]) -> None:
    """Every request body schema says no other property is allowed."""
    schemas = document.get("components", {}).get("schemas", {})
    for item in document["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody")
            if body is None:
                continue
            for content in body["content"].values():
                schema = content["schema"]
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
                schema["additionalProperties"] = False


_SANIC_PARAM = re.compile(r"<(\w+)(?::(\w+))?>")


def openapi_path(sanic_path: str) -> str:
    """``api/auth/sessions/<id:int>`` -> ``/api/auth/sessions/{id}``."""
    return "/" + _SANIC_PARAM.sub(r"{\1}", sanic_path)


def _path_parameters(sanic_path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            # Sanic's default parameter type matches one path segment.
            "schema": {"type": "integer"}
            if label == "int"
            else {"type": "string", "pattern": r"^[^/]+$"},
        }
        for name, label in _SANIC_PARAM.findall(sanic_path)
    ]


def _unique(name: str, method: str, taken: set[str]) -> str:
    candidate = name if name not in taken else f"{name}_{method.lower()}"
    suffix = 2
    while candidate in taken:
        candidate, suffix = f"{name}_{method.lower()}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def _operation(
    operation: Operation, operation_id: str, path: str, parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": operation_id,
        "summary": operation.summary,
        "tags": [_tag(path)],
        "responses": {
            **{str(status): _reply(reply) for status, reply in operation.responses.items()},
            **_error_replies(operation.error_classes()),
        },
    }
    if operation.description:
        doc["description"] = operation.description
    if operation.query is not None:
        parameters = [*parameters, {"in": "query", "schema": operation.query}]
    if parameters:
        doc["parameters"] = parameters
    if operation.request is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.request}},
        }
    if operation.auth:
        doc["security"] = [{BEARER: []}]
    return doc


def _tag(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 1:
        return parts[1]
    return "pages" if parts[0] in _PAGES else "service"


def _reply(reply: SchemaRef | Content) -> dict[str, Any]:
    if isinstance(reply, Content):
        if not reply.media_types:
            return {"description": reply.description}
        return {
            "description": reply.description,
            "content": {media: {"schema": {"type": "string"}} for media in reply.media_types},
        }
    return {"description": "OK", "content": {"application/json": {"schema": reply}}}


_REQUEST_ID_HEADER = {
    "description": "The request id, also in the body (send your own to trace a call)",
    "required": True,
    "schema": {"type": "string"},
}
_RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer"},
}
# Statuses whose every error carries Retry-After (gateway_app/errors.py).
_RETRY_STATUSES = {429, 503}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorReply"}}}


def _error_replies(classes: list[type[GatehouseError]]) -> dict[str, Any]:
    """One response per status, naming every error code it can carry."""
    codes_by_status: dict[int, list[str]] = {}
    for cls in classes:
        codes_by_status.setdefault(http_status(cls.code), []).append(cls.code)
    replies = {}
    for status, codes in sorted(codes_by_status.items()):
        headers = {"X-Request-ID": _REQUEST_ID_HEADER}
        if status in _RETRY_STATUSES:
            headers["Retry-After"] = _RETRY_AFTER_HEADER
        replies[str(status)] = {
            "description": "Error: " + ", ".join(dict.fromkeys(codes)),
            "headers": headers,
            "content": _ERROR_CONTENT,
        }
    return replies
