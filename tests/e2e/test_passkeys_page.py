"""Passkeys on the account page, in headless Chromium with DevTools' virtual authenticator.

The walk: log in with the password, add a passkey (named), log out, sign in
with the passkey alone, see it listed (used), delete it, log out, and the
passkey (still on the authenticator) no longer signs in. WebAuthn needs a
secure context: the page is browsed at http://localhost:PORT (an IP address
would not do), and that origin is the auth worker's WEBAUTHN_ORIGINS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import console_problems, missing_reason, start_chromium, wait_for
from tests.e2e.helpers import PASSWORD
from tests.e2e.stack import Stack
from tests.e2e.test_account_page import AccountPage

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture
def passkey_stack(stack_factory: Callable[..., Stack]) -> Stack:
    """A stack whose auth worker accepts passkeys made on its gateway's localhost page."""
    stack = stack_factory()
    gateway = stack.start("gateway")
    origin = f"http://localhost:{gateway.port}"
    stack.start("user", WEBAUTHN_ORIGINS=origin)
    stack.start("auth", WEBAUTHN_ORIGINS=origin)
    stack.wait_for_instances("user", 1)
    stack.wait_for_instances("auth", 1)
    return stack


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


def passkey_rows(page: AccountPage) -> list[str]:
    return [row.text for row in page.browser.find_elements(By.CSS_SELECTOR, "#passkeys-list tr")]


def test_passkey_register_sign_in_list_delete(
    browser: WebDriver, passkey_stack: Stack, tmp_path: Path
) -> None:
    username = f"pkpage_{uuid.uuid4().hex[:10]}"
    created = httpx.post(
        f"{passkey_stack.url}/api/users/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    page = AccountPage(browser, f"http://localhost:{passkey_stack.gateway.port}/account")
    page.open()
    browser.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    authenticator = browser.execute_cdp_cmd(
        "WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR}
    )["authenticatorId"]

    page.submit("login-form", {"login-username": username, "login-password": PASSWORD})
    wait_for(browser, lambda b: page.signed_in(), "the profile")
    wait_for(browser, lambda b: page.shown("passkeys"), "the passkeys panel")
    assert page.shown("passkeys-empty")

    page.submit("passkey-form", {"passkey-name": "Test laptop"})
    page.wait_message('Passkey "Test laptop" added')
    wait_for(browser, lambda b: len(passkey_rows(page)) == 1, "the new passkey listed")
    assert "Test laptop" in passkey_rows(page)[0]
    assert "never" in passkey_rows(page)[0]
    stored = browser.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1
    assert stored["credentials"][0]["isResidentCredential"] is True
    browser.save_screenshot(str(tmp_path / "passkey-added.png"))

    browser.find_element(By.ID, "logout").click()
    page.wait_message("Logged out")
    assert page.token() is None
    # No username typed: any passkey of this site may answer (a discoverable credential).
    browser.find_element(By.ID, "passkey-login").click()
    page.wait_message(f"Logged in with a passkey as {username}")
    wait_for(browser, lambda b: page.signed_in(), "the profile after a passkey sign-in")
    assert page.text("profile-username") == username
    wait_for(browser, lambda b: len(passkey_rows(page)) == 1, "the passkey listed")
    assert "never" not in passkey_rows(page)[0], "its last use is shown"
    answer = httpx.get(
        f"{passkey_stack.url}/api/users/profile",
        headers={"Authorization": f"Bearer {page.token()}"},
    )
    assert answer.status_code == 200, "the passkey sign-in's token works"

    browser.find_element(By.CSS_SELECTOR, "#passkeys-list button").click()
    page.wait_message('Passkey "Test laptop" deleted')
    wait_for(browser, lambda b: passkey_rows(page) == [], "the list emptied")
    assert page.shown("passkeys-empty")
    browser.save_screenshot(str(tmp_path / "passkey-deleted.png"))

    browser.find_element(By.ID, "logout").click()
    page.wait_message("Logged out")
    # The authenticator still holds the key; the server no longer knows it.
    browser.find_element(By.ID, "passkey-login").click()
    page.wait_message("Passkey not accepted")
    assert page.shown("signed-out")
    assert page.token() is None
    assert console_problems(browser) == []
