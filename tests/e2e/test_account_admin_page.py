"""The account page's identity parts in headless Chromium against a live stack:
the address's verified state, resend and an emailed link followed; the admin
view (shown only to admins) finding users, disabling one and ending another's
sessions, each honoured by the API on the very next request."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.e2e.browser import console_problems, missing_reason, start_chromium, wait_for
from tests.e2e.helpers import PASSWORD, bearer, email_for, login, new_account
from tests.e2e.identity import grant
from tests.e2e.stack import Stack
from tests.e2e.test_account_page import AccountPage

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture
def page(stack: Stack, tmp_path: Path) -> Iterator[AccountPage]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield AccountPage(driver, f"{stack.url}/account")
    finally:
        driver.quit()


def mails_to(stack: Stack, email: str) -> list[str]:
    """The verification tokens of the mails to ``email`` the development log shows, in order."""
    user_log = next(p.log for p in stack.processes if p.service == "user")
    pattern = re.compile(rf"mail to {re.escape(email)}: .*?Your verification token: (\S+)", re.S)
    return [str(token) for token in pattern.findall(user_log.read_text(errors="replace"))]


def sign_in(page: AccountPage, name: str) -> None:
    page.open()
    if page.signed_in():
        page.browser.find_element(By.ID, "logout").click()
        page.wait_message("Logged out")
    page.submit("login-form", {"login-username": name, "login-password": PASSWORD})
    wait_for(page.browser, lambda b: page.signed_in(), f"the profile of {name}")


def test_verified_state_resend_and_link(
    page: AccountPage, stack: Stack, unique: Callable[[str], str], tmp_path: Path
) -> None:
    name = unique("pageverify")
    email = email_for(name).lower()
    with httpx.Client(base_url=stack.url, timeout=15) as http:
        assert (
            http.post(
                "/api/users/register", json={"username": name, "email": email, "password": PASSWORD}
            ).status_code
            == 201
        )
    sign_in(page, name)
    wait_for(page.browser, lambda b: page.shown("email-state"), "the address state")
    assert page.text("email-verified") == "Not verified yet"
    assert not page.shown("admin"), "no admin view without the role"

    page.browser.find_element(By.ID, "resend-verification").click()
    page.wait_message("A new verification link is on its way")
    wait_for(
        page.browser,
        lambda b: (
            len(
                re.findall(
                    rf"mail to {re.escape(email)}:",
                    next(p.log for p in stack.processes if p.service == "user").read_text(),
                )
            )
            >= 2
        ),
        "the second mail",
    )
    page.browser.get(f"{stack.url}/account#verify-email={mails_to(stack, email)[-1]}")

    page.wait_message(f"Email address {email} confirmed")
    wait_for(page.browser, lambda b: page.text("email-verified") == "Verified", "verified")
    assert page.browser.current_url.endswith("/account"), "the token leaves the address bar"
    assert not page.browser.find_elements(By.ID, "resend-verification")
    page.browser.save_screenshot(str(tmp_path / "account-verified.png"))
    assert console_problems(page.browser) == []


def test_admin_view_finds_disables_and_logs_out(
    page: AccountPage, stack: Stack, unique: Callable[[str], str], tmp_path: Path
) -> None:
    stem = unique("pageadm")
    admin, victim, other = f"{stem}_admin", f"{stem}_victim", f"{stem}_other"

    async def seed() -> tuple[str, str]:
        async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
            await new_account(http, admin)
            _, victim_token = await new_account(http, victim)
            _, other_token = await new_account(http, other)
            return victim_token, other_token

    victim_token, other_token = asyncio.run(seed())
    grant(stack, email_for(admin))
    sign_in(page, admin)
    wait_for(page.browser, lambda b: page.shown("admin"), "the admin view")

    page.fill({"admin-q": stem})
    page.browser.find_element(By.CSS_SELECTOR, "#admin-search button[type=submit]").click()
    rows = "#admin-users tr"
    wait_for(page.browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, rows)) == 3, "3 users")
    page.browser.save_screenshot(str(tmp_path / "account-admin.png"))

    def button(username: str, action: str) -> WebElement:
        row = next(
            r for r in page.browser.find_elements(By.CSS_SELECTOR, rows) if username in r.text
        )
        return row.find_element(By.CSS_SELECTOR, f"button[data-action={action}]")

    button(victim, "disable").click()
    page.wait_message(f"{victim}: User disabled (1 session(s) ended)")
    wait_for(page.browser, lambda b: button(victim, "enable"), "the Enable button")
    with httpx.Client(base_url=stack.url, timeout=15) as http:
        assert http.get("/api/users/profile", headers=bearer(victim_token)).status_code == 401
        refused = http.post("/api/auth/login", json={"username": victim, "password": PASSWORD})
        assert refused.json()["error"]["code"] == "account_disabled"

        button(other, "logout").click()
        page.wait_message(f"{other}: Sessions ended (1 session(s) ended)")
        assert http.get("/api/users/profile", headers=bearer(other_token)).status_code == 401

    # Another login in this tab, without the role: the view goes away.
    sign_in(page, other)
    wait_for(page.browser, lambda b: not page.shown("admin"), "no admin view")
    assert console_problems(page.browser) == []
    assert asyncio.run(_login_status(stack, victim)) == 403


async def _login_status(stack: Stack, name: str) -> int:
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        return (await login(http, name)).status_code
