"""Moving a managed Postgres's volume to a new home (`spec.postgres.managed.volumeFrom`).

Kubernetes cannot move a claim between namespaces or rename it, but a volume can change claims: with
its reclaim policy `Retain` it survives its claim's deletion, and a `claimRef` naming the new claim
binds it there. So a move is, each step idempotent (an interrupted move resumes on the next sync):

1. the volume's reclaim policy becomes `Retain` (deleting the old claim can no longer delete data);
2. the old database stops: its StatefulSet is deleted and its pod waited for (two servers must never
   open one data directory);
3. the old claim is deleted (the volume becomes `Released`, data intact);
4. the volume's `claimRef` names the new claim, and that claim is created with `volumeName` set;
5. once it is `Bound`, the new StatefulSet (applied right after) finds its claim and starts on it.

Nothing is moved that is not ours: the old StatefulSet must carry our labels, the new home must not
have a claim of its own (a database already there is never replaced).

`orphaned_volumes` finds the data no database uses any more (a deleted deployment's kept volume, a
move made before `volumeFrom` existed), so that it is listed instead of forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.labels import APP_POSTGRES, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY
from gitops_agent.kube.client import KubeClient
from gitops_agent.manifests.databases import VolumeMove
from gitops_agent.manifests.model import DatabaseHome

STEP_TIMEOUT_SECONDS = 120.0
"""How long one step may wait (the old pod's shutdown, the claim's protection finalizer, binding);
past it the unit fails (retryable) and the next sync goes on from where this one stopped."""
POLL_SECONDS = 0.5


def move_volume(
    kube: KubeClient,
    move: VolumeMove,
    *,
    claim_labels: Mapping[str, str],
    timeout: float = STEP_TIMEOUT_SECONDS,
) -> str:
    """Carry out `move` up to the new claim being Bound; returns what was done ("" if nothing was left)."""
    source, target = move.source, move.target
    claim = kube.get("v1", "PersistentVolumeClaim", target.claim, target.namespace)
    if claim is not None:
        _refuse_a_claim_of_its_own(kube, move, claim)
        if _is_bound(claim):
            return ""
        _wait(lambda: _is_bound(_claim(kube, target.namespace, target.claim)), f"{target} to bind", timeout)
        return f"volume bound to {target}"
    volume_name = _source_volume(kube, move)
    volume = _volume(kube, volume_name)
    if volume["spec"].get("persistentVolumeReclaimPolicy") != "Retain":
        volume["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
        volume = kube.replace(volume)
    _stop_source_database(kube, move, timeout)
    if kube.get("v1", "PersistentVolumeClaim", source.claim, source.namespace) is not None:
        kube.delete("v1", "PersistentVolumeClaim", source.claim, source.namespace)
        _wait(
            lambda: kube.get("v1", "PersistentVolumeClaim", source.claim, source.namespace) is None,
            f"claim {source} to be deleted",
            timeout,
        )
    volume = _volume(kube, volume_name)
    volume["spec"]["claimRef"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": target.namespace,
        "name": target.claim,
    }
    volume = kube.replace(volume)
    kube.create(_claim_for(volume, move, claim_labels))
    _wait(lambda: _is_bound(_claim(kube, target.namespace, target.claim)), f"{target} to bind", timeout)
    return f"volume {volume_name} moved from {source} to {target}"


def _refuse_a_claim_of_its_own(kube: KubeClient, move: VolumeMove, claim: Mapping[str, Any]) -> None:
    """The new home's claim exists: a finished (or half-finished) move, unless the source still has a
    claim bound to another volume — then the new home holds a database of its own, never replaced."""
    source = kube.get("v1", "PersistentVolumeClaim", move.source.claim, move.source.namespace)
    theirs = str((source or {}).get("spec", {}).get("volumeName") or "")
    ours = str(claim.get("spec", {}).get("volumeName") or "")
    if source is not None and theirs != ours:
        raise ClusterError(
            f"{move.unit}: spec.postgres.managed.volumeFrom: {move.target} already exists with a volume "
            f"of its own ({ours or 'unbound'}), while the data to move is in {move.source} "
            f"({theirs or 'unbound'}): delete that claim if its data is not needed, or remove volumeFrom "
            "to keep it",
            retryable=False,
        )


def _source_volume(kube: KubeClient, move: VolumeMove) -> str:
    """The volume behind the source claim; after an interrupted move, the one already reserved for us."""
    source, target = move.source, move.target
    claim = kube.get("v1", "PersistentVolumeClaim", source.claim, source.namespace)
    if claim is not None:
        name = str(claim.get("spec", {}).get("volumeName") or "")
        if not name:
            raise ClusterError(
                f"{move.unit}: spec.postgres.managed.volumeFrom: claim {source} is not bound to a volume: "
                "nothing to move",
                retryable=False,
            )
        return name
    for volume in kube.list("v1", "PersistentVolume").items:
        ref = volume.get("spec", {}).get("claimRef") or {}
        if (ref.get("namespace"), ref.get("name")) in (
            (target.namespace, target.claim),
            (source.namespace, source.claim),
        ):
            return str(volume["metadata"]["name"])
    raise ClusterError(
        f"{move.unit}: spec.postgres.managed.volumeFrom: there is no claim {source} (nor a volume that "
        "was bound to it): nothing to move; remove volumeFrom to start a new database",
        retryable=False,
    )


def _stop_source_database(kube: KubeClient, move: VolumeMove, timeout: float) -> None:
    """Delete the old StatefulSet (ours only) and wait until its pod is gone."""
    source = move.source
    name = f"{source.deployment}-postgres"
    statefulset = kube.get("apps/v1", "StatefulSet", name, source.namespace)
    if statefulset is not None:
        labels = statefulset.get("metadata", {}).get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) != MANAGED_BY:
            raise ClusterError(
                f"{move.unit}: spec.postgres.managed.volumeFrom: StatefulSet/{source.namespace}/{name} is "
                "not managed by gitops-agent: stop it yourself before its volume can move",
                retryable=False,
            )
        kube.delete("apps/v1", "StatefulSet", name, source.namespace, uid=statefulset["metadata"]["uid"])
    pod = f"{name}-0"
    _wait(
        lambda: kube.get("v1", "Pod", pod, source.namespace) is None,
        f"pod {source.namespace}/{pod} to stop",
        timeout,
    )


@dataclass(frozen=True, order=True)
class OrphanedVolume:
    """A managed Postgres's claim that no StatefulSet uses: its data, kept, and nobody's."""

    namespace: str
    claim: str
    deployment: str
    capacity: str = ""
    volume: str = ""

    def __str__(self) -> str:
        size = f", {self.capacity}" if self.capacity else ""
        return f"{self.namespace}/{self.claim} (was {self.deployment}'s Postgres{size})"


def orphaned_volumes(
    kube: KubeClient, namespaces: Iterable[str], in_use: Collection[DatabaseHome]
) -> tuple[OrphanedVolume, ...]:
    """Managed Postgres claims in `namespaces` whose home is not `in_use` and whose StatefulSet is gone
    (another agent instance's live database is not an orphan: its StatefulSet still stands)."""
    found = []
    for namespace in sorted(set(namespaces)):
        claims = kube.list(
            "v1", "PersistentVolumeClaim", namespace=namespace, label_selector=f"{LABEL_NAME}={APP_POSTGRES}"
        )
        for claim in claims.items:
            meta = claim["metadata"]
            deployment = str((meta.get("labels") or {}).get(LABEL_INSTANCE, ""))
            home = DatabaseHome(namespace, deployment)
            if not deployment or meta["name"] != home.claim or home in in_use:
                continue
            if kube.get("apps/v1", "StatefulSet", f"{deployment}-postgres", namespace) is not None:
                continue
            capacity = str((claim.get("status", {}).get("capacity") or {}).get("storage", ""))
            found.append(
                OrphanedVolume(
                    namespace, home.claim, deployment, capacity, str(claim["spec"].get("volumeName") or "")
                )
            )
    return tuple(found)


def _claim_for(volume: Mapping[str, Any], move: VolumeMove, labels: Mapping[str, str]) -> dict[str, Any]:
    """The new home's claim, pre-bound to the moved volume (size and class are the volume's own)."""
    spec = volume["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": move.target.claim, "namespace": move.target.namespace, "labels": dict(labels)},
        "spec": {
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "resources": {"requests": {"storage": spec["capacity"]["storage"]}},
            "storageClassName": spec.get("storageClassName", ""),
            "volumeName": volume["metadata"]["name"],
            **({"volumeMode": spec["volumeMode"]} if spec.get("volumeMode") else {}),
        },
    }


def _volume(kube: KubeClient, name: str) -> dict[str, Any]:
    volume = kube.get("v1", "PersistentVolume", name)
    if volume is None:
        raise ClusterError(f"PersistentVolume/{name} disappeared during a move", retryable=True)
    return volume


def _claim(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get("v1", "PersistentVolumeClaim", name, namespace)


def _is_bound(claim: Mapping[str, Any] | None) -> bool:
    return bool(claim) and (claim or {}).get("status", {}).get("phase") == "Bound"


def _wait(done: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise ClusterError(
                f"moving a volume: still waiting for {what} after {timeout:.0f}s", retryable=True
            )
        time.sleep(POLL_SECONDS)


__all__ = ["OrphanedVolume", "move_volume", "orphaned_volumes"]
