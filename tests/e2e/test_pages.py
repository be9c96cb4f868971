"""/openapi.json, /docs and the account page as a live gateway serves them."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from openapi_spec_validator import validate

from gateway_app.routes_pages import PAGE_CSP
from tests.e2e.helpers import assert_error

PAGES = ["/", "/account", "/docs"]
# The account page's forms and the operation each one sends.
FORMS = {
    "register-form": ("post", "/api/users/register"),
    "login-form": ("post", "/api/auth/login"),
    "password-form": ("put", "/api/auth/change-password"),
}


class _PageParts(HTMLParser):
    """What a CSP without 'unsafe-inline' would refuse, and what the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.form_fields: dict[str, set[str]] = {}
        self.error_slots: dict[str, set[str]] = {}
        self._form = ""
        self.inline_scripts = 0
        self.inline_styles = 0
        self.handlers: list[str] = []
        self.loads: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.inline_styles += "style" in named or tag == "style"
        if tag == "script":
            self._in_script = "src" not in named
            self.loads.append(named.get("src") or "")
        if tag == "link" and named.get("rel") == "stylesheet":
            self.loads.append(named.get("href") or "")
        if tag == "form":
            self._form = named.get("id") or ""
        if self._form and tag == "input":
            self.form_fields.setdefault(self._form, set()).add(named.get("name") or "")
        if self._form and "data-error-for" in named:
            self.error_slots.setdefault(self._form, set()).add(named["data-error-for"] or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"
        self._form = "" if tag == "form" else self._form

    def handle_data(self, data: str) -> None:
        self.inline_scripts += self._in_script and bool(data.strip())


async def test_openapi_json_is_valid_and_lists_the_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    validate(document)
    assert {"/api/users/register", "/api/auth/login", "/docs", "/"} <= set(document["paths"])


@pytest.mark.parametrize("path", PAGES)
async def test_pages_load_only_our_own_files_and_no_inline_code(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP
    parts = _PageParts()
    parts.feed(response.text)
    assert (parts.inline_scripts, parts.inline_styles, parts.handlers) == (0, 0, [])
    assert parts.loads
    for url in parts.loads:
        assert url.startswith("/assets/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] in {"text/css", "text/javascript"}
        assert asset.headers["content-security-policy"] == PAGE_CSP
        assert asset.headers["x-content-type-options"] == "nosniff"


async def test_account_forms_send_the_fields_the_document_names(
    client: httpx.AsyncClient,
) -> None:
    """Each form's inputs, and the slots its field errors go to, are the
    properties of the request body its operation documents."""
    document = (await client.get("/openapi.json")).json()
    parts = _PageParts()
    parts.feed((await client.get("/account")).text)
    for form, (method, path) in FORMS.items():
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        properties = set(document["components"]["schemas"][name]["properties"])
        assert parts.form_fields[form] <= properties, form
        assert parts.error_slots[form] == parts.form_fields[form], form
    assert parts.form_fields["register-form"] == {"username", "email", "password"}


async def test_swagger_initializer_reads_our_document_offline(client: httpx.AsyncClient) -> None:
    script = (await client.get("/assets/docs.js")).text
    assert 'url: "/openapi.json"' in script
    assert "validatorUrl: null" in script


@pytest.mark.parametrize(
    "name", ["nope.js", "swagger-editor-bundle.js", "account.html", "%2e%2e%2fpyproject.toml"]
)
async def test_an_unknown_asset_is_a_404_in_the_error_shape(
    client: httpx.AsyncClient, name: str
) -> None:
    assert_error(await client.get(f"/assets/{name}"), 404, "not_found")
