"""Auto-rollback on the full cluster: a revision whose pods never become ready is rolled back."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from agent_harness import wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.localcluster import LocalCluster
from gitops_agent.state.inventory import InventoryStore, RevisionState


def _image(repo: DeploymentsRepo) -> str:
    live = repo.kube.get("apps/v1", "Deployment", "research-assistant", repo.namespace) or {}
    return str(
        live.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("image")
    )


def _replicas(repo: DeploymentsRepo) -> int | None:
    live = repo.kube.get("apps/v1", "Deployment", "research-assistant", repo.namespace) or {}
    replicas = live.get("spec", {}).get("replicas")
    return int(replicas) if replicas is not None else None


@pytest.mark.full
def test_a_revision_that_never_becomes_ready_is_rolled_back_and_held(  # type: ignore[no-untyped-def]
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo = deployments_repo
    text = repo.read("deployments/research-assistant.yaml").replace(
        "  type: development\n", "  type: development\n  autoRollback: true\n  progressDeadlineSeconds: 10\n"
    )
    repo.push({"deployments/research-assistant.yaml": text}, "research-assistant: roll back when unhealthy")
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(
        lambda: (
            (running.agent.board.deployment("research-assistant") or {}).get("revision_state") == "Deployed"
        ),
        timeout=90,
    )

    broken = text.replace("ghcr.io/example/research-assistant:0.3.0", "ghcr.io/example/never-ready:0.4.0")
    repo.push({"deployments/research-assistant.yaml": broken}, "research-assistant: a broken build")
    running.agent.trigger_fetch()
    wait_for(lambda: _image(repo).endswith("never-ready:0.4.0"), timeout=30)
    wait_for(lambda: _image(repo).endswith("research-assistant:0.3.0"), timeout=90)  # rolled back

    # The rollback is counted once the history is saved (it is written after the objects).
    rollbacks = {"deployment": "research-assistant"}
    wait_for(
        lambda: running.agent.metrics.registry.get_sample_value("gitops_agent_rollbacks_total", rollbacks)
    )
    history = InventoryStore(repo.kube, repo.namespace).load_all()["research-assistant"].history
    results = {r.revision: r.result for r in history}
    assert results[2] is RevisionState.ROLLED_BACK and results[1] is RevisionState.DEPLOYED
    assert "ProgressDeadlineExceeded" in next(r.reason for r in history if r.revision == 2)
    assert (
        running.agent.metrics.registry.get_sample_value(
            "gitops_agent_rollbacks_total", {"deployment": "research-assistant"}
        )
        == 1
    )
    assert (running.agent.board.deployment("research-assistant") or {})["health"] == "RolledBack"
    # Both status views say what stands now: the restored revision, Deployed (not the rolled-back one).
    cluster_view = [
        "--kubeconfig",
        str(full_cluster.kubeconfig),
        "--state-namespace",
        repo.namespace,
        "--no-health",
    ]
    for view in (cluster_view, ["--agent-url", running.url]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["status", *view, "--format", "json"]) == 0
        row = next(r for r in json.loads(out.getvalue()) if r["name"] == "research-assistant")
        assert (row["revision"], row["state"]) == (1, "Deployed"), view

    # Held: a full resync does not re-apply the failed revision ...
    report = running.agent.run_sync_all()
    held = next(u for u in report.units if u.unit == "research-assistant")
    assert "held at r1" in held.note and _image(repo).endswith("research-assistant:0.3.0")

    # Held is not unguarded: drift on the restored revision is put back (self-heal), no re-apply of r2.
    registry = running.agent.metrics.registry
    drift = {"deployment": "research-assistant"}
    corrected_before = registry.get_sample_value("gitops_agent_drift_corrections_total", drift) or 0
    full_cluster.kubectl("-n", repo.namespace, "scale", "deployment/research-assistant", "--replicas=4")
    wait_for(lambda: _replicas(repo) == 1, timeout=30)
    wait_for(
        lambda: (
            (registry.get_sample_value("gitops_agent_drift_corrections_total", drift) or 0) > corrected_before
        )
    )
    assert _image(repo).endswith("research-assistant:0.3.0")
    history = InventoryStore(repo.kube, repo.namespace).load_all()["research-assistant"].history
    assert {r.revision: r.result for r in history}[2] is RevisionState.ROLLED_BACK

    # ... until the deployment changes again.
    fixed = text.replace(":0.3.0", ":0.5.0")
    repo.push({"deployments/research-assistant.yaml": fixed}, "research-assistant: fixed build")
    running.agent.trigger_fetch()
    wait_for(lambda: _image(repo).endswith("research-assistant:0.5.0"), timeout=30)
    # The inventory is written after the objects: wait for it too.
    store = InventoryStore(repo.kube, repo.namespace)
    latest = wait_for(lambda: store.load_all()["research-assistant"].latest.revision == 3, timeout=10)  # type: ignore[union-attr]
    assert latest


@pytest.mark.full
def test_an_automatic_rollback_honours_a_disabled_prune(  # type: ignore[no-untyped-def]
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    """Rollback is the same reconcile as a sync: with `sync.prune.enabled: false` it deletes nothing.

    The failed revision adds a queue-worker Deployment that the restored one lacks; a rollback that
    pruned on its own (as it did before it went through the sync path) would delete it.
    """
    repo = deployments_repo
    settings = repo.read("gitops-agent.yaml").replace(
        "    enabled: true       #", "    enabled: false      #"
    )
    assert "enabled: false" in settings
    text = repo.read("deployments/research-assistant.yaml").replace(
        "  type: development\n", "  type: development\n  autoRollback: true\n  progressDeadlineSeconds: 10\n"
    )
    repo.push({"gitops-agent.yaml": settings, "deployments/research-assistant.yaml": text}, "no prune")
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(
        lambda: (
            (running.agent.board.deployment("research-assistant") or {}).get("revision_state") == "Deployed"
        ),
        timeout=90,
    )

    broken = text.replace("ghcr.io/example/research-assistant:0.3.0", "ghcr.io/example/never-ready:0.4.0")
    broken += "  queue:\n    enabled: true\n"
    repo.push({"deployments/research-assistant.yaml": broken}, "research-assistant: broken, with a queue")
    running.agent.trigger_fetch()
    queue = ("apps/v1", "Deployment", "research-assistant-queue", repo.namespace)
    wait_for(lambda: repo.kube.get(*queue) is not None, timeout=30)
    wait_for(lambda: _image(repo).endswith("research-assistant:0.3.0"), timeout=90)  # rolled back

    store = InventoryStore(repo.kube, repo.namespace)
    wait_for(
        lambda: (
            {r.revision: r.result for r in store.load_all()["research-assistant"].history}.get(2)
            is RevisionState.ROLLED_BACK
        ),
        timeout=30,
    )
    assert repo.kube.get(*queue) is not None, "the rollback pruned although pruning is disabled"
    inventory = store.load_all()["research-assistant"]
    # still recorded as ours, so a later sync with pruning enabled can delete it
    assert "research-assistant-queue" in {e.key.name for e in inventory.objects}
