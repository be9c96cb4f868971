"""The account page and /docs in a real headless Chromium against a live stack.

The walk: an error shown next to its field, register, log in, profile, reload
(still logged in), change password (wrong, then right: every session ends),
log in again by email, log out, reload (still logged out). Any script error or
CSP violation in the browser's console fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import console_problems, missing_reason, start_chromium, wait_for
from tests.e2e.helpers import PASSWORD, bearer
from tests.e2e.stack import Stack

NEW_PASSWORD = "another456"

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


class AccountPage:
    """The page's controls by what a person sees, and waits for its answers."""

    def __init__(self, browser: WebDriver, url: str) -> None:
        self.browser = browser
        self.url = url

    def open(self) -> None:
        self.browser.get(self.url)
        wait_for(self.browser, lambda b: self.signed_in() or self.shown("signed-out"), "the page")

    def reload(self) -> None:
        self.browser.refresh()
        wait_for(self.browser, lambda b: self.signed_in() or self.shown("signed-out"), "reload")

    def shown(self, element_id: str) -> bool:
        return bool(self.browser.find_element(By.ID, element_id).is_displayed())

    def signed_in(self) -> bool:
        return self.shown("signed-in") and bool(self.text("profile-username"))

    def text(self, element_id: str) -> str:
        return str(self.browser.find_element(By.ID, element_id).text)

    def fill(self, fields: dict[str, str]) -> None:
        for element_id, value in fields.items():
            field = self.browser.find_element(By.ID, element_id)
            field.clear()
            field.send_keys(value)

    def submit(self, form_id: str, fields: dict[str, str]) -> None:
        self.fill(fields)
        self.browser.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()

    def wait_message(self, fragment: str) -> str:
        wait_for(self.browser, lambda b: fragment in self.text("message"), repr(fragment))
        return self.text("message")

    def token(self) -> str | None:
        stored = self.browser.execute_script("return sessionStorage.getItem('gatehouse.token');")
        return str(stored) if stored else None


@pytest.fixture
def page(browser: WebDriver, stack: Stack) -> AccountPage:
    return AccountPage(browser, f"{stack.url}/account")


def test_account_page_walk(page: AccountPage, stack: Stack, tmp_path: Path) -> None:
    username = f"page_{uuid.uuid4().hex[:10]}"
    email = f"{username}@Example.com"
    page.open()
    assert page.shown("signed-out")
    assert page.token() is None

    # The API's field errors land next to the field they name.
    page.submit(
        "register-form",
        {"register-username": username, "register-email": email, "register-password": "short"},
    )
    page.wait_message("Validation failed")
    password_error = page.browser.find_element(By.ID, "register-password-error")
    wait_for(page.browser, lambda b: "at least 8" in password_error.text, "the field error")
    field = page.browser.find_element(By.ID, "register-password")
    assert field.get_attribute("aria-invalid") == "true"
    assert page.text("register-username-error") == ""
    page.browser.save_screenshot(str(tmp_path / "account-field-error.png"))

    page.submit("register-form", {"register-password": PASSWORD})
    page.wait_message(f"Account {username} created")
    assert page.browser.find_element(By.ID, "login-username").get_attribute("value") == username
    assert page.text("register-password-error") == ""

    page.submit("login-form", {"login-password": PASSWORD})
    wait_for(page.browser, lambda b: page.signed_in(), "the profile")
    assert page.text("profile-username") == username
    assert page.text("profile-email") == email.lower()
    assert page.text("profile-created")
    assert page.token()
    # The sessions panel shows exactly when the API lists sessions.
    listed = httpx.get(f"{stack.url}/api/auth/sessions", headers=bearer(str(page.token())))
    assert page.shown("sessions") == (listed.status_code == 200)
    if listed.status_code == 200:
        assert "this session" in page.text("sessions-list")
        # A second session (another device); the page lists it and ends it.
        other = httpx.post(
            f"{stack.url}/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert other.status_code == 200, other.text
        page.reload()
        rows = "#sessions-list tr"
        wait_for(page.browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, rows)) == 2, "2")
        end_other = f"{rows}:not(:has(button.current)) button"
        page.browser.find_element(By.CSS_SELECTOR, end_other).click()
        page.wait_message("Session ended")
        wait_for(page.browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, rows)) == 1, "1")
        answer = httpx.get(f"{stack.url}/api/users/profile", headers=bearer(other.json()["token"]))
        assert answer.status_code == 401, "the ended session's token is refused"
    page.browser.save_screenshot(str(tmp_path / "account-signed-in.png"))

    page.reload()
    assert page.signed_in(), "a reload keeps the session of this tab"
    assert page.text("profile-username") == username

    page.submit("password-form", {"current-password": "wrong-pass1", "new-password": NEW_PASSWORD})
    page.wait_message("Current password is incorrect")
    assert page.signed_in()
    page.submit("password-form", {"current-password": PASSWORD, "new-password": NEW_PASSWORD})
    page.wait_message("Password changed")
    assert page.shown("signed-out")
    assert page.token() is None

    page.submit("login-form", {"login-username": username, "login-password": PASSWORD})
    page.wait_message("Invalid")
    assert page.shown("signed-out")
    page.submit("login-form", {"login-username": email, "login-password": NEW_PASSWORD})
    wait_for(page.browser, lambda b: page.signed_in(), "the profile after a login by email")

    page.browser.find_element(By.ID, "logout").click()
    page.wait_message("Logged out")
    assert page.token() is None
    page.reload()
    assert page.shown("signed-out"), "a reload after logout stays logged out"
    assert not page.shown("signed-in")

    assert console_problems(page.browser) == []


def test_docs_page_renders_the_document_offline(
    browser: WebDriver, stack: Stack, tmp_path: Path
) -> None:
    browser.get(f"{stack.url}/docs")
    wait_for(
        browser,
        lambda b: b.find_elements(By.CSS_SELECTOR, "#operations-users-register"),
        "Swagger UI to list POST /api/users/register",
    )
    title = browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
    assert "Gatehouse" in title
    browser.save_screenshot(str(tmp_path / "docs.png"))
    assert console_problems(browser) == []
