"""The `prune` stage: delete what an earlier sync applied and the repository no longer renders.

Pruning works from the inventory (what we applied, with uids), never by sweeping labels, and it is
guarded: no deployment is torn down while the repository has any load problem (a file that did not
parse may be a deployment that only *looks* removed); nothing is pruned when the whole repository
renders nothing, or when the prune would delete more than a configured share of everything we own.
An object that lost our ownership labels, or was re-created by someone else (different uid), is left
alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.core.kinds import kind_of
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.apply import is_owned
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.kube.client import KubeClient


@dataclass(frozen=True)
class InventoryEntry:
    """An applied object and the uid it had, so a re-created namesake is never deleted by mistake."""

    key: ObjectKey
    uid: str = ""

    def to_json(self) -> dict[str, str]:
        k = self.key
        return {
            "apiVersion": k.api_version,
            "kind": k.kind,
            "namespace": k.namespace,
            "name": k.name,
            "uid": self.uid,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InventoryEntry:
        key = ObjectKey(
            str(data["apiVersion"]), str(data["kind"]), str(data.get("namespace", "")), str(data["name"])
        )
        return cls(key, str(data.get("uid", "")))


class PruneRefusedError(GitopsAgentError):
    """A safety guard stopped the prune; nothing was deleted."""


class PruneDisabledError(PruneRefusedError):
    """Pruning is off by policy: the change is applied, only the deletes are left out."""


@dataclass(frozen=True)
class PrunePolicy:
    """Whether and how much to prune."""

    enabled: bool = True
    max_share: float = 0.5
    """Refuse a prune of more than this share of all owned objects ..."""
    allow_mass_prune: bool = False
    """... unless explicitly allowed (`--allow-mass-prune`)."""


@dataclass(frozen=True)
class PrunePlan:
    """Objects to delete per unit, and units to tear down entirely (their file is gone)."""

    by_unit: Mapping[str, tuple[InventoryEntry, ...]]
    removed_units: frozenset[str]

    @property
    def count(self) -> int:
        return sum(len(entries) for entries in self.by_unit.values())


def plan_prune(
    owned: Mapping[str, Sequence[InventoryEntry]],
    desired: Mapping[str, frozenset[ObjectKey]],
    *,
    repo_units: Iterable[str],
    allow_teardown: bool = True,
) -> PrunePlan:
    """What to delete: for each synced unit, inventory minus render; for vanished units, everything.

    `desired` holds only units that rendered successfully this time; units of the repository that
    failed are in `repo_units` but not in `desired`, and keep everything. Vanished units are torn
    down only with `allow_teardown` (the caller forbids it while any file failed to load: that file
    may be the "vanished" deployment).
    """
    repo = set(repo_units)
    by_unit: dict[str, tuple[InventoryEntry, ...]] = {}
    removed = set()
    for unit, entries in owned.items():
        if unit in desired:
            stale = tuple(e for e in entries if e.key not in desired[unit])
        elif unit not in repo and allow_teardown:
            stale = tuple(entries)
            removed.add(unit)
        else:
            continue
        if stale:
            by_unit[unit] = tuple(sorted(stale, key=_delete_rank))
    return PrunePlan(by_unit, frozenset(removed))


def check_guards(
    plan: PrunePlan,
    owned: Mapping[str, Sequence[InventoryEntry]],
    *,
    repo_units: int,
    policy: PrunePolicy,
) -> None:
    """Raise PruneRefusedError when any safety guard forbids this prune."""
    if not plan.count and not plan.removed_units:
        return
    if not policy.enabled:
        raise PruneDisabledError("pruning is disabled (settings sync.prune.enabled / --no-prune)")
    total = sum(len(entries) for entries in owned.values())
    if repo_units == 0:
        raise PruneRefusedError(f"the repository renders no deployments but {total} objects are owned")
    share = plan.count / total if total else 0.0
    if share > policy.max_share and not policy.allow_mass_prune:
        raise PruneRefusedError(
            f"refusing to prune {plan.count} of {total} owned objects "
            f"({share:.0%} > {policy.max_share:.0%}); use --allow-mass-prune if this is intended"
        )


def prune_entry(kube: KubeClient, unit: str, entry: InventoryEntry, *, owner: str = "") -> ObjectChange:
    """Delete one inventoried object if it is still ours (same uid, our labels, this instance's)."""
    key = entry.key
    live = kube.get(key.api_version, key.kind, key.name, key.namespace)
    if live is None:
        return ObjectChange(unit, key, Action.PRUNE, reason="already gone")
    uid = str(live.get("metadata", {}).get("uid", ""))
    if not is_owned(live, unit, owner):
        return ObjectChange(
            unit, key, Action.SKIPPED, reason="no longer carries our ownership labels: left alone"
        )
    if entry.uid and uid != entry.uid:
        return ObjectChange(unit, key, Action.SKIPPED, reason="re-created since we applied it (uid differs)")
    kube.delete(key.api_version, key.kind, key.name, key.namespace, uid=uid or None)
    return ObjectChange(unit, key, Action.PRUNE)


def _delete_rank(entry: InventoryEntry) -> tuple[int, ObjectKey]:
    return kind_of(entry.key).delete_rank, entry.key
