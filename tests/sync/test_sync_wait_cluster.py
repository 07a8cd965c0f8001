"""`gitops-agent sync --wait` on the full cluster: rollouts reach Healthy, a never-ready image is Degraded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.localcluster import LocalCluster


def _sync_wait(cluster: LocalCluster, repo: DeploymentsRepo, tmp_path: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    out = tmp_path / "out.json"
    argv = [
        "sync",
        "--repo",
        str(repo.upstream.bare),
        "--cache-dir",
        str(tmp_path / "cli-cache"),
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--state-namespace",
        repo.namespace,
        "--wait",
        "--format",
        "json",
        *extra,
    ]
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    out.write_text(buffer.getvalue())
    return code, json.loads(buffer.getvalue())


@pytest.mark.full
def test_sync_wait_reports_healthy_then_degraded_for_a_never_ready_image(
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo, tmp_path: Path
) -> None:
    code, report = _sync_wait(full_cluster, deployments_repo, tmp_path, "--timeout", "120")
    assert code == 0, report
    assert {d["name"]: d["health"] for d in report["deployments"]} == {
        "billing-agent": "Healthy",
        "manifests": "Healthy",
        "research-assistant": "Healthy",
        "support-bot": "Healthy",
    }

    text = deployments_repo.read("deployments/research-assistant.yaml")
    text = text.replace("ghcr.io/example/research-assistant:0.3.0", "ghcr.io/example/never-ready:0.4.0")
    text = text.replace("  type: development\n", "  type: development\n  progressDeadlineSeconds: 10\n")
    deployments_repo.push({"deployments/research-assistant.yaml": text}, "research-assistant: broken image")
    code, report = _sync_wait(full_cluster, deployments_repo, tmp_path, "--timeout", "120")
    assert code == 1
    health = {d["name"]: d["health"] for d in report["deployments"]}
    assert health["research-assistant"] == "Degraded"
    assert health["support-bot"] == "Healthy"
