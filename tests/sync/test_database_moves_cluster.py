"""Nothing lost when the repository moves: a namespace change or a rename with managed Postgres is
refused, then done on purpose with `volumeFrom` (the volume follows), and a refused mass prune stays
refused on the retry. Against the real apiserver; the moves on the full cluster, where the
controller-manager binds claims to volumes and deletes pods.

The volumes are static PersistentVolumes of their own class, each reserved for the claim it serves
(`claimRef`), bound by the controller-manager's binder like any pre-provisioned volume (kwok's fake
provisioner binds claims itself and would not rebind a moved one). What the test follows is the
volume's identity: its uid, the claim it is bound to, its reclaim policy; on the real node a row
written through the pod is the data."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator

import pytest
from sync_repo import DeploymentsRepo

from gitops_agent.engine.volumes import OrphanedVolume
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import InventoryStore
from gitops_agent.state.repository import RepositoryStatus

MANAGED = ("research-assistant", "support-bot")
SIZES = {"research-assistant": "10Gi", "support-bot": "20Gi"}


@pytest.fixture
def second_namespace(kube: KubeClient) -> Iterator[str]:
    name = f"t-{secrets.token_hex(4)}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.delete("v1", "Namespace", name)


def _moved_settings(repo: DeploymentsRepo, namespace: str, *, max_share: float | None = None) -> str:
    text = repo.read("gitops-agent.yaml").replace(
        f"namespace: {repo.namespace}\n", f"namespace: {namespace}\n"
    )
    return text.replace("maxShare: 0.5", f"maxShare: {max_share:.3f}") if max_share is not None else text


def _with_volume_from(text: str, volume_from: str) -> str:
    """A deployment file whose managed Postgres takes its data from elsewhere."""
    if "  postgres:\n    managed:\n" in text:
        return text.replace(
            "  postgres:\n    managed:\n", f"  postgres:\n    managed:\n      volumeFrom: {volume_from}\n"
        )
    return text + f"  postgres:\n    managed:\n      volumeFrom: {volume_from}\n"


STATIC_CLASS = "gitops-agent-test-static"


@pytest.fixture
def static_volumes(kube: KubeClient, deployments_repo: DeploymentsRepo) -> Iterator[None]:
    """Managed Postgres claims of the repository's namespace on static volumes (deleted afterwards)."""
    repo, ns = deployments_repo, deployments_repo.namespace
    settings = repo.read("gitops-agent.yaml").replace(
        "  postgres:\n    storage: 10Gi\n",
        f"  postgres:\n    storage: 10Gi\n    storageClassName: {STATIC_CLASS}\n",
    )
    repo.push({"gitops-agent.yaml": settings}, "Databases on static volumes")
    names = []
    for unit in MANAGED:
        names.append(f"pv-{ns}-{unit}")
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": names[-1]},
                "spec": {
                    "capacity": {"storage": SIZES[unit]},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": STATIC_CLASS,
                    "hostPath": {"path": f"/tmp/{names[-1]}"},
                    "claimRef": {"namespace": ns, "name": f"data-{unit}-postgres-0"},
                },
            }
        )
    yield
    for name in names:
        kube.delete("v1", "PersistentVolume", name)


def _volume_of(kube: KubeClient, namespace: str, claim: str) -> dict:  # type: ignore[type-arg]
    """The volume bound to `claim`."""
    name = _wait_bound(kube, namespace, claim)["spec"]["volumeName"]
    volume = kube.get("v1", "PersistentVolume", name)
    assert volume is not None
    return volume


def _claim_of(kube: KubeClient, volume: dict) -> tuple[str, str]:  # type: ignore[type-arg]
    live = kube.get("v1", "PersistentVolume", volume["metadata"]["name"])
    assert live is not None and live["metadata"]["uid"] == volume["metadata"]["uid"], "the volume is gone"
    ref = live["spec"].get("claimRef") or {}
    return ref.get("namespace", ""), ref.get("name", "")


def _password(kube: KubeClient, namespace: str, unit: str) -> str:
    secret = kube.get("v1", "Secret", f"{unit}-postgres", namespace)
    assert secret is not None
    return base64.b64decode(secret["data"]["password"]).decode()


def _wait_bound(kube: KubeClient, namespace: str, claim: str) -> dict:  # type: ignore[type-arg]
    from agent_harness import wait_for

    def bound() -> dict[str, object] | None:
        live = kube.get("v1", "PersistentVolumeClaim", claim, namespace)
        return live if live and live.get("status", {}).get("phase") == "Bound" else None

    found: dict = wait_for(bound, timeout=60)  # type: ignore[type-arg]
    return found


