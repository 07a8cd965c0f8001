"""The UI end to end in headless Chromium: a person signs in, creates a deployment, changes its image,
rolls it back, looks at its pods and a log, and deletes it.

A real agent with sign-in on, a real bare Git remote, the `full` local cluster (pods on kwok nodes,
which serve `pods/log`). Every step is checked three ways: the commit on the remote, the object in
the cluster, and the page. The deployment is created in a namespace that does not exist yet, so its
first revision really is Queued until the namespace is made, then Deploying, then Deployed (a
watcher records every state the agent reports). Screenshots of every page at 1,400 and 800 px go to
test-artifacts/ (`ui-*.png`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from agent_harness import RunningAgent, wait_for
from browser import ARTIFACTS, no_alert, screenshot, screenshots_at_both_widths
from gitrepo import git
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sync_repo import DeploymentsRepo
from uiclient import UI_TOKEN

from gitops_agent.agent.config import UiConfig
from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster.cluster import POD_LOG_LINES

pytestmark = [pytest.mark.full, pytest.mark.cluster]
NAME = "ui-bot"
IMAGE_1, IMAGE_2 = "ghcr.io/acme/ui-bot:1.0.0", "ghcr.io/acme/ui-bot:2.0.0"


def _remote(repo: DeploymentsRepo, *args: str) -> str:
    return git(*args, cwd=repo.upstream.bare)


def _live_image(kube: KubeClient, namespace: str) -> str:
    live = kube.get("apps/v1", "Deployment", NAME, namespace)
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"]) if live else ""


@contextmanager
def _recorded_states(running: RunningAgent) -> Iterator[list[str]]:
    """Every revision state of NAME the agent reports, in order (one entry per change)."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            state = (running.agent.board.deployment(NAME) or {}).get("revision_state")
            if state and (not seen or seen[-1] != state):
                seen.append(state)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def _fill(browser: webdriver.Chrome, values: dict[str, str]) -> None:
    for name, value in values.items():
        element = browser.find_element(By.NAME, name)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)


def _click(browser: webdriver.Chrome, element_id: str) -> None:
    """Click a button or link that loads a page, and wait until the new page has replaced the old."""
    _load(browser, lambda: browser.find_element(By.ID, element_id).click())


def _load(browser: webdriver.Chrome, action: Callable[[], None]) -> None:
    old = browser.find_element(By.TAG_NAME, "html")
    action()

    def replaced(_: object) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or "does not belong to the document": the page changed
            return True
        return False

    WebDriverWait(browser, 30).until(replaced)


def _field_errors(browser: webdriver.Chrome, name: str) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, f".field-error[data-field='{name}']")]


