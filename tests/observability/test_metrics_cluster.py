"""/metrics of a running agent on the real cluster, scraped through a sync, a failure and a drift."""

from __future__ import annotations

import json
from pathlib import Path

from agent_harness import RunningAgent, wait_for
from prometheus_client.parser import text_string_to_metric_families
from promnames import exposed_names, metric_names
from sync_repo import DeploymentsRepo

from gitops_agent import __version__
from gitops_agent.localcluster import LocalCluster

CHART_FILES = Path(__file__).resolve().parents[2] / "charts" / "gitops-agent" / "files"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(running: RunningAgent) -> Samples:
    status, body = running.get("/metrics")
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def state(samples: Samples, deployment: str) -> str | None:
    """The sync state whose gauge is 1 (exactly one must be)."""
    ones = [
        dict(labels)["state"]
        for (name, labels), v in samples.items()
        if name == "gitops_agent_deployment_sync_state"
        and dict(labels)["deployment"] == deployment
        and v == 1
    ]
    assert len(ones) <= 1, ones
    return ones[0] if ones else None


def test_metrics_follow_a_sync_a_failure_and_a_drift_correction(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    first = running.agent.board.source.commit

    # -- a first sync: every deployment Synced at revision 1 -----------------------------------------
    # (units report as they finish; the run's duration once all of them and the prune are done)
    m = wait_for(
        lambda: (s := scrape(running)) and value(s, "gitops_agent_sync_duration_seconds_count") and s
    )
    assert value(m, "gitops_agent_build_info", version=__version__) == 1
    assert value(m, "gitops_agent_leader") == 1
    assert value(m, "gitops_agent_source_info", commit=first) == 1
    assert (value(m, "gitops_agent_source_fetch_duration_seconds_count") or 0) >= 1
    assert (value(m, "gitops_agent_source_last_fetch_timestamp_seconds") or 0) > 0
    assert (value(m, "gitops_agent_sync_duration_seconds_count") or 0) >= 1
    assert value(m, "gitops_agent_repository_problems") == 0
    for name in ("support-bot", "billing-agent", "research-assistant", "manifests"):
        assert state(m, name) == "Synced"
        assert value(m, "gitops_agent_deployment_sync_state", deployment=name, state="Failed") == 0
        assert value(m, "gitops_agent_deployment_revision", deployment=name) == 1
        assert value(
            m, "gitops_agent_deployment_revision_info", deployment=name, revision="1", commit=first[:12]
        )
        assert (value(m, "gitops_agent_deployment_last_synced_timestamp_seconds", deployment=name) or 0) > 0
        assert value(m, "gitops_agent_deployment_validation_errors", deployment=name) == 0
        assert (value(m, "gitops_agent_sync_operations_total", deployment=name, result="success") or 0) >= 1
        assert (value(m, "gitops_agent_objects_total", deployment=name, action="create") or 0) >= 1

    # -- a schema error in one file: that deployment fails, the others stay Synced -------------------
    good = repo.read("deployments/research-assistant.yaml")
    bad = good.replace("  type: development\n", "  type: experimental\n")
    repo.push({"deployments/research-assistant.yaml": bad}, "research-assistant: a typo")
    running.agent.trigger_fetch()
    m = wait_for(lambda: (s := scrape(running)) and state(s, "research-assistant") == "Failed" and s)
    assert (value(m, "gitops_agent_deployment_validation_errors", deployment="research-assistant") or 0) >= 1
    assert value(m, "gitops_agent_sync_operations_total", deployment="research-assistant", result="failure")
    assert (
        value(m, "gitops_agent_deployment_sync_state", deployment="research-assistant", state="Synced") == 0
    )
    assert value(m, "gitops_agent_deployment_revision", deployment="research-assistant") == 1  # unchanged
    assert state(m, "support-bot") == "Synced"
    assert value(m, "gitops_agent_source_info", commit=first) is None  # one series: the new commit
    assert value(m, "gitops_agent_source_info", commit=running.agent.board.source.commit) == 1
    detail = json.loads(running.get("/api/v1/deployments/research-assistant")[1])
    assert (
        "deployments/research-assistant.yaml:" in detail["last_error"] and "spec.type" in detail["last_error"]
    )
    assert detail["problems"] and detail["sync_state"] == "Failed"

    # ... and fixing it brings the deployment back (same spec: still revision 1), the gauge to 0.
    repo.push({"deployments/research-assistant.yaml": good}, "research-assistant: typo fixed")
    running.agent.trigger_fetch()
    m = wait_for(lambda: (s := scrape(running)) and state(s, "research-assistant") == "Synced" and s)
    assert value(m, "gitops_agent_deployment_validation_errors", deployment="research-assistant") == 0
    assert value(m, "gitops_agent_deployment_revision", deployment="research-assistant") == 1

    # -- drift: a manual scale is reverted and counted --------------------------------------------------
    assert running.agent.watch.wait_synced(10)
    before = value(m, "gitops_agent_drift_corrections_total", deployment="billing-agent") or 0
    updates = value(m, "gitops_agent_objects_total", deployment="billing-agent", action="update") or 0
    cluster.kubectl("-n", repo.namespace, "scale", "deployment/billing-agent", "--replicas=7")
    wait_for(
        lambda: (
            (value(scrape(running), "gitops_agent_drift_corrections_total", deployment="billing-agent") or 0)
            >= before + 1
        )
    )
    wait_for(
        lambda: kube.get("apps/v1", "Deployment", "billing-agent", repo.namespace)["spec"]["replicas"] == 3
    )
    m = scrape(running)
    assert (
        value(m, "gitops_agent_objects_total", deployment="billing-agent", action="update") or 0
    ) > updates
    assert state(m, "billing-agent") == "Synced"

    # -- everything the dashboard and the alerts query is in this exposition ----------------------------
    names = exposed_names(running.get("/metrics")[1].decode())
    dashboard = json.loads((CHART_FILES / "dashboard.json").read_text())
    used = {n for p in dashboard["panels"] for t in p["targets"] for n in metric_names(t["expr"])}
    assert used and used <= names, used - names
