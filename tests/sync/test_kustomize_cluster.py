"""Argo CD's kustomize-guestbook, unchanged, in `manifests/`: synced, owned, healed and pruned on the real
apiserver like any plain manifest (issue 16)."""

from __future__ import annotations

from pathlib import Path

from sync_repo import DeploymentsRepo

from gitops_agent.core.labels import LABEL_MANAGED_BY, MANAGED_BY
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action
from gitops_agent.reconcile.sync import SyncState

GUESTBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "kustomize-guestbook"


def test_the_guestbook_syncs_heals_and_prunes(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    files: dict[str, str | None] = {
        f"manifests/guestbook/{p.name}": p.read_text() for p in GUESTBOOK.iterdir() if p.suffix == ".yaml"
    }
    repo.push(files, "Add Argo CD's kustomize-guestbook")
    deployment = ObjectKey("apps/v1", "Deployment", repo.namespace, "kustomize-guestbook-ui")
    service = ObjectKey("v1", "Service", repo.namespace, "kustomize-guestbook-ui")

    report = repo.sync()
    assert report.ok, report
    manifests = next(u for u in report.units if u.unit == "manifests")
    assert manifests.state is SyncState.SYNCED
    for key in (deployment, service):
        live = kube.get(key.api_version, key.kind, key.name, key.namespace)
        assert live is not None, f"{key} was not applied"
        assert live["metadata"]["labels"][LABEL_MANAGED_BY] == MANAGED_BY

    # Healed: deleted by hand, re-created by the next sync.
    assert kube.delete(service.api_version, service.kind, service.name, service.namespace)
    healed = repo.sync()
    assert {c.key for c in healed.changes if c.action is Action.CREATE} == {service}

    # Pruned: the kustomization stops listing the Service.
    kustomization = repo.read("manifests/guestbook/kustomization.yaml")
    repo.push(
        {"manifests/guestbook/kustomization.yaml": kustomization.replace("- guestbook-ui-svc.yaml\n", "")},
        "Drop the guestbook Service",
    )
    pruned = repo.sync()
    assert pruned.ok and not pruned.prune_refused
    assert {c.key for c in pruned.prune_changes if c.action is Action.PRUNE} == {service}
    live = kube.get(service.api_version, service.kind, service.name, service.namespace)
    assert live is None or live["metadata"].get("deletionTimestamp")
    assert kube.get(deployment.api_version, deployment.kind, deployment.name, deployment.namespace)


def test_a_broken_kustomization_keeps_what_it_had_applied(deployments_repo: DeploymentsRepo) -> None:
    repo, kube = deployments_repo, deployments_repo.kube
    repo.push(
        {f"manifests/guestbook/{p.name}": p.read_text() for p in GUESTBOOK.iterdir() if p.suffix == ".yaml"},
        "Add the guestbook",
    )
    assert repo.sync().ok
    repo.push({"manifests/guestbook/guestbook-ui-svc.yaml": None}, "Lose a file the kustomization lists")
    report = repo.sync()
    manifests = next(u for u in report.units if u.unit == "manifests")
    assert manifests.state is SyncState.FAILED
    assert "manifests/guestbook/kustomization.yaml" in manifests.error
    assert "kustomize build failed" in manifests.error
    assert not [c for c in report.prune_changes if c.action is Action.PRUNE]
    assert kube.get("v1", "Service", "kustomize-guestbook-ui", repo.namespace) is not None
