"""`gitops-agent sync --wait` on the full cluster: rollouts reach Healthy, a never-ready image is Degraded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.localcluster import LocalCluster
from gitops_agent.localcluster.cluster import IMAGE_PULL_FAILS_MARK


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


@pytest.mark.full
def test_sync_wait_timeout_names_every_object_not_ready_and_why(
    full_cluster: LocalCluster,
    deployments_repo: DeploymentsRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The real scheduler's Unschedulable message, and a kubelet's ImagePullBackOff (kwok's stage for
    images marked no-such-image), each reported under the object it holds back."""
    repo = deployments_repo
    support = repo.read("deployments/support-bot.yaml").replace(
        '  resources:\n    requests: {cpu: "1", memory: 2Gi}',
        '  resources:\n    requests: {cpu: "100", memory: 2Gi}',
    )
    research = repo.read("deployments/research-assistant.yaml").replace(
        "ghcr.io/example/research-assistant:0.3.0", f"ghcr.io/example/{IMAGE_PULL_FAILS_MARK}:0.3.0"
    )
    repo.push(
        {"deployments/support-bot.yaml": support, "deployments/research-assistant.yaml": research},
        "Too big, and a typo",
    )
    argv = ["sync", "--repo", str(repo.upstream.bare), "--cache-dir", str(tmp_path / "cache"),
            "--kubeconfig", str(full_cluster.kubeconfig), "--state-namespace", repo.namespace,
            "--wait", "--timeout", "20"]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "timed out after 20s: 2 of 4 units not healthy" in out, out
    ns = repo.namespace
    support_lines = out.split("  support-bot:\n")[1]
    assert f"Deployment/{ns}/support-bot: Progressing:" in support_lines
    assert re.search(r"pod support-bot-[a-z0-9]+-[a-z0-9]+: Pending: Unschedulable: 0/3 nodes are available: "
                     r"3 Insufficient cpu", support_lines), out  # fmt: skip
    research_lines = out.split("  research-assistant:\n")[1].split("  support-bot:\n")[0]
    assert f"Deployment/{ns}/research-assistant: Progressing:" in research_lines
    image = f"ghcr.io/example/{IMAGE_PULL_FAILS_MARK}:0.3.0"
    assert re.search(
        rf'container [a-z-]+: ImagePullBackOff: Back-off pulling image "{image}"', research_lines
    ), out
    last = out.strip().splitlines()[-1]
    assert "FAILED: 2 of 4 units not healthy" in last and "synced" not in last, last
