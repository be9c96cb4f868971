"""A person in Chromium: an app on another loopback port sends them to
Gatehouse, they log in and consent on our pages, and the app greets them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import console_problems, missing_reason, start_chromium, wait_for
from tests.e2e.helpers import PASSWORD, register
from tests.e2e.oidc.conftest import Provider
from tests.e2e.oidc.relying_party import RelyingParty

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


async def test_sign_in_to_another_app_through_gatehouse(
    provider: Provider, browser: WebDriver, unique: Callable[[str], str]
) -> None:
    import httpx

    name = unique("web")
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as http:
        assert (await register(http, name)).status_code == 201
    with RelyingParty(provider.issuer) as app:
        client = provider.add_client("Team app", "--redirect-uri", app.redirect_uri)
        app.client_id, app.client_secret = client.client_id, client.client_secret or ""

        browser.get(app.url)
        browser.find_element(By.ID, "sign-in").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "oauth-login"), "the login page")
        assert browser.find_element(By.ID, "client-name").text == "Team app"
        browser.find_element(By.ID, "login-username").send_keys(name)
        browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "oauth-consent"), "the consent page")
        scopes = [li.get_attribute("data-scope") for li in browser.find_elements(By.TAG_NAME, "li")]
        assert scopes == ["email", "openid", "profile"]
        assert console_problems(browser) == []
        browser.find_element(By.ID, "consent-allow").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "greeting"), "the app's greeting")
        assert browser.find_element(By.ID, "greeting").text == f"Hello, {name}"
        assert browser.current_url.startswith(app.redirect_uri)

        # Signed in at Gatehouse and consented: the next sign-in asks nothing.
        browser.get(app.url)
        browser.find_element(By.ID, "sign-in").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "greeting"), "the second greeting")

        # The account page lists the app, and revoking it makes the app ask again.
        browser.get(f"{provider.issuer}/account")
        wait_for(browser, lambda b: b.find_element(By.ID, "login-form").is_displayed(), "login")
        browser.find_element(By.ID, "login-username").send_keys(name)
        browser.find_element(By.ID, "login-password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
        row = f'#apps-list tr[data-client-id="{client.client_id}"]'
        wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, row), "the app's row")
        assert "Team app" in browser.find_element(By.CSS_SELECTOR, row).text
        browser.find_element(By.CSS_SELECTOR, f"{row} button").click()
        wait_for(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, row), "the revoke")
        assert browser.find_element(By.ID, "apps-empty").is_displayed()
        assert console_problems(browser) == []
        browser.get(app.url)
        browser.find_element(By.ID, "sign-in").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "oauth-consent"), "consent again")
