"""Kubernetes Events of a running agent on the real cluster: rollouts, failures, prunes, rate limits."""

from __future__ import annotations

import json
from typing import Any

from agent_harness import wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.agent.events import EventReason, EventRecorder
from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster import LocalCluster


def events(
    kube: KubeClient, namespace: str, *, name: str, reason: str, kind: str = "Deployment"
) -> list[Any]:
    """Events about one object, oldest first."""
    found = [
        e
        for e in kube.list("v1", "Event", namespace=namespace).items
        if e["involvedObject"]["kind"] == kind
        and e["involvedObject"]["name"] == name
        and e["reason"] == reason
    ]
    return sorted(found, key=lambda e: (e["lastTimestamp"], e["metadata"]["creationTimestamp"]))


def test_rollouts_and_failures_leave_events_on_the_deployment(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns, force_conflicts=False)
    wait_for(running.all_synced)

    # A rollout: revision 1 on the first sync, revision 2 after a push.
    first = wait_for(lambda: events(kube, ns, name="support-bot", reason="RevisionDeploying"))
    assert first[0]["type"] == "Normal" and first[0]["message"].startswith("revision 1 (commit ")
    assert (
        first[0]["involvedObject"]["uid"]
        == kube.get("apps/v1", "Deployment", "support-bot", ns)["metadata"]["uid"]
    )
    assert first[0]["source"]["component"] == "gitops-agent"
    text = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":1.5.0")
    sha = repo.push({"deployments/support-bot.yaml": text}, "support-bot 1.5.0")
    running.agent.trigger_fetch()
    second = wait_for(
        lambda: [
            e
            for e in events(kube, ns, name="support-bot", reason="RevisionDeploying")
            if "revision 2" in e["message"]
        ]
    )
    assert f"(commit {sha[:12]})" in second[0]["message"]

    # A failure of a deployment that exists: another field manager takes the image over, and the
    # agent (here without --force-conflicts) may not take it back: its apply conflicts.
    assert running.agent.watch.wait_synced(10)
    live = kube.get("apps/v1", "Deployment", "research-assistant", ns)
    container = live["spec"]["template"]["spec"]["containers"][0]["name"]
    intruder = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "research-assistant", "namespace": ns},
        "spec": {
            "template": {"spec": {"containers": [{"name": container, "image": "example.com/hotfix:1"}]}}
        },
    }
    path = repo.upstream.work.parent / "intruder.json"
    path.write_text(json.dumps(intruder))
    cluster.kubectl(
        "apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", str(path)
    )
    failed = wait_for(lambda: events(kube, ns, name="research-assistant", reason="SyncFailed"), timeout=30)
    assert failed[0]["type"] == "Warning"
    assert "conflict" in failed[0]["message"].lower() and "intruder" in failed[0]["message"]
    assert (running.agent.board.deployment("research-assistant") or {})["sync_state"] == "Failed"

    # An invalid file fails the sync of an existing deployment too: the event names file and line.
    bad = repo.read("deployments/billing-agent.yaml").replace("  type: production\n", "  type: prod\n")
    repo.push({"deployments/billing-agent.yaml": bad}, "billing-agent: a typo")
    running.agent.trigger_fetch()
    invalid = wait_for(lambda: events(kube, ns, name="billing-agent", reason="SyncFailed"))
    assert "deployments/billing-agent.yaml:" in invalid[0]["message"] and "spec.type" in invalid[0]["message"]


def test_prunes_leave_events_on_the_deployment_or_for_a_teardown_in_the_state_namespace(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    without_ingress = repo.read("deployments/research-assistant.yaml").replace(
        "  ingress:\n    path: /research\n", ""
    )
    repo.push(
        {"deployments/research-assistant.yaml": without_ingress, "deployments/billing-agent.yaml": None},
        "research-assistant without ingress; billing-agent retired",
    )
    running.agent.trigger_fetch()
    pruned = wait_for(lambda: events(kube, ns, name="research-assistant", reason="Pruned"))
    assert pruned[0]["message"] == f"pruned 1 objects: Ingress/{ns}/research-assistant"
    # billing-agent's Deployment is gone with the rest: its event is about its inventory ConfigMap
    # (here the state namespace is the test namespace too).
    teardown = wait_for(
        lambda: events(kube, ns, name="gitops-agent.billing-agent", reason="Pruned", kind="ConfigMap")
    )
    assert f"Deployment/{ns}/billing-agent" in teardown[0]["message"]
    assert kube.get("apps/v1", "Deployment", "billing-agent", ns) is None
    objects = (running.agent.board.deployment("research-assistant") or {})["objects"]
    assert {"object": f"Ingress/{ns}/research-assistant", "action": "prune"} in objects


def test_events_are_rate_limited_and_scrubbed(deployments_repo: DeploymentsRepo) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    repo.sync()
    recorder = EventRecorder(kube, instance="test", state_namespace=ns, min_interval=60)
    message = "fetch of https://user:s3cr3t@git.example.com/repo.git failed"
    assert recorder.record(
        deployment="support-bot", namespace=ns, reason=EventReason.SYNC_FAILED, message=message
    )
    assert not recorder.record(
        deployment="support-bot", namespace=ns, reason=EventReason.SYNC_FAILED, message=message
    )
    assert recorder.record(
        deployment="support-bot", namespace=ns, reason=EventReason.SYNC_FAILED, message="another cause"
    )
    assert recorder.record(
        deployment="support-bot", namespace=ns, reason=EventReason.DRIFT_CORRECTED, message=message
    )
    posted = events(kube, ns, name="support-bot", reason="SyncFailed")
    assert len(posted) == 2
    assert all("s3cr3t" not in e["message"] for e in posted)
    # No Deployment (the manifests unit, a teardown): about the inventory ConfigMap in the state namespace.
    assert recorder.record(
        deployment="manifests", namespace=ns, reason=EventReason.DRIFT_CORRECTED, message="put back"
    )
    [event] = events(kube, ns, name="gitops-agent.manifests", reason="DriftCorrected", kind="ConfigMap")
    assert event["involvedObject"]["uid"]  # the inventory exists: its uid is referenced
