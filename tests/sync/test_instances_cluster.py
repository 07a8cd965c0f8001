"""Two agent instances on one cluster never touch each other's objects (revision issue, story 6).

Before, a second agent for another repository planned to take over the first one's objects (with
the same state namespace: to prune all of them; with its own: 28 updates), without a word.
"""

from __future__ import annotations

import secrets

from sync_repo import DeploymentsRepo

from gitops_agent.engine.diff import Action, comparable
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncOptions, SyncState, sync
from gitops_agent.state.inventory import InventoryStore


def _versions(kube: KubeClient, namespace: str) -> dict[str, object]:
    """Each object without status and server bookkeeping (controllers keep writing status in full mode)."""
    versions: dict[str, object] = {}
    kinds = (("apps/v1", "Deployment"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"))
    for api_version, kind in kinds:
        for item in kube.list(api_version, kind, namespace=namespace).items:
            versions[f"{kind}/{item['metadata']['name']}"] = comparable(item)
    return versions


def _second_instance_is_refused(repo: DeploymentsRepo, options: SyncOptions, owner: str) -> None:
    before = _versions(repo.kube, repo.namespace)
    assert len(before) >= 9
    report = sync(repo.kube, repo.fetch(), options)
    failed = {u.unit: u.error for u in report.units if u.state is SyncState.FAILED}
    assert set(failed) == {u.unit for u in report.units}, report
    assert all(
        f"belongs to gitops-agent instance {owner!r}" in e for u, e in failed.items() if u != "manifests"
    )
    assert not report.prune_changes and not [c for c in report.changes if c.action is not Action.UNCHANGED]
    assert _versions(repo.kube, repo.namespace) == before  # nothing written
    # and the first instance's record is still whole
    assert len(InventoryStore(repo.kube, repo.namespace, owner).load_all()) == 4


def test_an_instance_with_its_own_state_namespace_leaves_the_other_alone(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    assert repo.sync().ok  # instance = its state namespace
    other = f"{repo.namespace}-b"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        _second_instance_is_refused(repo, SyncOptions(state_namespace=other), owner=repo.namespace)
    finally:
        kube.delete("v1", "Namespace", other)


def test_two_instances_in_one_state_namespace_keep_apart(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    one, two = f"one-{secrets.token_hex(2)}", f"two-{secrets.token_hex(2)}"
    assert sync(kube, repo.fetch(), SyncOptions(state_namespace=repo.namespace, instance=one)).ok
    _second_instance_is_refused(repo, SyncOptions(state_namespace=repo.namespace, instance=two), owner=one)
    names = {cm["metadata"]["name"] for cm in kube.list("v1", "ConfigMap", namespace=repo.namespace).items}
    assert f"gitops-agent.{one}.support-bot" in names
    # instance one prunes and updates as usual: the other's failed attempts changed nothing of its own
    repo.push({"deployments/research-assistant.yaml": None}, "retire research-assistant")
    report = sync(kube, repo.fetch(), SyncOptions(state_namespace=repo.namespace, instance=one))
    assert report.ok and {c.unit for c in report.prune_changes} == {"research-assistant"}