def _badges(browser: webdriver.Chrome) -> list[str]:
    return [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#title .badge")]


def _reload_until(browser: webdriver.Chrome, condition: Callable[[], Any], timeout: float = 60) -> None:
    def check() -> Any:
        browser.refresh()
        return condition()

    wait_for(check, timeout=timeout, interval=0.5)


def test_a_person_creates_revises_rolls_back_inspects_and_deletes_a_deployment_in_the_browser(
    full_cluster: Any,
    deployments_repo: DeploymentsRepo,
    start_agent: Callable[..., RunningAgent],
    browser: webdriver.Chrome,
    kube: KubeClient,
) -> None:
    repo = deployments_repo
    target_ns = f"{repo.namespace}-ui"  # allowed, but does not exist yet: revision 1 is Queued until it does
    settings = repo.read("gitops-agent.yaml").replace(
        "  - agents-staging\n", f"  - agents-staging\n  - {target_ns}\n"
    )
    repo.push({"gitops-agent.yaml": settings}, f"Allow {target_ns}")
    running = start_agent(str(repo.upstream.bare), repo.namespace, ui=UiConfig(token=UI_TOKEN))
    wait_for(running.all_synced, timeout=90)
    try:
        _walk_through(browser, running, repo, kube, target_ns)
    except Exception:  # leave what the browser showed, for whoever reads the failure
        screenshot(browser, "ui-failure.png")
        (ARTIFACTS / "ui-failure.html").write_text(browser.page_source)
        raise
    finally:
        full_cluster.kubectl(
            "delete", "namespace", target_ns, "--wait=false", "--ignore-not-found", check=False
        )


def _walk_through(
    browser: webdriver.Chrome, running: RunningAgent, repo: DeploymentsRepo, kube: KubeClient, target_ns: str
) -> None:
    # -- sign in ------------------------------------------------------------------------------------
    browser.get(running.url + "/")
    assert browser.current_url.startswith(running.url + "/sign-in")
    screenshots_at_both_widths(browser, "ui-sign-in")
    _fill(browser, {"name": "Ada", "token": UI_TOKEN})
    _click(browser, "sign-in-submit")
    assert browser.find_element(By.ID, "signed-in").text == "Ada"
    names = [
        r.get_attribute("data-deployment")
        for r in browser.find_elements(By.CSS_SELECTOR, "#deployments tbody tr")
    ]
    assert names == ["billing-agent", "manifests", "research-assistant", "support-bot"]
    screenshots_at_both_widths(browser, "ui-deployments")

    # -- create: a name the API refuses, then a variable the repository's validation refuses -----------
    _click(browser, "new-deployment")
    screenshots_at_both_widths(browser, "ui-new")
    head = _remote(repo, "rev-parse", "refs/heads/main")
    form = {"name": "UI_Bot", "image": IMAGE_1, "namespace": target_ns, "path": f"/{NAME}", "replicas": "1",
            "env": "MODE=ui\nPORT=9000"}  # fmt: skip
    _fill(browser, form)
    _click(browser, "create")
    assert "does not match" in " ".join(_field_errors(browser, "name"))  # the API schema's message
    _fill(browser, {"name": NAME})
    _click(browser, "create")
    env_errors = _field_errors(browser, "env")
    assert env_errors and env_errors[0].startswith(f"deployments/{NAME}.yaml:"), env_errors
    assert "PORT" in env_errors[0]  # `validate`'s own message, with file:line:column
    assert browser.find_element(By.NAME, "image").get_attribute("value") == IMAGE_1  # the form is kept
    assert _remote(repo, "rev-parse", "refs/heads/main") == head  # nothing was committed
    screenshots_at_both_widths(browser, "ui-new-errors")

    with _recorded_states(running) as states:
        _fill(browser, {"env": "MODE=ui\nLOG_LEVEL=info"})
        _click(browser, "create")
        flash_commit = browser.find_element(By.ID, "flash-commit").text
        assert browser.find_element(By.ID, "flash-revision").text == "1"
        commit = _remote(repo, "rev-parse", "refs/heads/main")
        assert commit.startswith(flash_commit) and commit != head
        assert _remote(repo, "show", "--name-status", "--format=", commit) == f"A\tdeployments/{NAME}.yaml"
        message = _remote(repo, "log", "-1", "--format=%B", commit)
        assert message.startswith(f"{NAME}: new deployment ({IMAGE_1})") and "Requested-by: Ada" in message

        wait_for(lambda: (running.agent.board.deployment(NAME) or {}).get("revision_state") == "Queued")
        _reload_until(browser, lambda: "Queued" in browser.find_element(By.ID, "history").text)
        assert "does not exist" in browser.find_element(By.ID, "history").text  # why it waits
        screenshots_at_both_widths(browser, "ui-queued")
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target_ns}})
        wait_for(
            lambda: (running.agent.board.deployment(NAME) or {}).get("revision_state") == "Deployed",
            timeout=120,
        )
    assert states[:3] == ["Queued", "Deploying", "Deployed"], states
    assert _live_image(kube, target_ns) == IMAGE_1
    _reload_until(browser, lambda: "Deployed" in browser.find_element(By.ID, "history").text)
    assert _badges(browser)[:2] == ["Synced", "Healthy"]
    screenshots_at_both_widths(browser, "ui-deployment")

    # -- a new revision: change the image, look at the diff, commit --------------------------------
    _click(browser, "new-revision")
    assert browser.find_element(By.NAME, "image").get_attribute("value") == IMAGE_1
    assert "MODE=ui" in (browser.find_element(By.NAME, "env").get_attribute("value") or "")
    _fill(browser, {"image": IMAGE_2})
    screenshots_at_both_widths(browser, "ui-revise")
    _click(browser, "review")
    diff = browser.find_element(By.ID, "review-diff").text
    assert f"-  image: {IMAGE_1}" in diff and f"+  image: {IMAGE_2}" in diff
    assert browser.find_element(By.ID, "review-message").text == f"{NAME}: image → {IMAGE_2}"
    before_commit = _remote(repo, "rev-parse", "refs/heads/main")
    screenshots_at_both_widths(browser, "ui-review")
    _click(browser, "commit")
    assert browser.find_element(By.ID, "flash-revision").text == "2"
    revised = _remote(repo, "rev-parse", "refs/heads/main")
    assert revised != before_commit and f"image: {IMAGE_2}" in _remote(
        repo, "show", f"{revised}:deployments/{NAME}.yaml"
    )
    wait_for(lambda: _live_image(kube, target_ns) == IMAGE_2, timeout=60)
    wait_for(lambda: (running.agent.board.deployment(NAME) or {}).get("revision") == 2, timeout=60)
    _reload_until(browser, lambda: browser.find_element(By.ID, "image").text == IMAGE_2)

    # -- roll back to revision 1 -----------------------------------------------------------------------
    wait_for(
        lambda: (running.agent.board.deployment(NAME) or {}).get("revision_state") == "Deployed", timeout=120
    )
    browser.refresh()
    _click(browser, "rollback-1")
    assert browser.find_element(By.ID, "flash-commit").text
    rolled = _remote(repo, "rev-parse", "refs/heads/main")
    assert f"image: {IMAGE_1}" in _remote(repo, "show", f"{rolled}:deployments/{NAME}.yaml")
    assert _remote(repo, "log", "-1", "--format=%s", rolled).startswith(f"{NAME}: roll back to revision 1 (")
    wait_for(lambda: _live_image(kube, target_ns) == IMAGE_1, timeout=60)
    _reload_until(browser, lambda: browser.find_element(By.ID, "image").text == IMAGE_1)

    # -- the workload: pods, Events, a log tail (once the rollback's rollout has settled) -------------
    wait_for(
        lambda: (running.agent.board.deployment(NAME) or {}).get("revision_state") == "Deployed", timeout=120
    )

    def page_shows_the_live_pods() -> bool:
        shown = {
            r.get_attribute("data-pod") for r in browser.find_elements(By.CSS_SELECTOR, "#pods tbody tr")
        }
        live = {p["metadata"]["name"] for p in kube.list("v1", "Pod", namespace=target_ns).items}
        return shown == live and len(live) >= 3  # API server, Postgres, Redis

    _reload_until(browser, page_shows_the_live_pods)
    pods = browser.find_elements(By.CSS_SELECTOR, "#pods tbody tr")
    api_row = pods[0].text  # the API server is listed first
    assert "api-server" in api_row and "Running" in api_row and "1/1" in api_row, api_row
    events = browser.find_element(By.ID, "events").text
    assert "RevisionDeployed" in events or "ScalingReplicaSet" in events
    screenshots_at_both_widths(browser, "ui-workload")
    _load(browser, pods[0].find_elements(By.CSS_SELECTOR, "td:last-child a")[0].click)
    log_text = browser.find_element(By.ID, "log").text
    assert all(line in log_text for line in POD_LOG_LINES)
    screenshots_at_both_widths(browser, "ui-log")
    browser.back()

    # -- delete, after a confirmation that names what goes ---------------------------------------------
    _click(browser, "delete")
    listed = browser.find_element(By.ID, "delete-objects").text
    assert f"Deployment/{target_ns}/{NAME}" in listed and f"Service/{target_ns}/{NAME}" in listed
    assert browser.find_element(By.ID, "delete-file").text == f"deployments/{NAME}.yaml"
    screenshots_at_both_widths(browser, "ui-delete")
    _click(browser, "confirm-delete")  # not confirmed: nothing happens
    assert "Type ui-bot to confirm" in browser.find_element(By.ID, "delete-error").text
    deleted_before = _remote(repo, "rev-parse", "refs/heads/main")
    _fill(browser, {"confirm": NAME})
    _click(browser, "confirm-delete")
    deleted = _remote(repo, "rev-parse", "refs/heads/main")
    assert deleted != deleted_before
    assert _remote(repo, "show", "--name-status", "--format=", deleted) == f"D\tdeployments/{NAME}.yaml"
    assert browser.current_url.startswith(running.url + "/?deleted=")
    wait_for(lambda: kube.get("apps/v1", "Deployment", NAME, target_ns) is None, timeout=60)
    _reload_until(
        browser,
        lambda: not browser.find_elements(By.CSS_SELECTOR, f"#deployments tr[data-deployment='{NAME}']"),
    )
    assert browser.find_elements(By.TAG_NAME, "script") == [] and no_alert(browser)