def test_a_refused_mass_prune_is_refused_again_on_the_retry(
    deployments_repo: DeploymentsRepo, second_namespace: str
) -> None:
    """The settings' namespace moves every deployment. Before, the first sync created the new objects
    and refused the prune, and the retry counted old and new together (half of them: not more than
    the share) and pruned everything. Now the units the prune needs are held before anything is
    written, and the retry sees the same numbers."""
    repo, kube = deployments_repo, deployments_repo.kube
    assert repo.sync().ok
    owned = {u: len(inv.objects) for u, inv in InventoryStore(kube, repo.namespace).load_all().items()}
    total, moving = sum(owned.values()), sum(n for u, n in owned.items() if u not in MANAGED)
    share = (moving / total + moving / (total + moving)) / 2  # refuses the move, passed the old retry
    repo.push({"gitops-agent.yaml": _moved_settings(repo, second_namespace, max_share=share)}, "Move")
    for attempt in ("first", "retry"):
        report = repo.sync()
        assert "refusing to prune" in report.prune_refused, attempt
        assert not report.prune_changes, attempt
        states = {u.unit: u.state for u in report.units}
        assert states == {
            "billing-agent": SyncState.OUT_OF_SYNC,
            "manifests": SyncState.OUT_OF_SYNC,
            "research-assistant": SyncState.FAILED,
            "support-bot": SyncState.FAILED,
        }, attempt
        assert kube.list("apps/v1", "Deployment", namespace=second_namespace).items == (), attempt
        assert kube.get("apps/v1", "Deployment", "billing-agent", repo.namespace) is not None, attempt
    assert sum(len(i.objects) for i in InventoryStore(kube, repo.namespace).load_all().values()) == total


