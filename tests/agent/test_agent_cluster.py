"""The running agent on the real cluster: webhooks, dir mode, self-heal, leader election, failures."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from agent_harness import WEBHOOK_SECRET, RunningAgent, wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster import LocalCluster


def _image(kube: KubeClient, namespace: str, name: str) -> str:
    live = kube.get("apps/v1", "Deployment", name, namespace)
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"]) if live else ""


def _revision(running: RunningAgent, name: str, revision: int) -> dict | None:  # type: ignore[type-arg]
    detail = running.agent.board.deployment(name)
    return detail if detail and detail["revision"] == revision else None


def _fetch_count(running: RunningAgent) -> float | None:
    return running.agent.metrics.registry.get_sample_value("gitops_agent_source_fetch_duration_seconds_count")


def test_a_signed_webhook_after_a_push_converges_the_change(
    deployments_repo: DeploymentsRepo, start_agent
) -> None:  # type: ignore[no-untyped-def]
    repo, kube = deployments_repo, deployments_repo.kube
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    text = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.4.0")
    repo.push({"deployments/research-assistant.yaml": text}, "research-assistant 0.4.0")
    time.sleep(1.0)
    # Polling is off (one hour): without the webhook nothing changes.
    assert _image(kube, repo.namespace, "research-assistant").endswith(":0.3.0")

    status, _ = running.github_push()
    assert status == 202
    wait_for(lambda: _image(kube, repo.namespace, "research-assistant").endswith(":0.4.0"))
    detail = wait_for(lambda: _revision(running, "research-assistant", 2))
    assert detail["message"].startswith("research-assistant 0.4.0")


def test_webhooks_without_a_valid_signature_are_rejected_and_trigger_nothing(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo = deployments_repo
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    fetches = _fetch_count(running)

    assert running.github_push(secret=b"wrong")[0] == 401
    assert running.post("/webhook", b"{}", {"X-GitHub-Event": "push"})[0] == 401
    assert running.post("/webhook", b"x" * (2 * 1024 * 1024), {"X-GitHub-Event": "push"})[0] == 413
    assert running.github_push(ref="refs/heads/other")[0] == 202  # signed, but not our branch: ignored
    time.sleep(0.5)
    assert _fetch_count(running) == fetches

    import hashlib
    import hmac
    import json

    body = json.dumps({"ref": "refs/heads/main"}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "delivery-1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest(),
    }
    assert running.post("/webhook", body, headers)[0] == 202
    assert running.post("/webhook", body, headers)[0] == 409  # the same delivery again: a replay


def test_dir_mode_rolls_out_a_file_edit_within_seconds(  # type: ignore[no-untyped-def]
    tmp_path: Path, namespace: str, kube: KubeClient, start_agent
) -> None:
    folder = tmp_path / "repo"
    shutil.copytree(Path(__file__).resolve().parents[2] / "sample-repo", folder)
    settings = folder / "gitops-agent.yaml"
    settings.write_text(settings.read_text().replace("namespace: agents\n", f"namespace: {namespace}\n"))
    running = start_agent(str(folder), namespace)
    wait_for(running.all_synced)
    target = folder / "deployments" / "research-assistant.yaml"
    target.write_text(target.read_text().replace(":0.3.0", ":0.5.0"))
    # The poll interval is an hour: only the file watch can bring the change in.
    wait_for(lambda: _image(kube, namespace, "research-assistant").endswith(":0.5.0"))


def test_drift_is_reverted_and_a_deleted_object_recreated(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    assert running.agent.watch.wait_synced(10)  # drift is noticed through the watches
    cluster.kubectl("-n", repo.namespace, "scale", "deployment/billing-agent", "--replicas=7")
    wait_for(
        lambda: kube.get("apps/v1", "Deployment", "billing-agent", repo.namespace)["spec"]["replicas"] == 3
    )
    cluster.kubectl("-n", repo.namespace, "delete", "service", "research-assistant")
    wait_for(lambda: kube.get("v1", "Service", "research-assistant", repo.namespace) is not None)
    drift = running.agent.metrics.drift  # counted once the unit's sync returns, after the write
    wait_for(lambda: drift.labels("billing-agent")._value.get() >= 1)
    wait_for(lambda: drift.labels("research-assistant")._value.get() >= 1)


def test_only_the_leader_applies_and_a_standby_takes_over(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    first = start_agent(str(repo.upstream.bare), repo.namespace, leader_elect=True, lease_duration=4.0)
    wait_for(first.agent.leading.is_set)
    second = start_agent(str(repo.upstream.bare), repo.namespace, leader_elect=True, lease_duration=4.0)
    wait_for(first.all_synced)
    time.sleep(2)
    assert not second.agent.leading.is_set()
    assert second.agent.board.deployments() == []  # the standby synced nothing
    assert wait_for(lambda: second.get("/readyz")[0] == 200)

    first.agent.stop(timeout=10)  # graceful: releases the Lease
    wait_for(second.agent.leading.is_set, timeout=8)
    text = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.6.0")
    repo.push({"deployments/research-assistant.yaml": text}, "0.6.0")
    second.agent.trigger_fetch()
    wait_for(lambda: _image(kube, repo.namespace, "research-assistant").endswith(":0.6.0"), timeout=10)


def test_an_unreachable_remote_keeps_live_state_and_recovers(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    hidden = repo.upstream.bare.with_name("hidden.git")
    repo.upstream.bare.rename(hidden)
    running.agent.trigger_fetch()
    wait_for(lambda: running.agent.board.source.error, timeout=10)
    assert running.agent.metrics.fetch_failures._value.get() >= 1  # type: ignore[attr-defined]
    assert _image(kube, repo.namespace, "research-assistant").endswith(":0.3.0")
    assert all(d["sync_state"] == "Synced" for d in running.agent.board.deployments())

    hidden.rename(repo.upstream.bare)
    text = repo.read("deployments/research-assistant.yaml").replace(":0.3.0", ":0.7.0")
    repo.push({"deployments/research-assistant.yaml": text}, "0.7.0")
    running.agent.trigger_fetch()
    wait_for(lambda: _image(kube, repo.namespace, "research-assistant").endswith(":0.7.0"), timeout=10)
    assert running.agent.board.source.error == ""
