"""The login page's second step: a TOTP code or a recovery code on the
second-factor page, and the accounts that page cannot serve (passkey only,
enrolment required) refused with a pointer to the account page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pyotp
import pytest

from tests.conftest import Servers
from tests.e2e.helpers import PASSWORD, claims_of, login, register
from tests.e2e.mfa_helpers import STEP, Enrolled, enrol, execute, verify
from tests.e2e.oidc.conftest import (
    REDIRECT,
    Client,
    Person,
    Provider,
    authorize_url,
    callback_params,
    exchange,
    pkce_pair,
    request_id,
    running_provider,
)
from tests.e2e.passkeys import register_passkey
from tests.e2e.soft_authenticator import SoftAuthenticator

_MFA_TOKEN = re.compile(r'name="mfa_token" value="([^"]+)"')
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


async def token_of(person: Person) -> str:
    answer = await login(person.http, person.username)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


@pytest.fixture
async def enrolled(person: Person) -> Enrolled:
    """TOTP on for the person (enrolled through the API, as the account page does)."""
    return await enrol(person.http, await token_of(person))


async def second_page(
    provider: Provider, client: Client, person: Person
) -> tuple[httpx.Response, str]:
    """Open the authorize URL and log in with the password: (the second-factor page, verifier)."""
    verifier, challenge = pkce_pair()
    page = await person.open(authorize_url(provider, client, code_challenge=challenge))
    assert page.status_code == 200, page.text
    answer = await person.log_in(page)
    assert answer.status_code == 200, answer.text
    assert 'action="/oauth/login/mfa"' in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "script" not in answer.text
    assert answer.headers["content-security-policy"] == page.headers["content-security-policy"]
    return answer, verifier


async def send(person: Person, page: httpx.Response, **proof: str) -> httpx.Response:
    found = _MFA_TOKEN.search(page.text)
    assert found, page.text
    form = {"request_id": request_id(page), "mfa_token": found.group(1), **proof}
    return await person.http.post("/oauth/login/mfa", data=form)


def wrong_code(enrolled: Enrolled) -> str:
    """Six digits that no step near now gives (so the check must fail)."""
    totp = pyotp.TOTP(enrolled.app.secret)
    now = time.time()
    near = {totp.at(now + shift * STEP) for shift in range(-2, 3)}
    return next(
        code
        for code in ("000000", "111111", "222222", "333333", "444444", "555555")
        if code not in near
    )


async def finish(
    provider: Provider, client: Client, person: Person, answer: httpx.Response, verifier: str
) -> dict[str, object]:
    """Consent when asked, then swap the code: the ID token's claims."""
    if answer.status_code == 200 and 'action="/oauth/consent"' in answer.text:
        answer = await person.consent(answer)
    assert answer.status_code in (302, 303), answer.text
    code = callback_params(answer.headers["location"])["code"]
    tokens = await exchange(provider, client, code, verifier)
    assert tokens.status_code == 200, tokens.text
    return claims_of(tokens.json()["id_token"])


async def test_a_code_signs_in_and_the_id_token_says_mfa(
    provider: Provider, web_app: Client, person: Person, enrolled: Enrolled
) -> None:
    page, verifier = await second_page(provider, web_app, person)
    answer = await send(person, page, code=enrolled.app.next_code())
    claims = await finish(provider, web_app, person, answer, verifier)
    assert claims["sub"] == str(person.user_id)
    amr = claims["amr"]
    assert isinstance(amr, list)
    assert {"pwd", "mfa", "otp"} <= set(amr), amr


async def test_a_wrong_code_answers_the_page_again_then_the_right_one_works(
    provider: Provider, web_app: Client, person: Person, enrolled: Enrolled
) -> None:
    page, verifier = await second_page(provider, web_app, person)
    wrong = await send(person, page, code=wrong_code(enrolled))
    assert wrong.status_code == 401, wrong.text
    assert "location" not in wrong.headers
    assert 'action="/oauth/login/mfa"' in wrong.text
    assert 'id="message"' in wrong.text
    assert _MFA_TOKEN.search(wrong.text).group(1) == _MFA_TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    malformed = await send(person, page, code="12ab")
    assert malformed.status_code == 400, malformed.text
    right = await send(person, wrong, code=enrolled.app.next_code())
    claims = await finish(provider, web_app, person, right, verifier)
    assert "mfa" in claims["amr"]  # type: ignore[operator]


async def test_a_recovery_code_works_once(
    provider: Provider, web_app: Client, person: Person, enrolled: Enrolled
) -> None:
    spent = enrolled.recovery_codes[0]
    page, verifier = await second_page(provider, web_app, person)
    answer = await send(person, page, recovery_code=spent)
    claims = await finish(provider, web_app, person, answer, verifier)
    assert "mfa" in claims["amr"]  # type: ignore[operator]
    # A second sign-in (a new browser: no provider cookie) with the same code.
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as fresh:
        again = Person(fresh, person.username, person.user_id)
        page, _ = await second_page(provider, web_app, again)
        refused = await send(again, page, recovery_code=spent)
    assert refused.status_code == 401, refused.text
    assert "location" not in refused.headers
    assert 'action="/oauth/login/mfa"' in refused.text


