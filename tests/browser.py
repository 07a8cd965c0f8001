"""Headless Chromium for page tests (Debian's chromium + chromium-driver, driven by Selenium).

`browser` is a fixture (import it into a test module or a conftest); screenshots land in
test-artifacts/ (gitignored) for a human to look at, at the widths the UI is made for.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDE, NARROW = 1400, 800
"""The widths every UI page is checked and photographed at."""
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1440,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{missing} missing: hack/setup.sh installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.get_screenshot_as_file(str(ARTIFACTS / name))


def screenshots_at_both_widths(driver: webdriver.Chrome, name: str) -> None:
    """`<name>-1400.png` and `<name>-800.png` of the current page (full height), asserting that
    nothing but wide tables and pre-formatted text scrolls sideways at 800 px."""
    for width in (WIDE, NARROW):
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(width, max(900, min(height + 120, 4000)))
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} at {width}px scrolls sideways by {overflow}px"
        screenshot(driver, f"{name}-{width}.png")
    driver.set_window_size(WIDE, 1000)


def no_alert(driver: webdriver.Chrome) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018 - raises when there is none
    except NoAlertPresentException:
        return True
    return False
