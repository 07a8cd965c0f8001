"""Conflicts, immutable fields, rejected objects and secret masking, on the real apiserver."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sync_repo import DeploymentsRepo

from gitops_agent.core.labels import LABEL_DEPLOYMENT, LABEL_MANAGED_BY, MANAGED_BY
from gitops_agent.engine.apply import (
    ApplyOptions,
    ImmutableFieldError,
    OwnershipError,
    apply_plan,
    plan_object,
)
from gitops_agent.engine.diff import Action, format_changes
from gitops_agent.kube.client import KubeClient
from gitops_agent.manifests.render_backing import derive_password
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import NAME_PREFIX as INVENTORY_PREFIX
from gitops_agent.state.inventory import InventoryStore
from gitops_agent.state.seed import load_or_create_seed

OWNED = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_DEPLOYMENT: "demo"}


def _deployment(namespace: str, *, app: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo", "namespace": namespace, "labels": dict(OWNED)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "main", "image": "example.test/demo:1"}]},
            },
        },
    }


def test_a_field_owned_by_another_manager_is_a_clear_conflict_unless_forced(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.sync()
    intruder = KubeClient(kube.api_client, field_manager="kubectl-edit")
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "research-assistant", "namespace": repo.namespace},
        "spec": {"replicas": 5},
    }
    intruder.apply(patch, force=True)

    report = repo.sync()
    failed = {u.unit: u for u in report.units}["research-assistant"]
    assert failed.state is SyncState.FAILED
    assert (
        "conflict" in failed.error.lower()
        and "kubectl-edit" in failed.error
        and ".spec.replicas" in failed.error
    )

    forced = repo.sync(apply=ApplyOptions(force_conflicts=True))
    assert forced.ok
    live = kube.get("apps/v1", "Deployment", "research-assistant", repo.namespace)
    assert live is not None and live["spec"]["replicas"] == 1


def test_an_immutable_selector_change_recreates_a_deployment(kube: KubeClient, namespace: str) -> None:
    kube.apply(_deployment(namespace, app="v1"))
    old_uid = kube.get("apps/v1", "Deployment", "demo", namespace)["metadata"]["uid"]  # type: ignore[index]
    desired = _deployment(namespace, app="v2")
    planned = plan_object(kube, unit="demo", stage=2, desired=desired, options=ApplyOptions())
    assert planned.action is Action.UPDATE and planned.recreate
    with ThreadPoolExecutor(2) as pool:
        apply_plan(kube, pool, [planned], options=ApplyOptions())
    live = kube.get("apps/v1", "Deployment", "demo", namespace)
    assert live is not None and live["metadata"]["uid"] != old_uid
    assert live["spec"]["selector"]["matchLabels"] == {"app": "v2"}


def test_an_immutable_statefulset_change_fails_unless_recreate_is_allowed(
    kube: KubeClient, namespace: str
) -> None:
    def statefulset(storage: str) -> dict[str, Any]:
        sts = _deployment(namespace, app="db")
        sts["kind"] = "StatefulSet"
        sts["spec"]["serviceName"] = "demo"
        sts["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
            }
        ]
        return sts

    kube.apply(statefulset("1Gi"))
    with pytest.raises(ImmutableFieldError, match=r"StatefulSet .* not re-created automatically"):
        plan_object(kube, unit="demo", stage=1, desired=statefulset("2Gi"), options=ApplyOptions())
    allowed = plan_object(
        kube,
        unit="demo",
        stage=1,
        desired=statefulset("2Gi"),
        options=ApplyOptions(recreate_statefulsets=True),
    )
    assert allowed.recreate


def test_an_object_we_do_not_own_is_never_taken_over(kube: KubeClient, namespace: str) -> None:
    foreign = _deployment(namespace, app="v1")
    foreign["metadata"]["labels"] = {"team": "theirs"}
    KubeClient(kube.api_client, field_manager="someone-else").apply(foreign)
    with pytest.raises(OwnershipError, match="not managed by gitops-agent"):
        plan_object(
            kube, unit="demo", stage=2, desired=_deployment(namespace, app="v1"), options=ApplyOptions()
        )


BAD_CONFIG_MAP = (
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  'not a valid key!': x\n"
)


def test_a_rejected_new_object_fails_its_unit_and_what_was_created_is_recorded_not_orphaned(
    deployments_repo: DeploymentsRepo,
) -> None:
    """A new unit is not dry-run (its creates are the check): a rejected object fails the unit, and
    what its stage did create is in the unit's inventory, so it is updated or pruned later."""
    repo, kube = deployments_repo, deployments_repo.kube
    original = repo.read("manifests/agents-config.yaml")
    repo.push(
        {"manifests/agents-config.yaml": original + BAD_CONFIG_MAP}, "Add a ConfigMap the apiserver rejects"
    )
    report = repo.sync()
    results = {u.unit: u for u in report.units}
    assert results["manifests"].state is SyncState.FAILED
    assert f"ConfigMap/{repo.namespace}/bad" in results["manifests"].error
    assert all(u.state is SyncState.SYNCED for name, u in results.items() if name != "manifests")
    live = {
        f"{o['kind']}/{o['metadata']['name']}"
        for kind in (("v1", "ConfigMap"), ("v1", "ServiceAccount"), ("networking.k8s.io/v1", "NetworkPolicy"))
        for o in kube.list(
            *kind, namespace=repo.namespace, label_selector=f"{LABEL_DEPLOYMENT}=manifests"
        ).items
        if not o["metadata"]["name"].startswith(INVENTORY_PREFIX)  # the inventory itself (same namespace)
    }
    recorded = {
        f"{e.key.kind}/{e.key.name}"
        for e in InventoryStore(kube, repo.namespace).load_all()["manifests"].objects
    }
    assert live and live <= recorded  # every object the failed attempt created is owned on record

    repo.push({"manifests/agents-config.yaml": original}, "Drop the bad ConfigMap")
    assert repo.sync().ok
    assert kube.get("v1", "ConfigMap", "bad", repo.namespace) is None


