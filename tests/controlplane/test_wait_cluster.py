"""`gitops-agent wait` against the real cluster: set-image → sync → wait for that commit."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from cphelpers import run_cli
from sync_repo import DeploymentsRepo

from gitops_agent.localcluster import LocalCluster
from gitops_agent.state.inventory import InventoryStore, RevisionState

UNIT = "research-assistant"


def _set_image(repo: DeploymentsRepo, image: str) -> str:
    code, out, err = run_cli("set-image", UNIT, image, "--repo", str(repo.upstream.bare), "--format", "json")
    assert code == 0, err
    return str(json.loads(out)["commit"])


def _sync(repo: DeploymentsRepo) -> int:
    report = repo.sync(units=frozenset({UNIT}))
    assert report.ok, report
    [unit] = report.units
    assert unit.revision is not None
    return unit.revision


def _sync_and_wait(cluster: LocalCluster, repo: DeploymentsRepo) -> int:
    """`sync --wait`: what records a revision Deployed when no agent runs (the agent does it itself)."""
    code, out, err = run_cli(
        "sync", "--repo", str(repo.upstream.bare), "--deployment", UNIT, "--wait", "--timeout", "120",
        "--kubeconfig", str(cluster.kubeconfig), "--state-namespace", repo.namespace,
    )  # fmt: skip
    assert code == 0, out + err
    latest = InventoryStore(repo.kube, repo.namespace).load_all()[UNIT].latest
    assert latest is not None
    return latest.revision


def _wait(cluster: LocalCluster, repo: DeploymentsRepo, *args: str) -> tuple[int, str, str]:
    return run_cli(
        "wait", UNIT, *args, "--poll", "0.5",
        "--kubeconfig", str(cluster.kubeconfig), "--state-namespace", repo.namespace,
    )  # fmt: skip


@pytest.mark.full
def test_set_image_sync_then_wait_for_the_commit(
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo
) -> None:
    assert _sync_and_wait(full_cluster, deployments_repo) == 1
    sha = _set_image(deployments_repo, "ghcr.io/example/research-assistant:0.4.0")
    assert _sync(deployments_repo) == 2
    # applied, not healthy yet as far as the record goes: Deploying, so wait keeps waiting
    code, out, err = _wait(full_cluster, deployments_repo, "--commit", sha, "--timeout", "2")
    assert code == 1 and f"revision 2 of {UNIT} is Deploying" in err, out + err
    assert _sync_and_wait(full_cluster, deployments_repo) == 2
    code, out, err = _wait(full_cluster, deployments_repo, "--commit", sha, "--timeout", "120")
    assert code == 0, out + err
    assert f"waiting for the revision of {UNIT} at commit {sha[:12]}" in out
    assert "  revision 2  Deployed" in out
    assert out.strip().splitlines()[-1].startswith(f"ready: revision 2 of {UNIT} is Deployed (healthy)")
    # the older revision: deployed before it was superseded → success too
    code, out, err = _wait(full_cluster, deployments_repo, "--revision", "1", "--timeout", "5")
    assert code == 0, out + err
    assert "has superseded it since" in out


@pytest.mark.full
def test_wait_times_out_naming_the_health_summary(
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo
) -> None:
    sha = _set_image(deployments_repo, "ghcr.io/example/never-ready:0.4.0")
    assert _sync(deployments_repo) == 1
    code, out, err = _wait(full_cluster, deployments_repo, "--commit", sha[:10], "--timeout", "6")
    assert code == 1, out + err
    assert f"gitops-agent wait: timed out after 6s: revision 1 of {UNIT} is Deploying: Progressing: " in err
    assert f"/{deployments_repo.namespace}/" in err
    assert "Progressing" in out  # the progress lines showed the health as it went


def test_a_failed_or_rolled_back_revision_fails_the_wait_with_its_reason(
    cluster: LocalCluster, deployments_repo: DeploymentsRepo
) -> None:
    sha = _set_image(deployments_repo, "ghcr.io/example/research-assistant:0.4.0")
    assert _sync(deployments_repo) == 1
    store = InventoryStore(deployments_repo.kube, deployments_repo.namespace)
    for result, reason, expected in (
        (
            RevisionState.DEPLOY_FAILED,
            "Deployment/x/research-assistant apply failed: quota",
            "is DeployFailed",
        ),
        (RevisionState.ROLLED_BACK, "Degraded: ProgressDeadlineExceeded", "was RolledBack"),
    ):
        inventory = store.load_all()[UNIT]
        assert inventory.latest is not None and inventory.latest.commit == sha
        store.save(inventory.record(replace(inventory.latest, result=result, reason=reason)))
        code, out, err = _wait(cluster, deployments_repo, "--commit", sha, "--timeout", "30")
        assert code == 1, out + err
        assert f"gitops-agent wait: revision 1 of {UNIT} {expected}: {reason}" in err


def _mark(repo: DeploymentsRepo, unit: str, revision: int, state: RevisionState) -> None:
    """Record what the agent's rollout tracker would (this api-mode cluster runs no pods)."""
    store = InventoryStore(repo.kube, repo.namespace)
    inventory = store.load_all()[unit]
    record = inventory.find(revision)
    assert record is not None
    store.save(inventory.record(replace(record, result=state)))


def test_with_the_repository_wait_follows_commits_not_the_newest_record(
    cluster: LocalCluster, deployments_repo: DeploymentsRepo
) -> None:
    """Story 2 of the revision issue: `set-image` then at once `wait` reported the old revision ready.

    Story 1: with `--commit`, a revision *containing* the commit counts, whichever deployment the
    commit changed.
    """
    repo, bare = deployments_repo, str(deployments_repo.upstream.bare)
    assert _sync(repo) == 1
    _mark(repo, UNIT, 1, RevisionState.DEPLOYED)
    sha = _set_image(repo, "ghcr.io/example/research-assistant:0.4.0")
    # the agent has not synced it: the newest commit's revision is not recorded, so this is no success
    code, out, err = _wait(cluster, repo, "--repo", bare, "--timeout", "2")
    assert code == 1 and "is not recorded yet" in err, out + err
    assert f"a revision of {UNIT} that contains commit {sha[:12]}" in out

    assert _sync(repo) == 2
    _mark(repo, UNIT, 2, RevisionState.DEPLOYED)
    code, out, err = run_cli(  # a later commit that does not change UNIT
        "set-image", "support-bot", "ghcr.io/example/support-bot:1.4.3", "--repo", bare, "--format", "json"
    )
    assert code == 0, err
    later = str(json.loads(out)["commit"])
    for args in (("--commit", sha), ("--commit", later), ()):
        code, out, err = _wait(cluster, repo, "--repo", bare, *args, "--timeout", "10")
        assert code == 0, (args, out + err)
        assert out.strip().splitlines()[-1] == f"ready: revision 2 of {UNIT} is Deployed (healthy)"
    code, out, err = _wait(cluster, repo, "--repo", bare, "--commit", later, "--timeout", "10")
    assert f"{later[:12]} does not change {UNIT}; it runs as of {sha[:12]}" in out
