"""The status page in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

A running agent on the real cluster; one commit rolls out a new revision whose message carries a
`<script>` and breaks another deployment's file. The page must show the states, the detail view
and the message as text. Screenshots land in test-artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_harness import RunningAgent, wait_for
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from sync_repo import DeploymentsRepo

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCRIPT = "<script>alert(1)</script>"
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


def _screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.get_screenshot_as_file(str(ARTIFACTS / name))


def _no_alert(driver: webdriver.Chrome) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018 - raises when there is none
    except NoAlertPresentException:
        return True
    return False


def _cells(driver: webdriver.Chrome, name: str) -> list[str]:
    row = driver.find_element(By.CSS_SELECTOR, f"#deployments tr[data-deployment='{name}']")
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def _settled(running: RunningAgent) -> bool:
    board = running.agent.board
    research = board.deployment("research-assistant") or {}
    support = board.deployment("support-bot") or {}
    return (
        research.get("revision") == 2
        and len(research.get("history", [])) == 2
        and research.get("sync_state") == "Synced"
        and support.get("sync_state") == "Failed"
    )


def test_the_status_page_shows_states_details_and_escapes_what_the_repository_says(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent, browser: webdriver.Chrome
) -> None:
    repo = deployments_repo
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(lambda: len(running.agent.board.deployments()) == 4)
    research = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.4.0")
    support = repo.read("deployments/support-bot.yaml").replace("  type: production ", "  type: nope ")
    message = f"research-assistant 0.4.0 {SCRIPT}\n\nAlso <b>breaks</b> support-bot & more."
    repo.push(
        {"deployments/research-assistant.yaml": research, "deployments/support-bot.yaml": support}, message
    )
    running.agent.trigger_fetch()
    wait_for(lambda: _settled(running), timeout=30)

    # -- the table ------------------------------------------------------------------------------------
    browser.get(running.url + "/")
    assert browser.title == "gitops-agent"
    names = [
        r.get_attribute("data-deployment")
        for r in browser.find_elements(By.CSS_SELECTOR, "#deployments tbody tr")
    ]
    assert names == ["billing-agent", "manifests", "research-assistant", "support-bot"]
    row = _cells(browser, "research-assistant")
    assert row[1].split()[0] == "2" and row[4] == "Synced" and SCRIPT in row[3]
    assert row[1].split()[1] in {"Deploying", "Deployed"}  # the revision's lifecycle state, as a badge
    assert row[2] == "research-assistant:0.4.0"  # the running image, registry path in the tooltip
    failed = _cells(browser, "support-bot")
    assert failed[1].split()[0] == "1" and failed[4] == "Failed"
    assert failed[2] == "support-bot:1.4.2"  # the file is broken: what runs is still revision 1's image
    assert "deployments/support-bot.yaml:" in failed[8] and "spec.type" in failed[8]
    billing = _cells(browser, "billing-agent")
    assert billing[4] == "Synced" and billing[2] == "billing-agent@sha256:9b2f0c6e1d4a"
    badge = browser.find_element(
        By.CSS_SELECTOR, "#deployments tr[data-deployment='support-bot'] td:nth-child(5) .badge"
    )
    assert badge.text == "Failed" and "bad" in (badge.get_attribute("class") or "")
    assert badge.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"  # the inline CSS applies
    assert SCRIPT in browser.find_element(By.TAG_NAME, "body").text  # shown literally, as text ...
    assert browser.find_elements(By.TAG_NAME, "script") == []  # ... and never an element
    assert browser.find_elements(By.TAG_NAME, "b") == []  # no markup from the message either
    assert _no_alert(browser)
    _screenshot(browser, "status-page.png")

    # -- the detail view ---------------------------------------------------------------------------------
    browser.find_element(By.LINK_TEXT, "research-assistant").click()
    wait_for(lambda: browser.current_url.endswith("/deployments/research-assistant"))
    assert browser.find_element(By.ID, "title").text.split()[:2] == ["research-assistant", "Synced"]
    assert browser.find_element(By.ID, "message").text == message.strip()
    assert browser.find_element(By.ID, "image").text == "ghcr.io/example/research-assistant:0.4.0"
    history = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in history] == ["2", "1"]
    assert "current" in (history[0].get_attribute("class") or "")
    objects = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#objects tbody tr")]
    assert f"Deployment/{repo.namespace}/research-assistant update" in objects
    diff = browser.find_element(By.ID, "diff").text
    assert "-        image: ghcr.io/example/research-assistant:0.3.0" in diff
    assert "+        image: ghcr.io/example/research-assistant:0.4.0" in diff
    assert browser.find_elements(By.TAG_NAME, "script") == [] and _no_alert(browser)
    assert browser.find_element(By.CSS_SELECTOR, "meta[http-equiv='refresh']").get_attribute("content")
    _screenshot(browser, "status-page-detail.png")

    browser.get(running.url + "/deployments/support-bot")
    problems = browser.find_element(By.ID, "last-error").text
    assert "deployments/support-bot.yaml:" in problems and "spec.type" in problems
    _screenshot(browser, "status-page-failed.png")