async def test_a_used_mfa_token_goes_back_to_the_login_page(
    provider: Provider, web_app: Client, person: Person, enrolled: Enrolled
) -> None:
    page, _ = await second_page(provider, web_app, person)
    found = _MFA_TOKEN.search(page.text)
    assert found
    # Spent elsewhere (the API's second step) while the page is open.
    spent = await verify(person.http, found.group(1), code=enrolled.app.next_code())
    assert spent.status_code == 200, spent.text
    replay = await send(person, page, code=enrolled.app.next_code())
    assert replay.status_code == 401, replay.text
    assert 'action="/oauth/login"' in replay.text
    assert "log in again" in replay.text
    forged = await person.http.post(
        "/oauth/login/mfa",
        data={"request_id": request_id(page), "mfa_token": "x" * 40, "code": "123456"},
    )
    assert forged.status_code == 401, forged.text
    assert 'action="/oauth/login"' in forged.text


async def test_a_form_from_another_site_is_refused(
    provider: Provider, web_app: Client, person: Person, enrolled: Enrolled
) -> None:
    page, _ = await second_page(provider, web_app, person)
    found = _MFA_TOKEN.search(page.text)
    assert found
    answer = await person.http.post(
        "/oauth/login/mfa",
        data={"request_id": request_id(page), "mfa_token": found.group(1), "code": "123456"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403, answer.text
    assert "location" not in answer.headers


async def refused_at_login(
    provider: Provider, client: Client, person: Person, status: int
) -> httpx.Response:
    _, challenge = pkce_pair()
    page = await person.open(authorize_url(provider, client, code_challenge=challenge))
    answer = await person.log_in(page)
    assert answer.status_code == status, answer.text
    assert "location" not in answer.headers
    assert 'action="/oauth/login/mfa"' not in answer.text
    assert 'name="mfa_token"' not in answer.text
    assert "/account" in answer.text
    return answer


async def test_a_passkey_only_account_is_sent_to_the_account_page(
    provider: Provider, web_app: Client, person: Person
) -> None:
    # The auth worker accepts ceremonies from http://localhost:<GATEWAY_PORT> by default.
    device = SoftAuthenticator(origin=f"http://localhost:{provider.stack.env['GATEWAY_PORT']}")
    await register_passkey(person.http, await token_of(person), device)
    answer = await refused_at_login(provider, web_app, person, 401)
    assert "passkey" in answer.text


async def test_an_account_that_must_enrol_is_sent_to_the_account_page(
    provider: Provider, web_app: Client, person: Person
) -> None:
    await execute(
        provider.stack.env["DATABASE_URL"],
        "UPDATE users SET mfa_required = TRUE WHERE id = $1",
        person.user_id,
    )
    answer = await refused_at_login(provider, web_app, person, 403)
    assert "second factor first" in answer.text
    # The password alone still proves nothing more than at the API.
    api = await login(person.http, person.username, PASSWORD)
    assert api.json().get("mfa_enrolment_required") is True, api.text


@pytest.fixture(scope="module")
def strict_provider(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Provider]:
    """A provider whose code checks refuse (429) after two wrong codes."""
    with running_provider(
        servers,
        tmp_path_factory,
        "oidc-strict",
        LOGIN_PAIR_MAX_FAILURES="2",
        LOGIN_FIRST_DELAY="20s",
        LOGIN_PAIR_MAX_DELAY="1m",
    ) as running:
        yield running


async def test_wrong_codes_are_throttled_on_the_page(
    strict_provider: Provider, unique: Callable[[str], str]
) -> None:
    app = strict_provider.add_client(
        "Strict wiki", "--redirect-uri", REDIRECT, "--scope", "openid profile email offline_access"
    )
    async with httpx.AsyncClient(base_url=strict_provider.issuer, timeout=15) as http:
        name = unique("opthrottle")
        created = await register(http, name)
        assert created.status_code == 201, created.text
        person = Person(http, name, created.json()["user"]["id"])
        enrolled = await enrol(http, await token_of(person))
        page, _ = await second_page(strict_provider, app, person)
        for _ in range(2):
            wrong = await send(person, page, code=wrong_code(enrolled))
            assert wrong.status_code == 401, wrong.text
        # Past the limit even the right code waits: the page says so, and nothing passes.
        throttled = await send(person, page, code=enrolled.app.next_code())
    assert throttled.status_code == 429, throttled.text
    assert "location" not in throttled.headers
    assert 'action="/oauth/login/mfa"' in throttled.text
    assert "Too many wrong codes" in throttled.text
