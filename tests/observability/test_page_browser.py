"""The status page in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

A running agent on the real cluster; one commit rolls out a new revision whose message carries a
`<script>` and breaks another deployment's file. The page must show the states, the detail view
and the message as text. Screenshots land in test-artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

from agent_harness import RunningAgent, wait_for
from browser import no_alert, screenshot
from selenium import webdriver
from selenium.webdriver.common.by import By
from sync_repo import DeploymentsRepo

SCRIPT = "<script>alert(1)</script>"


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
    assert no_alert(browser)
    screenshot(browser, "status-page.png")

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
    assert browser.find_elements(By.TAG_NAME, "script") == [] and no_alert(browser)
    assert browser.find_element(By.CSS_SELECTOR, "meta[http-equiv='refresh']").get_attribute("content")
    screenshot(browser, "status-page-detail.png")

    browser.get(running.url + "/deployments/support-bot")
    problems = browser.find_element(By.ID, "last-error").text
    assert "deployments/support-bot.yaml:" in problems and "spec.type" in problems
    screenshot(browser, "status-page-failed.png")