@pytest.mark.full
@pytest.mark.usefixtures("static_volumes")
def test_a_namespace_move_is_refused_then_takes_the_data_along(
    deployments_repo: DeploymentsRepo,
    second_namespace: str,
) -> None:
    repo, kube, old, new = (
        deployments_repo,
        deployments_repo.kube,
        deployments_repo.namespace,
        second_namespace,
    )
    assert repo.sync().ok
    volumes = {unit: _volume_of(kube, old, f"data-{unit}-postgres-0") for unit in MANAGED}
    passwords = {unit: _password(kube, old, unit) for unit in MANAGED}

    repo.push({"gitops-agent.yaml": _moved_settings(repo, new)}, "Move to the new namespace")
    refused = repo.sync(allow_mass_prune=True)
    for unit in MANAGED:
        result = next(u for u in refused.units if u.unit == unit)
        assert result.state is SyncState.FAILED
        assert f"from namespace {old} to {new}" in result.error, result.error
        assert (
            f"{old}/data-{unit}-postgres-0" in result.error
            and f"volumeFrom: {{namespace: {old}}}" in result.error
        )
        assert result.error.startswith(f"deployments/{unit}.yaml:")
        assert kube.get("apps/v1", "StatefulSet", f"{unit}-postgres", old) is not None
        assert kube.get("apps/v1", "StatefulSet", f"{unit}-postgres", new) is None
        assert _claim_of(kube, volumes[unit]) == (old, f"data-{unit}-postgres-0")

    files: dict[str, str | None] = {
        f"deployments/{u}.yaml": _with_volume_from(
            repo.read(f"deployments/{u}.yaml"), f"{{namespace: {old}}}"
        )
        for u in MANAGED
    }
    repo.push(files, "Take the databases along")
    moved = repo.sync(allow_mass_prune=True)
    assert moved.ok, moved
    for unit in MANAGED:
        claim = f"data-{unit}-postgres-0"
        assert _claim_of(kube, volumes[unit]) == (new, claim)
        live = kube.get("v1", "PersistentVolume", volumes[unit]["metadata"]["name"])
        assert live is not None and live["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert _wait_bound(kube, new, claim)["spec"]["volumeName"] == volumes[unit]["metadata"]["name"]
        assert kube.get("v1", "PersistentVolumeClaim", claim, old) is None
        assert kube.get("apps/v1", "StatefulSet", f"{unit}-postgres", old) is None
        assert kube.get("apps/v1", "StatefulSet", f"{unit}-postgres", new) is not None
        assert _password(kube, new, unit) == passwords[unit], (
            "the database keeps the password it was made with"
        )
        result = next(u for u in moved.units if u.unit == unit)
        assert f"moved from {old}/{claim} to {new}/{claim}" in result.note
    again = repo.sync()
    assert again.ok and all(not u.note.startswith("volume") for u in again.units)


@pytest.mark.full
@pytest.mark.usefixtures("static_volumes")
def test_a_rename_is_refused_then_takes_the_data_along(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    assert repo.sync().ok
    volumes = {"support-bot": _volume_of(kube, ns, "data-support-bot-postgres-0")}
    password = _password(kube, ns, "support-bot")
    renamed = repo.read("deployments/support-bot.yaml").replace(
        "  name: support-bot ", "  name: support-bot-v2 "
    )
    repo.push({"deployments/support-bot.yaml": None, "deployments/support-bot-v2.yaml": renamed}, "Rename")

    refused = repo.sync()
    result = next(u for u in refused.units if u.unit == "support-bot-v2")
    assert result.state is SyncState.FAILED
    assert f"removes the managed Postgres of support-bot ({ns}/data-support-bot-postgres-0)" in result.error
    assert "volumeFrom: {deployment: support-bot}" in result.error
    assert kube.get("apps/v1", "Deployment", "support-bot", ns) is not None, "the old one keeps running"
    assert not refused.prune_changes and "a database move may be about it" in refused.prune_refused

    text = _with_volume_from(renamed, "{deployment: support-bot}")
    repo.push({"deployments/support-bot-v2.yaml": text}, "Rename, taking the data along")
    moved = repo.sync()
    result = next(u for u in moved.units if u.unit == "support-bot-v2")
    assert result.state is SyncState.SYNCED and "moved from" in result.note, result
    assert "not tearing down support-bot: a database move may be about it" in moved.prune_refused
    assert _claim_of(kube, volumes["support-bot"]) == (ns, "data-support-bot-v2-postgres-0")
    assert (
        _wait_bound(kube, ns, "data-support-bot-v2-postgres-0")["spec"]["volumeName"]
        == volumes["support-bot"]["metadata"]["name"]
    )
    assert kube.get("v1", "PersistentVolumeClaim", "data-support-bot-postgres-0", ns) is None
    assert _password(kube, ns, "support-bot-v2") == password

    done = repo.sync(allow_mass_prune=True)  # the old one's teardown waited for the move; now it goes
    assert done.ok, done
    assert kube.get("apps/v1", "Deployment", "support-bot", ns) is None
    assert _claim_of(kube, volumes["support-bot"]) == (ns, "data-support-bot-v2-postgres-0")


@pytest.mark.full
@pytest.mark.usefixtures("static_volumes")
def test_a_deleted_deployments_kept_volume_is_listed_until_it_is_used_again(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    assert repo.sync().ok
    volumes = {"support-bot": _volume_of(kube, ns, "data-support-bot-postgres-0")}
    text = repo.read("deployments/support-bot.yaml")
    repo.push({"deployments/support-bot.yaml": None}, "Retire support-bot")
    gone = repo.sync(allow_mass_prune=True)  # support-bot is most of what the sample owns
    assert gone.ok, gone
    name = volumes["support-bot"]["metadata"]["name"]
    orphan = OrphanedVolume(ns, "data-support-bot-postgres-0", "support-bot", "20Gi", name)
    assert gone.orphaned_volumes == (orphan,)
    status = RepositoryStatus("c", orphaned_volumes=gone.orphaned_volumes)
    assert RepositoryStatus.from_json(json.loads(json.dumps(status.to_json()))) == status

    repo.push({"deployments/support-bot.yaml": text}, "Bring support-bot back")
    back = repo.sync()
    assert back.ok and back.orphaned_volumes == ()
    assert _claim_of(kube, volumes["support-bot"]) == (ns, "data-support-bot-postgres-0")


@pytest.mark.full
@pytest.mark.usefixtures("static_volumes")
def test_a_move_never_replaces_a_database_the_new_home_already_has(
    deployments_repo: DeploymentsRepo, second_namespace: str
) -> None:
    repo, kube, old, new = (
        deployments_repo,
        deployments_repo.kube,
        deployments_repo.namespace,
        second_namespace,
    )
    assert repo.sync().ok
    volume = _volume_of(kube, old, "data-research-assistant-postgres-0")
    theirs = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": "data-research-assistant-postgres-0", "namespace": new},
              "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STATIC_CLASS,
                       "resources": {"requests": {"storage": "1Gi"}}}}  # fmt: skip
    kube.create(theirs)
    files: dict[str, str | None] = {
        f"deployments/{u}.yaml": _with_volume_from(
            repo.read(f"deployments/{u}.yaml"), f"{{namespace: {old}}}"
        )
        for u in MANAGED
    }
    files["gitops-agent.yaml"] = _moved_settings(repo, new)
    repo.push(files, "Move, onto a home that has a claim already")
    report = repo.sync(allow_mass_prune=True)
    result = next(u for u in report.units if u.unit == "research-assistant")
    assert result.state is SyncState.FAILED
    assert f"{new}/data-research-assistant-postgres-0 already exists with a volume of its own" in result.error
    assert _claim_of(kube, volume) == (old, "data-research-assistant-postgres-0"), "the data stayed put"
    assert kube.get("apps/v1", "StatefulSet", "research-assistant-postgres", old) is not None
