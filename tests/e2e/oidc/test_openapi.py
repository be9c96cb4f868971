"""The provider's operations in /openapi.json, fuzzed with schemathesis like
every other operation (tests/e2e/test_openapi_fuzz.py): no 5xx, only the
documented statuses, media types and bodies."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode, checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.e2e.helpers import PASSWORD, bearer, login, register
from tests.e2e.oidc.conftest import Provider
from tests.e2e.test_openapi_fuzz import CHECKS, MAX_EXAMPLES, _operation

OPERATIONS = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/login"),
    ("POST", "/oauth/consent"),
    ("POST", "/oauth/token"),
    ("GET", "/oauth/userinfo"),
    ("POST", "/oauth/userinfo"),
    ("POST", "/oauth/revoke"),
    ("POST", "/oauth/introspect"),
    ("GET", "/oauth/logout"),
    ("POST", "/oauth/logout"),
    ("GET", "/api/account/apps"),
    ("DELETE", "/api/account/apps/{client_id}"),
    ("GET", "/api/admin/clients"),
    ("POST", "/api/admin/clients"),
    ("GET", "/api/admin/clients/{client_id}"),
    ("DELETE", "/api/admin/clients/{client_id}"),
    ("POST", "/api/admin/clients/{client_id}/secret"),
]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    ("POST", "/api/admin/clients", GenerationMode.NEGATIVE)
]


@pytest.fixture(scope="module")
def provider_schema(provider: Provider) -> OpenApiSchema:
    document = httpx.get(provider.endpoint("/openapi.json"), timeout=15).json()
    validate(document)
    served = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert set(OPERATIONS) <= served
    return schemathesis.openapi.from_url(provider.endpoint("/openapi.json"))


@pytest.fixture(scope="module")
async def account_token(provider: Provider) -> str:
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as http:
        assert (await register(http, "oidc_fuzzer")).status_code == 201
        return str((await login(http, "oidc_fuzzer", PASSWORD)).json()["token"])


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_provider_operation_conforms(
    provider_schema: OpenApiSchema,
    account_token: str,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = _operation(provider_schema, method, path)
    sent: Counter[str] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        sent[path] += 1
        judged = CHECKS
        if case.meta is None or not case.meta.is_negative_at(ParameterLocation.BODY):
            judged = [check for check in CHECKS if check is not checks.negative_data_rejection]
        case.call_and_validate(headers=bearer(account_token), checks=judged)

    conforms()
    assert sent[path] > 0
