"""Manual control as commits: rollback, redeploy, suspend and resume (revision issue, story 7)."""

from __future__ import annotations

import json

from cphelpers import run_cli
from gitrepo import git
from sync_repo import DeploymentsRepo

from gitops_agent.localcluster import LocalCluster
from gitops_agent.reconcile.sync import SyncState

UNIT = "research-assistant"


def _cli(repo: DeploymentsRepo, *args: str) -> str:
    code, out, err = run_cli(*args, "--repo", str(repo.upstream.bare), "--format", "json")
    assert code == 0, out + err
    return str(json.loads(out)["commit"])


def _live(repo: DeploymentsRepo) -> dict:  # type: ignore[type-arg]
    live = repo.kube.get("apps/v1", "Deployment", UNIT, repo.namespace)
    assert live is not None
    return live


def _image(repo: DeploymentsRepo) -> str:
    return str(_live(repo)["spec"]["template"]["spec"]["containers"][0]["image"])


def _unit(repo: DeploymentsRepo):  # type: ignore[no-untyped-def]
    report = repo.sync()
    return next(u for u in report.units if u.unit == UNIT)


def test_rollback_redeploy_suspend_and_resume_are_commits(
    cluster: LocalCluster, deployments_repo: DeploymentsRepo
) -> None:
    repo = deployments_repo
    assert _unit(repo).revision == 1
    _cli(repo, "set-image", UNIT, "ghcr.io/example/research-assistant:0.4.0")
    assert _unit(repo).revision == 2 and _image(repo).endswith(":0.4.0")

    # rollback --to-revision: the file as it was at revision 1's commit, as a new commit and revision
    cluster_flags = ("--kubeconfig", str(cluster.kubeconfig), "--state-namespace", repo.namespace)
    sha = _cli(repo, "rollback", UNIT, "--to-revision", "1", *cluster_flags)
    message = git("log", "-1", "--format=%s", sha, cwd=repo.upstream.bare)
    assert message.startswith(f"{UNIT}: roll back to revision 1 (")
    rolled = _unit(repo)
    assert rolled.revision == 3 and _image(repo).endswith(":0.3.0")
    code, _, err = run_cli(
        "rollback", UNIT, "--to-revision", "9", "--repo", str(repo.upstream.bare), *cluster_flags
    )
    assert code != 0 and "has no revision 9" in err

    # redeploy: the same spec again, restarting the pods (a new pod-template annotation)
    generation = _live(repo)["metadata"]["generation"]
    _cli(repo, "redeploy", UNIT)
    redeployed = _unit(repo)
    assert redeployed.revision == 4 and _image(repo).endswith(":0.3.0")
    template = _live(repo)["spec"]["template"]["metadata"]
    assert template["annotations"]["gitops-agent.dev/redeploy"].endswith("Z")
    assert _live(repo)["metadata"]["generation"] > generation

    # suspend: Git changes are not applied, nothing is pruned, and the result says so
    _cli(repo, "suspend", UNIT)
    _cli(repo, "set-image", UNIT, "ghcr.io/example/research-assistant:0.5.0")
    suspended = _unit(repo)
    assert suspended.state is SyncState.SUSPENDED and "suspended" in suspended.note
    assert _image(repo).endswith(":0.3.0")
    assert repo.kube.get("networking.k8s.io/v1", "Ingress", UNIT, repo.namespace) is not None

    # resume: the waiting change is applied
    _cli(repo, "resume", UNIT)
    resumed = _unit(repo)
    assert resumed.state is SyncState.SYNCED and _image(repo).endswith(":0.5.0")
