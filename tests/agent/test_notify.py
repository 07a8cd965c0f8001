"""Notifications and commit statuses, from outcomes to real HTTP requests on loopback receivers.

The receivers stand in for Slack incoming webhooks, Teams workflow webhooks, a generic receiver and
the GitHub, GitLab and Gitea status APIs, following each service's documented contract (paths, auth
headers, JSON bodies, answers). The outcomes are the controller's own records, fed in directly; the
cluster tests (test_notify_cluster.py) produce them with a real agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from http_receiver import Receiver, http_receiver

from gitops_agent.agent.http.webhook import authentic
from gitops_agent.agent.notify import delivery
from gitops_agent.agent.notify.config import load_notify_config
from gitops_agent.agent.notify.notice import commit_url
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Fetched,
    FetchFailed,
    RepositorySynced,
    RevisionDeploying,
    RolledBack,
    SyncFailed,
    UnitSynced,
)
from gitops_agent.agent.sinks.notifications import NotificationsSink
from gitops_agent.core.errors import ConfigError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.reconcile.sync import SyncState, UnitResult
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import RevisionRecord
from gitops_agent.state.repository import RepositoryStatus

__all__ = ["http_receiver"]

C1, C2 = "1" * 40, "2" * 40
SECRET = b"receiver-shared-secret"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_DELAY_SECONDS", 0.05)


def _snapshot(commit: str, author: str = "Ada <ada@example.com>") -> Snapshot:
    return Snapshot(commit, Path("."), author, "msg", datetime.now(UTC), "main")


def _config(
    tmp_path: Path, receivers: dict[str, Receiver], *, forge: Receiver | None = None, provider: str = "github"
) -> Path:
    lines = ["statusPageUrl: https://agents.example.com/gitops/", "notifications:"]
    for kind, receiver in receivers.items():
        (tmp_path / f"{kind}.url").write_text(receiver.url + f"/hooks/{kind}\n")
        lines += [f"  - name: {kind}-target", f"    type: {kind}", f"    urlFile: {tmp_path / f'{kind}.url'}"]
        if kind == "generic":
            (tmp_path / "generic.secret").write_text(SECRET.decode())
            lines.append(f"    secretFile: {tmp_path / 'generic.secret'}")
    if forge is not None:
        (tmp_path / "token").write_text("forge-token-123\n")
        lines += ["commitStatus:", f"  provider: {provider}", f"  tokenFile: {tmp_path / 'token'}",
                  f"  apiUrl: {forge.url}"]  # fmt: skip
    path = tmp_path / "notify.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _synced(
    unit: str, revision: int, commit: str, state: SyncState = SyncState.SYNCED, error: str = ""
) -> UnitSynced:
    result = UnitResult(unit, state, revision=revision, commit=commit, new_revision=True, error=error)
    return UnitSynced(result, _snapshot(commit))


def _end(commit: str = C2, problems: tuple[str, ...] = (), refused: str = "") -> RepositorySynced:
    return RepositorySynced(RepositoryStatus(commit, problems, refused, ()), 0.1)


def _rollout_that_rolls_back(sink: NotificationsSink) -> None:
    synced = _synced("support-bot", 2, C2)
    for outcome in (synced, RevisionDeploying(synced.result, 5), _end()):
        sink.handle(outcome)
    restored = RevisionRecord(1, C1, "hash1")
    sink.handle(RolledBack("support-bot", 2, restored, "r2 not healthy: 0/2 replicas ready"))


def test_a_failed_rollout_that_rolls_back_says_deploying_failed_rolled_back_everywhere(
    tmp_path: Path, http_receiver: Callable[..., Receiver]
) -> None:
    chat = {"slack": http_receiver(), "teams": http_receiver(202, b""), "generic": http_receiver(204, b"")}
    forge = http_receiver(201, b"{}")
    config = load_notify_config(_config(tmp_path, chat, forge=forge))
    sink = NotificationsSink(config, "https://github.com/acme/deployments.git")
    _rollout_that_rolls_back(sink)
    assert sink.drain()

    slack = [r.json() for r in chat["slack"].wait_for(3)]
    assert [m["text"].split(":")[0].split(" · ")[0] for m in slack] == [
        "support-bot r2 Deploying", "support-bot r2 DeployFailed", "support-bot r2 RolledBack",
    ]  # fmt: skip
    assert "commit 222222222222 by Ada <ada@example.com>" in slack[0]["text"]
    link = f"<https://github.com/acme/deployments/commit/{C2}|222222222222>"
    assert link in slack[1]["blocks"][0]["text"]["text"]
    assert "rolled back to r1 (commit 111111111111): r2 not healthy" in slack[2]["text"]
    assert all(r.path == "/hooks/slack" for r in chat["slack"].received)

    teams = [r.json() for r in chat["teams"].wait_for(3)]
    cards = [m["attachments"][0] for m in teams]
    assert all(m["type"] == "message" for m in teams)
    assert all(c["contentType"] == "application/vnd.microsoft.card.adaptive" for c in cards)
    assert [c["content"]["body"][0]["text"] for c in cards] == [
        "support-bot r2 Deploying", "support-bot r2 DeployFailed", "support-bot r2 RolledBack",
    ]  # fmt: skip
    assert cards[2]["content"]["actions"][0]["url"] == "https://agents.example.com/gitops/"

    generic = chat["generic"].wait_for(3)
    assert [r.json()["event"] for r in generic] == ["Deploying", "DeployFailed", "RolledBack"]
    for request in generic:  # verified with the agent's own inbound-webhook check
        assert authentic("generic", request.headers, request.body, SECRET, now=time.time())
        assert not authentic("generic", request.headers, request.body, b"wrong", now=time.time())
    assert generic[2].json()["commitUrl"] == f"https://github.com/acme/deployments/commit/{C2}"

    statuses = forge.wait_for(2)
    assert [r.path for r in statuses] == [f"/repos/acme/deployments/statuses/{C2}"] * 2
    assert [r.json()["state"] for r in statuses] == ["pending", "failure"]
    assert {r.json()["context"] for r in statuses} == {"gitops-agent/support-bot"}
    assert statuses[1].json()["target_url"] == "https://agents.example.com/gitops/"
    assert all(len(r.json()["description"]) <= 140 for r in statuses)
    assert statuses[0].header("Authorization") == "Bearer forge-token-123"
    assert statuses[0].header("X-GitHub-Api-Version") == "2022-11-28"
    assert statuses[0].header("Accept") == "application/vnd.github+json"
    sink.stop()


@pytest.mark.parametrize(
    ("provider", "path", "auth", "states", "name_field"),
    [
        ("gitlab", f"/api/v4/projects/acme%2Fdeployments/statuses/{C2}", ("PRIVATE-TOKEN", "forge-token-123"),
         ["running", "failed"], "name"),
        ("gitea", f"/api/v1/repos/acme/deployments/statuses/{C2}", ("Authorization", "token forge-token-123"),
         ["pending", "failure"], "context"),
    ],
)  # fmt: skip
def test_gitlab_and_gitea_statuses_follow_their_apis(
    tmp_path: Path,
    http_receiver: Callable[..., Receiver],
    provider: str,
    path: str,
    auth: tuple[str, str],
    states: list[str],
    name_field: str,
) -> None:
    forge = http_receiver(201, b"{}")
    sink = NotificationsSink(
        load_notify_config(_config(tmp_path, {}, forge=forge, provider=provider)),
        f"git@{provider}.example.com:acme/deployments.git",
    )
    _rollout_that_rolls_back(sink)
    statuses = forge.wait_for(2)
    assert [r.path for r in statuses] == [path, path]
    assert [r.json()["state"] for r in statuses] == states
    assert statuses[0].json()[name_field] == "gitops-agent/support-bot"
    assert statuses[0].header(auth[0]) == auth[1]
    sink.stop()


def test_repeats_are_said_once_and_many_failures_in_one_run_are_one_message(
    tmp_path: Path, http_receiver: Callable[..., Receiver]
) -> None:
    slack = http_receiver()
    sink = NotificationsSink(
        load_notify_config(_config(tmp_path, {"slack": slack})), "https://git.example.com/x/y"
    )
    failed = _synced("support-bot", 2, C2, SyncState.FAILED, "Deployment/agents/support-bot: 422 Invalid")
    for _ in range(5):  # the same failure on every retry
        sink.handle(failed)
        sink.handle(_end())
    sink.handle(_synced("support-bot", 2, C2))  # synced meanwhile ...
    sink.handle(_end())
    sink.handle(failed)  # ... so failing again is a new state change
    sink.handle(_end())
    # An outage: twenty deployments fail in one run, then again in the next runs and the whole
    # sync fails too: one agent-wide message.
    for round_ in range(3):
        for i in range(20):
            sink.handle(_synced(f"agent-{i}", 1, C2, SyncState.FAILED, f"connection refused ({round_})"))
        sink.handle(_end())
        sink.handle(SyncFailed("cannot list inventories: connection refused"))
    assert sink.drain()
    texts = [r.json()["text"] for r in slack.wait_for(3)]
    time.sleep(0.3)
    assert len(slack.received) == 3, texts
    assert texts[0].startswith("support-bot SyncFailed") and texts[1].startswith("support-bot SyncFailed")
    assert texts[2].startswith("gitops-agent ClusterFailing") and "20 deployments failed to sync" in texts[2]
    sink.stop()


def test_a_failing_source_is_one_message_until_it_fetches_again(
    tmp_path: Path, http_receiver: Callable[..., Receiver]
) -> None:
    slack = http_receiver()
    sink = NotificationsSink(load_notify_config(_config(tmp_path, {"slack": slack})), "/srv/repo.git")
    for _ in range(4):
        sink.handle(FetchFailed("git /srv/repo.git @ main", "could not read from remote repository"))
    sink.handle(Fetched(_snapshot(C2), changed=False, seconds=0.1))
    sink.handle(FetchFailed("git /srv/repo.git @ main", "could not read from remote repository"))
    assert sink.drain()
    assert [r.json()["text"].split(":")[0] for r in slack.wait_for(2)] == ["gitops-agent SourceFailing"] * 2
    sink.stop()


def test_severity_and_deployment_filters(tmp_path: Path, http_receiver: Callable[..., Receiver]) -> None:
    errors_only, one_team = http_receiver(), http_receiver()
    for name, receiver in (("errors", errors_only), ("team", one_team)):
        (tmp_path / name).write_text(receiver.url)
    (tmp_path / "notify.yaml").write_text(
        f"notifications:\n"
        f"  - {{name: errors, type: slack, urlFile: {tmp_path / 'errors'}, minSeverity: error}}\n"
        f"  - {{name: team, type: slack, urlFile: {tmp_path / 'team'}, deployments: ['billing-*']}}\n"
    )
    sink = NotificationsSink(load_notify_config(tmp_path / "notify.yaml"), "https://git.example.com/x/y")
    _rollout_that_rolls_back(sink)  # support-bot: Deploying (info), DeployFailed, RolledBack (errors)
    billing = _synced("billing-agent", 3, C2)
    sink.handle(billing)
    sink.handle(RevisionDeploying(billing.result, 2))
    assert sink.drain()
    assert [r.json()["text"].split(":")[0].split(" · ")[0] for r in errors_only.received] == [
        "support-bot r2 DeployFailed", "support-bot r2 RolledBack",
    ]  # fmt: skip
    assert [r.json()["text"].split(" · ")[0] for r in one_team.received] == ["billing-agent r3 Deploying"]
    sink.stop()


def test_delivery_retries_with_back_off_and_never_retries_a_refusal(
    tmp_path: Path, http_receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    flaky, gone = http_receiver(), http_receiver()
    flaky.fail_next = [503, 429, 502]
    gone.fail_next = [404]
    sink = NotificationsSink(
        load_notify_config(_config(tmp_path, {"slack": flaky, "teams": gone})), "https://git.example.com/x/y"
    )
    sink.handle(FetchFailed("git x", "boom"))
    assert sink.drain(timeout=20)
    assert len(flaky.wait_for(1)) == 1 and sink.targets["slack-target"].stats.retried == 3
    assert gone.received == [] and sink.targets["teams-target"].stats.failed == 1
    assert "/hooks/" not in caplog.text and "127.0.0.1" not in caplog.text  # URLs are credentials
    sink.stop()


def test_handling_an_outcome_never_waits_for_a_slow_service(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("http://10.255.255.1:9/never")  # unroutable: every send times out
    (tmp_path / "notify.yaml").write_text(
        f"notifications:\n  - {{type: slack, urlFile: {tmp_path / 'url'}}}\n"
    )
    sink = NotificationsSink(load_notify_config(tmp_path / "notify.yaml"), "x")
    started = time.monotonic()
    for i in range(50):
        sink.handle(FetchFailed("git x", "boom"))
        sink.handle(Fetched(_snapshot(str(i) * 40), changed=True, seconds=0.1))
    assert time.monotonic() - started < 1.0
    sink.stop()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notifications:\n  - {type: email, urlFile: /x}\n", "notifications[0].type: 'email' is not one of"),
        ("notifications:\n  - {type: slack}\n", "notifications[0].urlFile: is required"),
        ("notifications:\n  - {type: slack, url: https://hooks.slack.com/x, urlFile: /x}\n",
         "notifications[0].url: unknown field"),
        ("notifications:\n  - {type: slack, urlFile: /x, minSeverity: loud}\n", "unknown severity 'loud'"),
        ("notifications:\n  - {type: teams, urlFile: /x, secretFile: /y}\n",
         "only the generic webhook is signed"),
        ("commitStatus: {provider: bitbucket, tokenFile: /t}\n", "commitStatus.provider: 'bitbucket'"),
        ("commitStatus: {provider: github}\n", "commitStatus.tokenFile: is required"),
    ],
)  # fmt: skip
def test_config_mistakes_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_notify_config(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


@pytest.mark.parametrize(
    ("repo", "forge", "expected"),
    [
        ("https://github.com/acme/deploy.git", "", "https://github.com/acme/deploy/commit/abc"),
        ("git@github.com:acme/deploy.git", "", "https://github.com/acme/deploy/commit/abc"),
        (
            "https://gitlab.com/acme/platform/deploy.git",
            "",
            "https://gitlab.com/acme/platform/deploy/-/commit/abc",
        ),
        (
            "ssh://git@git.acme.dev:2222/acme/deploy.git",
            "gitea",
            "https://git.acme.dev/acme/deploy/commit/abc",
        ),
        ("https://git.acme.dev/acme/deploy.git", "", ""),  # an unknown forge: no link
        ("/srv/deploy.git", "", ""),
    ],
)
def test_commit_links(repo: str, forge: str, expected: str) -> None:
    assert commit_url(repo, "abc", forge) == expected


def test_the_same_drift_put_back_again_is_one_message(
    tmp_path: Path, http_receiver: Callable[..., Receiver]
) -> None:
    slack = http_receiver()
    sink = NotificationsSink(load_notify_config(_config(tmp_path, {"slack": slack})), "x")
    key = ObjectKey("apps/v1", "Deployment", "agents", "support-bot")
    change = ObjectChange("support-bot", key, Action.UPDATE)
    for _ in range(10):  # another controller keeps scaling it: we keep putting it back
        sink.handle(DriftCorrected("support-bot", (change,)))
    other = ObjectChange("support-bot", ObjectKey("v1", "Service", "agents", "support-bot"), Action.UPDATE)
    sink.handle(DriftCorrected("support-bot", (other,)))
    assert sink.drain()
    texts = [r.json()["text"] for r in slack.wait_for(2)]
    time.sleep(0.2)
    assert len(slack.received) == 2
    assert texts == [
        "support-bot DriftCorrected: put back: Deployment/agents/support-bot",
        "support-bot DriftCorrected: put back: Service/agents/support-bot",
    ]
    sink.stop()
