"""Headless Chromium for the page tests: Debian's chromium and chromium-driver.

Nothing is downloaded at test time. When either program is missing the tests
that need them skip, and say which one and how to install it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver", "chromium-driver")
WAIT_SECONDS = 20.0
# Chrome logs every 4xx answer to fetch(); the page expects those from the API
# (a wrong password), never from its own files.
_EXPECTED_4XX = re.compile(r"/api/\S* - Failed to load resource: .*status of 4\d\d")


def _first(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if _first(BROWSERS) is None or _first(DRIVERS) is None:
        return (
            "browser tests need Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver; .ci/run does it as root)"
        )
    return None


def start_chromium(profile: Path) -> WebDriver:
    browser, driver = _first(BROWSERS), _first(DRIVERS)
    if browser is None or driver is None:
        raise RuntimeError(missing_reason())
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager is never asked to download one.
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def wait_for(browser: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(browser, WAIT_SECONDS).until(condition, message=f"waiting for {what}")


def console_problems(browser: WebDriver) -> list[str]:
    """Console entries since the last call that are not an expected 4xx answer:
    script errors, CSP violations (Chrome logs them as errors), failed loads."""
    problems = []
    for entry in browser.get_log("browser"):
        message = str(entry.get("message", ""))
        expected = entry.get("source") == "network" and _EXPECTED_4XX.search(message)
        csp = "Content Security Policy" in message
        if csp or (entry.get("level") == "SEVERE" and not expected):
            problems.append(message)
    return problems
