"""Two-factor authentication on the account page, in a real headless Chromium.

The walk: log in, set up an authenticator app (the QR code shown as an image,
the key read off the page and turned into codes with pyotp, as a phone
would), see the recovery codes once, log out, log in again with a code,
log in with a recovery code, make new recovery codes, turn it off. Any
script error or CSP violation in the console fails the test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import console_problems, missing_reason, wait_for
from tests.e2e.helpers import PASSWORD, email_for
from tests.e2e.mfa_helpers import Authenticator
from tests.e2e.stack import Stack
from tests.e2e.test_account_page import AccountPage, browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


def log_in(page: AccountPage, username: str) -> None:
    page.submit("login-form", {"login-username": username, "login-password": PASSWORD})
    wait_for(page.browser, lambda b: page.shown("mfa-step"), "the second step")
    assert page.token() is None, "no token before the second step"


def test_enrol_log_out_and_log_in_with_a_code(
    browser: WebDriver,  # noqa: F811 (the fixture imported above)
    stack: Stack,
    tmp_path: Path,
) -> None:
    page = AccountPage(browser, f"{stack.url}/account")
    username = f"pagemfa_{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{stack.url}/api/users/register",
        json={"username": username, "email": email_for(username), "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    page.open()
    page.submit("login-form", {"login-username": username, "login-password": PASSWORD})
    wait_for(page.browser, lambda b: page.signed_in(), "the profile")
    wait_for(page.browser, lambda b: page.shown("mfa"), "the two-factor panel")
    assert page.text("mfa-state") == "Off."

    page.submit("mfa-enrol-form", {"mfa-enrol-password": "wrong-pass1"})
    page.wait_message("Password is incorrect")
    page.submit("mfa-enrol-form", {"mfa-enrol-password": PASSWORD})
    wait_for(page.browser, lambda b: b.find_elements(By.ID, "mfa-secret"), "the key")
    qr = page.browser.find_element(By.ID, "mfa-qr")
    assert str(qr.get_attribute("src")).startswith("data:image/svg+xml;base64,")
    assert page.browser.execute_script("return arguments[0].naturalWidth", qr) > 0
    app = Authenticator(page.text("mfa-secret"))
    page.browser.save_screenshot(str(tmp_path / "mfa-enrol.png"))

    page.submit("mfa-confirm-form", {"mfa-confirm-code": "000000"})
    page.wait_message("Wrong or already used code")
    page.submit("mfa-confirm-form", {"mfa-confirm-code": app.next_code()})
    page.wait_message("Two-factor authentication is on")
    wait_for(page.browser, lambda b: b.find_elements(By.ID, "mfa-recovery-codes"), "the codes")
    codes = [
        item.text for item in page.browser.find_elements(By.CSS_SELECTOR, "#mfa-recovery-codes li")
    ]
    assert len(codes) == 10
    assert "10 recovery code(s) left" in page.text("mfa-state")

    page.browser.find_element(By.ID, "logout").click()
    page.wait_message("Logged out")
    log_in(page, username)
    page.submit("mfa-step-form", {"mfa-step-code": "000000"})
    page.wait_message("Wrong or already used code")
    page.submit("mfa-step-form", {"mfa-step-code": app.next_code()})
    wait_for(page.browser, lambda b: page.signed_in(), "the profile after the second step")
    assert page.text("profile-username") == username
    assert not page.browser.find_elements(By.ID, "mfa-recovery-codes"), "codes are shown once"

    page.browser.find_element(By.ID, "logout").click()
    page.wait_message("Logged out")
    log_in(page, username)
    page.browser.find_element(By.ID, "mfa-step-toggle").click()
    page.submit("mfa-step-form", {"mfa-step-recovery": codes[0]})
    page.wait_message("9 recovery code(s) left")
    wait_for(page.browser, lambda b: page.signed_in(), "the profile after a recovery code")

    wait_for(page.browser, lambda b: b.find_elements(By.ID, "mfa-regenerate-form"), "regenerate")
    page.submit("mfa-regenerate-form", {"mfa-regenerate-password": PASSWORD})
    page.wait_message("New recovery codes made")
    wait_for(page.browser, lambda b: "10 recovery code(s) left" in page.text("mfa-state"), "10")
    fresh = [
        item.text for item in page.browser.find_elements(By.CSS_SELECTOR, "#mfa-recovery-codes li")
    ]
    assert len(fresh) == 10
    assert not set(fresh) & set(codes)

    # The app's codes of this window are spent: a recovery code does it too.
    page.submit(
        "mfa-disable-form", {"mfa-disable-password": PASSWORD, "mfa-disable-code": fresh[0]}
    )
    page.wait_message("Two-factor authentication is off")
    wait_for(page.browser, lambda b: page.text("mfa-state") == "Off.", "off")
    page.browser.save_screenshot(str(tmp_path / "mfa-off.png"))
    assert console_problems(page.browser) == []
