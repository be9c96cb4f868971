"""gateway_app/openapi.py: the document covers exactly the routes served, and validates."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from openapi_spec_validator import validate
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.schemas import TOKEN_FIELDS
from common.config import Settings
from common.errors import Conflict
from gateway_app.api_doc import NO_CONTENT, UndocumentedRoute, documented, operation_of
from gateway_app.api_schemas import MessageReply
from gateway_app.app import create_app
from gateway_app.openapi import build_document, openapi_path
from gateway_app.rate_limits import LIMITED_ROUTES
from gateway_app.responses import json_response

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ERROR_REF = {"$ref": "#/components/schemas/ErrorReply"}


@pytest.fixture
def app_factory(settings: Settings) -> Callable[[], Sanic[Any, Any]]:
    def make() -> Sanic[Any, Any]:
        return create_app(settings, name=f"gatehouse_doc_{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture
def app(app_factory: Callable[[], Sanic[Any, Any]]) -> Sanic[Any, Any]:
    return app_factory()


@pytest.fixture
def document(app: Sanic[Any, Any]) -> dict[str, Any]:
    return build_document(app)


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_every_served_route_is_documented_and_nothing_else(
    app: Sanic[Any, Any], document: dict[str, Any]
) -> None:
    served = {
        (method, openapi_path(route.path))
        for route in app.router.routes
        for method in route.methods
    }
    assert served == set(operations(document))
    # The seed's routes and the pages are all there (a sanity check on `served`).
    assert {("POST", "/api/users/register"), ("GET", "/openapi.json"), ("GET", "/")} <= served


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_a_route_without_a_declaration_is_refused(app: Sanic[Any, Any]) -> None:
    async def secret(request: Request) -> HTTPResponse:
        return json_response({})

    app.add_route(secret, "/undocumented", methods=["GET"])
    with pytest.raises(UndocumentedRoute, match="secret"):
        build_document(app)


def test_a_declared_route_appears_with_its_parameters_and_errors(app: Sanic[Any, Any]) -> None:
    @documented("Drop a widget", responses={204: NO_CONTENT}, errors=[Conflict], auth=True)
    async def drop_widget(request: Request, id: int) -> HTTPResponse:
        return json_response({})

    app.add_route(drop_widget, "/api/widgets/<id:int>", methods=["DELETE"])
    operation = operations(build_document(app))[("DELETE", "/api/widgets/{id}")]
    assert operation["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    assert operation["security"] == [{"bearer": []}]
    assert set(operation["responses"]) == {"204", "401", "409", "503", "504"}
    assert "content" not in operation["responses"]["204"]


def test_request_bodies_leave_out_what_the_gateway_adds(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = [
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for op in operations(document).values()
        if "requestBody" in op
    ]
    assert {"RegisterParams", "LoginParams", "ChangePasswordParams"} <= set(bodies)
    for name in bodies:
        assert not set(TOKEN_FIELDS) & set(schemas[name]["properties"]), name
    assert set(schemas["ChangePasswordParams"]["required"]) == {"currentPassword", "newPassword"}


def test_protected_routes_need_the_bearer_scheme_and_document_401(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    ops = operations(document)
    for key in [("GET", "/api/users/profile"), ("PUT", "/api/auth/change-password")]:
        assert ops[key]["security"] == [{"bearer": []}], key
        assert "401" in ops[key]["responses"], key
    assert "security" not in ops[("POST", "/api/auth/login")]


def test_every_error_status_uses_the_one_error_shape(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) >= 400 and key[1] != "/health":  # its 503 is a health report
                assert response["content"]["application/json"]["schema"] == ERROR_REF, key
                assert response["headers"]["X-Request-ID"]["required"], key
                retry = response["headers"].get("Retry-After")
                assert (retry is not None) == (status in {"429", "503"}), (key, status)
    login = operations(document)[("POST", "/api/auth/login")]["responses"]
    assert {"200", "400", "401", "413", "415", "429", "503", "504"} == set(login)
    assert "invalid_credentials" in login["401"]["description"]
    register = operations(document)[("POST", "/api/users/register")]["responses"]
    assert "201" in register
    assert "409" in register


def test_rate_limited_routes_document_429(document: dict[str, Any]) -> None:
    for path in LIMITED_ROUTES:
        for method, operation in document["paths"][path].items():
            assert "429" in operation["responses"], (method, path)


def test_json_replies_are_marshmallow_components(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ErrorReply"]["required"] == ["error", "request_id", "success"]
    assert set(schemas["LoginReply"]["required"]) == {
        "success",
        "message",
        "token",
        "user",
        "refresh_token",
        "expires_in",
        "token_type",
    }
    assert MessageReply.__name__ in schemas


@pytest.mark.parametrize(
    ("sanic_path", "expected"),
    [
        ("", "/"),
        ("api/users/profile", "/api/users/profile"),
        ("api/auth/sessions/<id:int>", "/api/auth/sessions/{id}"),
        ("assets/<name>", "/assets/{name}"),
    ],
)
def test_openapi_path(sanic_path: str, expected: str) -> None:
    assert openapi_path(sanic_path) == expected


def _request_body_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schemas = document["components"]["schemas"]
    return {
        name: schemas[name]
        for op in operations(document).values()
        if "requestBody" in op
        for name in [
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        ]
    }


def test_every_request_body_is_closed(document: dict[str, Any]) -> None:
    bodies = _request_body_schemas(document)

    assert bodies
    assert {
        name for name, schema in bodies.items() if schema.get("additionalProperties") is not False
    } == set()


def test_the_gateway_accepts_exactly_the_documented_body_fields(app: Sanic[Any, Any]) -> None:
    document = build_document(app)
    schemas = document["components"]["schemas"]
    checked = 0
    for route in app.router.routes:
        operation = operation_of(route.handler)
        if operation.request is None:
            continue
        for method in route.methods:
            documented = document["paths"][openapi_path(route.path)][method.lower()]
            body = documented["requestBody"]["content"]["application/json"]["schema"]
            name = body["$ref"].rsplit("/", 1)[1]
            assert operation.body_fields == set(schemas[name]["properties"]), (method, route.path)
            checked += 1
    assert checked >= 8


def _string_properties(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}.{field}", prop)
        for name, schema in _request_body_schemas(document).items()
        for field, prop in schema["properties"].items()
        if prop.get("type") == "string"
    ]


def test_every_request_string_documents_that_control_characters_are_refused(
    document: dict[str, Any],
) -> None:
    strings = _string_properties(document)

    assert strings
    for where, prop in strings:
        pattern = prop.get("pattern")
        assert pattern, f"{where} has no pattern"
        # Python's re reads these patterns as ECMA-262 does (the generators use it).
        for unstorable in ("Ab_cd1234\x00", "Ab_cd1234\n", "Ab_cd1234\x1b", "Ab_cd1234\x85"):
            assert not re.search(pattern, unstorable), (where, unstorable)


def test_every_pattern_of_the_document_is_a_regular_expression_to_validators(
    document: dict[str, Any],
) -> None:
    # jsonschema-rs (what schemathesis validates with) refuses what most ECMA
    # engines refuse, such as a range of lone surrogates; and it must read each
    # pattern as the server's Python does (a 6-digit code, a plain name).
    samples = ("Ab_cd1234", "123456", "ada@example.com", "", "Ab_cd1234\x00")
    for where, prop in _string_properties(document):
        schema = {"type": "string", "pattern": prop["pattern"]}
        jsonschema_rs.validator_for(schema)
        for sample in samples:
            expected = re.search(prop["pattern"], sample) is not None
            assert jsonschema_rs.is_valid(schema, sample) == expected, (where, sample)


def test_rules_across_fields_are_in_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    either = [{"required": ["username"]}, {"required": ["email"]}]

    assert schemas["LoginParams"]["anyOf"] == either
    assert schemas["UpdateProfileParams"]["anyOf"] == either
