"""Notifications from a real agent (issue 17's acceptance): a rollout that fails and rolls back is
exactly Deploying, DeployFailed, RolledBack per sink and a failure commit status; a 30-second
apiserver outage with 20 deployments is one message per sink.

The receivers are real HTTP servers on loopback that follow Slack's, Teams' and GitHub's documented
contracts (tests/http_receiver.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agent_harness import wait_for
from http_receiver import Receiver, http_receiver
from sync_repo import DeploymentsRepo, make_deployments_repo

from gitops_agent.agent.notify import delivery
from gitops_agent.agent.notify.config import load_notify_config
from gitops_agent.kube.client import connect
from gitops_agent.localcluster import LocalCluster, Mode

__all__ = ["http_receiver"]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_DELAY_SECONDS", 0.05)


def _notify(tmp_path: Path, start: Callable[..., Receiver]) -> tuple[dict[str, Receiver], Receiver, Path]:
    chat = {"slack": start(), "teams": start(202, b""), "generic": start(204, b"")}
    forge = start(201, b"{}")
    lines = ["notifications:"]
    for kind, receiver in chat.items():
        (tmp_path / f"{kind}.url").write_text(f"{receiver.url}/{kind}")
        lines.append(f"  - {{name: {kind}, type: {kind}, urlFile: {tmp_path / f'{kind}.url'}}}")
    (tmp_path / "token").write_text("t0k3n")
    lines += ["commitStatus:", "  provider: github", f"  tokenFile: {tmp_path / 'token'}",
              f"  apiUrl: {forge.url}", "  repository: acme/deployments"]  # fmt: skip
    path = tmp_path / "notify.yaml"
    path.write_text("\n".join(lines) + "\n")
    return chat, forge, path


def _events(receiver: Receiver, kind: str, deployment: str | None = None) -> list[str]:
    """The titles of the messages a chat receiver got (`research-assistant r2 Deploying`)."""
    titles = []
    for request in receiver.received:
        body: Any = request.json()
        if kind == "slack":
            title = body["text"].split(":")[0].split(" · ")[0]
        elif kind == "teams":
            title = body["attachments"][0]["content"]["body"][0]["text"]
        else:
            title = body["text"].split(":")[0].split(" · ")[0]
        if deployment is None or title.startswith(deployment + " "):
            titles.append(title)
    return titles


@pytest.mark.full
def test_a_rollout_that_fails_and_rolls_back_is_three_messages_and_a_failure_status(  # type: ignore[no-untyped-def]
    full_cluster: LocalCluster,
    deployments_repo: DeploymentsRepo,
    start_agent,
    http_receiver: Callable[..., Receiver],
    tmp_path: Path,
) -> None:
    repo = deployments_repo
    chat, forge, config = _notify(tmp_path, http_receiver)
    text = repo.read("deployments/research-assistant.yaml").replace(
        "  type: development\n", "  type: development\n  autoRollback: true\n  progressDeadlineSeconds: 10\n"
    )
    repo.push({"deployments/research-assistant.yaml": text}, "research-assistant: roll back when unhealthy")
    running = start_agent(str(repo.upstream.bare), repo.namespace, notify=load_notify_config(config))
    wait_for(
        lambda: (
            (running.agent.board.deployment("research-assistant") or {}).get("revision_state") == "Deployed"
        ),
        timeout=90,
    )
    for kind, receiver in chat.items():  # every sink delivered r1 before the slate is wiped
        wait_for(lambda r=receiver, k=kind: "research-assistant r1 Deployed" in _events(r, k), timeout=30)
    assert running.agent.notifications is not None and running.agent.notifications.drain()
    for receiver in (*chat.values(), forge):
        receiver.received.clear()

    broken = text.replace("ghcr.io/example/research-assistant:0.3.0", "ghcr.io/example/never-ready:0.4.0")
    commit = repo.push({"deployments/research-assistant.yaml": broken}, "research-assistant: a broken build")
    running.agent.trigger_fetch()
    expected = ["research-assistant r2 Deploying", "research-assistant r2 DeployFailed",
                "research-assistant r2 RolledBack"]  # fmt: skip
    for kind, receiver in chat.items():
        wait_for(lambda r=receiver, k=kind: len(_events(r, k, "research-assistant")) >= 3, timeout=120)
    assert running.agent.notifications is not None and running.agent.notifications.drain()
    time.sleep(1)  # nothing more may follow
    for kind, receiver in chat.items():
        assert _events(receiver, kind, "research-assistant") == expected, kind
    mine = [r for r in forge.received if r.json()["context"] == "gitops-agent/research-assistant"]
    assert [r.json()["state"] for r in mine] == ["pending", "failure"]
    assert {r.path for r in mine} == {f"/repos/acme/deployments/statuses/{commit}"}
    assert "RolledBack" in mine[1].json()["description"]


def test_an_apiserver_outage_with_twenty_deployments_is_one_message_per_sink(  # type: ignore[no-untyped-def]
    tmp_path: Path, start_agent, http_receiver: Callable[..., Receiver]
) -> None:
    chat, _, config = _notify(tmp_path, http_receiver)
    with LocalCluster(tmp_path / "own-cluster", mode=Mode.API) as cluster:
        kube = connect(str(cluster.kubeconfig))
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "outage"}})
        (tmp_path / "repo").mkdir()
        repo = make_deployments_repo(tmp_path / "repo", "outage", kube)
        files: dict[str, str | None] = {f"deployments/{n}.yaml": None for n in
                                        ("support-bot", "research-assistant", "billing-agent")}  # fmt: skip
        for i in range(20):
            files[f"deployments/agent-{i:02}.yaml"] = (
                "apiVersion: gitops-agent.dev/v1\nkind: AgentDeployment\n"
                f"metadata:\n  name: agent-{i:02}\nspec:\n  image: ghcr.io/example/agent-{i:02}:1.0.0\n"
            )
        repo.push(files, "Twenty agents")
        running = start_agent(
            str(repo.upstream.bare),
            "outage",
            client=kube,
            resync_interval=2.0,
            notify=load_notify_config(config),
        )
        wait_for(lambda: running.all_synced(21), timeout=120)
        assert running.agent.notifications is not None
        # Before the outage, what can settle has: 21 units Deploying, and the plain manifests Deployed
        # (in api mode no pod ever becomes ready, so the agents stay Deploying).
        wait_for(lambda: "manifests r1 Deployed" in _events(chat["slack"], "slack"), timeout=60)
        assert running.agent.notifications.drain()
        before = {kind: len(r.received) for kind, r in chat.items()}

        cluster.stop_apiserver()
        time.sleep(30)
        cluster.start_apiserver()
        wait_for(lambda: running.all_synced(21), timeout=120)
        time.sleep(6)  # a few clean resyncs after the outage
        assert running.agent.notifications.drain()
        for kind, receiver in chat.items():
            new = _events(receiver, kind)[before[kind] :]
            assert len(new) == 1 and new[0] == "gitops-agent ClusterFailing", (kind, new)