def test_a_rejected_change_of_a_live_object_fails_its_unit_before_any_write(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    assert repo.sync().ok
    before = kube.get("v1", "ConfigMap", "agent-prompts", repo.namespace)
    assert before is not None
    changed = repo.read("manifests/agents-config.yaml").replace(
        "  support-greeting.txt: |", "  'not a valid key!': x\n  support-greeting.txt: |"
    )
    repo.push({"manifests/agents-config.yaml": changed}, "A key the apiserver rejects")
    report = repo.sync()
    manifests = next(u for u in report.units if u.unit == "manifests")
    assert manifests.state is SyncState.FAILED and "agent-prompts" in manifests.error
    after = kube.get("v1", "ConfigMap", "agent-prompts", repo.namespace)
    assert after is not None and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_secret_values_never_appear_in_diffs(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    password = derive_password(
        load_or_create_seed(kube, repo.namespace, create=True),
        namespace=repo.namespace,
        name="support-bot",
        purpose="postgres",
    )
    report = repo.sync(dry_run=True)
    assert any(c.key.kind == "Secret" and c.diff for c in report.changes)
    for fmt in ("text", "json", "markdown"):
        assert password not in format_changes(report.changes, fmt)
    repo.sync()
    assert password not in format_changes(repo.sync(dry_run=True).changes, "text")


def test_every_object_rendered_from_sample_repo_passes_a_server_side_dry_run(
    kube: KubeClient, namespace: str
) -> None:
    """The real check that the renderer produces valid Kubernetes: the apiserver accepts every object."""
    from pathlib import Path

    from gitops_agent.manifests import PLACEHOLDER_SEED, load_repository, render_unit

    load = load_repository(Path(__file__).resolve().parents[2] / "sample-repo")
    assert load.settings is not None and not load.problems
    accepted = 0
    for unit in load.units:
        rendered = render_unit(unit, load.settings, secret_seed=PLACEHOLDER_SEED)
        for manifest in rendered.manifests:
            manifest["metadata"]["namespace"] = namespace
            result = kube.apply(manifest, dry_run=True)
            assert (
                result["kind"] == manifest["kind"]
                and result["metadata"]["name"] == manifest["metadata"]["name"]
            )
            accepted += 1
    assert accepted == sum(
        len(render_unit(u, load.settings, secret_seed=PLACEHOLDER_SEED).objects) for u in load.units
    )
    assert kube.list("apps/v1", "Deployment", namespace=namespace).items == ()  # a dry run writes nothing
