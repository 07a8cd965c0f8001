"""The UI's gates over a real socket: sign-in, the read gate, CSRF, expired sessions, other sites.

A real agent on the real cluster and a real Git remote: every refused post is checked against the
remote's branch (nothing was committed), and the same post with a valid session and token then does
commit, so each refusal is a refusal and not a broken route.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from agent_harness import RunningAgent, wait_for
from gitrepo import git
from sync_repo import DeploymentsRepo
from uiclient import UI_TOKEN, UiClient

from gitops_agent.agent.config import UiConfig
from gitops_agent.agent.http.markup import CSP
from gitops_agent.agent.http.session import SessionKeeper

pytestmark = pytest.mark.cluster


def _head(repo: DeploymentsRepo) -> str:
    return git("rev-parse", "refs/heads/main", cwd=repo.upstream.bare)


def _start(repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent], **ui: object) -> RunningAgent:
    running = start_agent(str(repo.upstream.bare), repo.namespace, ui=UiConfig(token=UI_TOKEN, **ui))  # type: ignore[arg-type]
    wait_for(running.all_synced, timeout=60)
    return running


def test_pages_need_a_sign_in_and_a_wrong_token_gets_none(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> None:
    running = _start(deployments_repo, start_agent)
    anonymous = UiClient(running.url)
    for path in ("/", "/deployments/support-bot", "/new", "/deployments/support-bot/revise"):
        reply = anonymous.get(path)
        assert reply.status == 303 and reply.headers["Location"].startswith("/sign-in?next="), path
    assert anonymous.get("/api/v1/deployments").status == 200  # the JSON status API is unchanged

    wrong = UiClient(running.url)
    refused = wrong.sign_in(token="not-the-token-at-all-0000")
    assert refused.status == 401 and "That token is not right." in refused.body and not wrong.cookie

    person = UiClient(running.url)
    assert (
        "name='next' value='/deployments/support-bot'"
        in person.get("/sign-in?next=/deployments/support-bot").body
    )
    elsewhere = UiClient(running.url).post(
        "/sign-in", {"token": UI_TOKEN, "name": "x", "next": "//evil.example/"}
    )
    assert elsewhere.headers["Location"] == "/"  # no open redirect
    signed_in = person.sign_in(name="Ada <script>")
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/"
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    page = person.get("/")
    assert page.status == 200 and "id='new-deployment'" in page.body
    assert "Ada &lt;script&gt;" in page.body and "<script" not in page.body
    assert page.headers["Content-Security-Policy"] == CSP and "unsafe-inline" not in CSP
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    assert "<style" not in page.body and " style=" not in page.body  # CSS only from /static/ui.css
    assert running.get("/static/ui.css")[0] == 200


def test_a_write_without_csrf_token_or_with_an_expired_session_changes_nothing(
    deployments_repo: DeploymentsRepo,
    start_agent: Callable[..., RunningAgent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = deployments_repo
    running = _start(repo, start_agent)
    caplog.set_level("INFO")
    person = UiClient(running.url)
    person.sign_in()
    csrf = person.get("/deployments/support-bot").csrf
    other = UiClient(running.url)
    other.sign_in(name="someone else")
    other_csrf = other.get("/").csrf
    assert other_csrf != csrf
    before = _head(repo)

    refusals = {
        "no token": person.post("/deployments/support-bot/redeploy", {}),
        "wrong token": person.post("/deployments/support-bot/redeploy", {"csrf": "0" * 40}),
        "another session's token": person.post("/deployments/support-bot/redeploy", {"csrf": other_csrf}),
        "no session": UiClient(running.url).post("/deployments/support-bot/redeploy", {"csrf": csrf}),
        "another site": person.post(
            "/deployments/support-bot/redeploy", {"csrf": csrf}, Origin="https://evil.example"
        ),
    }
    # A session that expired an hour ago, signed with the right key: refused like none.
    expired_keeper = SessionKeeper(UI_TOKEN, minutes=5, clock=lambda: time.time() - 3600)
    expired_session, expired_cookie = expired_keeper.sign_in("old")
    late = UiClient(running.url, cookie=expired_cookie.split(";", 1)[0])
    refusals["expired session"] = late.post(
        "/deployments/support-bot/redeploy", {"csrf": expired_session.csrf}
    )
    refusals["expired session, create"] = late.post(
        "/new", {"csrf": expired_session.csrf, "name": "late-bot", "image": "ghcr.io/acme/late:1"}
    )
    for why, reply in refusals.items():
        assert reply.status == 403, (why, reply.status)
        assert "Nothing was changed" in reply.body, why
    assert _head(repo) == before  # not one commit

    done = person.post("/deployments/support-bot/redeploy", {"csrf": csrf})
    assert done.status == 303 and "/deployments/support-bot?commit=" in done.headers["Location"]
    after = _head(repo)
    assert after != before
    message = git("log", "-1", "--format=%B", after, cwd=repo.upstream.bare)
    assert message.startswith("support-bot: redeploy") and "Requested-by: tester (gitops-agent UI)" in message
    audit = [r for r in caplog.records if r.getMessage().startswith("audit: tester (ui) committed")]
    assert len(audit) == 1 and audit[0].getMessage().startswith(
        "audit: tester (ui) committed support-bot: redeploy"
    )
    assert getattr(audit[0], "fields", {})["commit"] == after[:12]


def test_public_read_opens_the_pages_but_not_the_forms(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> None:
    running = _start(deployments_repo, start_agent, public_read=True, secure_cookie=True)
    anonymous = UiClient(running.url)
    page = anonymous.get("/deployments/support-bot")
    assert page.status == 200 and "id='sign-in'" in page.body and "id='new-revision'" not in page.body
    assert anonymous.get("/new").status == 303
    assert "Secure" in UiClient(running.url).sign_in().headers["Set-Cookie"]


def test_without_a_token_the_ui_is_the_read_only_status_page(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> None:
    running = start_agent(str(deployments_repo.upstream.bare), deployments_repo.namespace)
    wait_for(running.all_synced, timeout=60)
    anonymous = UiClient(running.url)
    assert anonymous.get("/").status == 200
    assert anonymous.get("/sign-in").status == 404
    assert anonymous.post("/deployments/support-bot/redeploy", {"csrf": "x"}).status == 404


def test_propose_pushes_each_change_to_a_branch_of_its_own_and_leaves_main_alone(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> None:
    repo = deployments_repo
    running = _start(repo, start_agent, propose=True)
    person = UiClient(running.url)
    person.sign_in(name="Grace")
    csrf = person.get("/deployments/support-bot").csrf
    before = _head(repo)
    done = person.post("/deployments/support-bot/suspend", {"csrf": csrf})
    assert done.status == 303 and "proposal=1" in done.headers["Location"]
    assert _head(repo) == before  # the followed branch is untouched: the change waits for review
    branches = git(
        "for-each-ref", "--format=%(refname:short)", "refs/heads/gitops-agent/ui/", cwd=repo.upstream.bare
    )
    [branch] = branches.split()
    assert branch.startswith("gitops-agent/ui/support-bot-")
    assert git("rev-parse", f"{branch}^", cwd=repo.upstream.bare) == before
    assert "  suspend: true\n" in git(
        "show", f"{branch}:deployments/support-bot.yaml", cwd=repo.upstream.bare
    )
    page = person.get(done.headers["Location"])
    assert f"id='flash-branch'>{branch}<" in page.body and "open a pull request" in page.body
