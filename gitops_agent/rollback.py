"""Automatic rollback: put a deployment back on its last healthy revision.

A revision that does not become healthy within its progress deadline is rolled back by rendering the
deployment *as it was at the earlier revision's commit* (Git is the record of every revision) and
applying that, with the earlier revision's number and commit stamped on the objects. Objects only
the failed revision had are pruned. The history then says `RolledBack` for the failed revision and
`Deployed` for the restored one; the sync engine holds the deployment there (it does not re-apply
the failed spec) until the repository changes the deployment again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from gitops_agent.apply import ApplyOptions, PlannedObject, apply_plan, plan_object
from gitops_agent.diff import Action, ObjectChange
from gitops_agent.errors import GitopsAgentError
from gitops_agent.inventory import InventoryEntry, InventoryStore, RevisionRecord, RevisionResult
from gitops_agent.kube import KubeClient
from gitops_agent.loadcache import load_snapshot
from gitops_agent.manifests import render_unit, stamp_revision
from gitops_agent.prune import prune_entry
from gitops_agent.source import Snapshot


class RollbackError(GitopsAgentError):
    """No earlier healthy revision, or its commit cannot be rendered."""


@dataclass(frozen=True)
class RollbackResult:
    unit: str
    failed: RevisionRecord
    restored: RevisionRecord
    changes: tuple[ObjectChange, ...]


def rollback_target(history: tuple[RevisionRecord, ...], failed_revision: int) -> RevisionRecord:
    """The newest revision before `failed_revision` that was deployed (now Superseded or Deployed)."""
    good = (RevisionResult.SUPERSEDED, RevisionResult.DEPLOYED)
    for record in history:
        if record.revision < failed_revision and record.result in good:
            return record
    raise RollbackError(f"no earlier deployed revision to roll back to from r{failed_revision}")


def rollback_unit(
    kube: KubeClient,
    snapshot: Snapshot,
    *,
    unit: str,
    state_namespace: str,
    seed: bytes,
    failed_revision: int,
    reason: str,
) -> RollbackResult:
    """Re-apply the revision before `failed_revision` from `snapshot` (checked out at its commit)."""
    store = InventoryStore(kube, state_namespace)
    inventory = store.load_all().get(unit)
    if inventory is None:
        raise RollbackError(f"{unit}: no inventory, nothing to roll back")
    failed = next((r for r in inventory.history if r.revision == failed_revision), None)
    if failed is None:
        raise RollbackError(f"{unit}: revision {failed_revision} is not in the history")
    target = rollback_target(inventory.history, failed_revision)
    if snapshot.commit != target.commit:
        raise RollbackError(
            f"{unit}: snapshot is at {snapshot.short_commit}, r{target.revision} needs {target.commit[:12]}"
        )
    done = _apply_revision(kube, snapshot, unit, seed=seed, target=target)
    keep = {p.key for p in done}
    changes = [p.change() for p in done]
    changes += [prune_entry(kube, unit, e) for e in inventory.objects if e.key not in keep]
    entries = tuple(
        InventoryEntry(p.key, str((p.live or {}).get("metadata", {}).get("uid", ""))) for p in done
    )
    updated = replace(inventory, objects=entries)
    updated = updated.record(replace(failed, result=RevisionResult.ROLLED_BACK, reason=reason[:500]))
    updated = updated.record(replace(target, result=RevisionResult.DEPLOYED, reason=""))
    store.save(updated)
    restored = replace(target, result=RevisionResult.DEPLOYED)
    return RollbackResult(
        unit, failed, restored, tuple(c for c in changes if c.action is not Action.UNCHANGED)
    )


def restore_held(
    kube: KubeClient, snapshot: Snapshot, *, unit: str, seed: bytes, target: RevisionRecord
) -> tuple[ObjectChange, ...]:
    """Self-heal for a deployment held after a rollback: put its objects back to `target`.

    The sync engine leaves a held deployment alone (its repository spec is the one that failed), so
    drift on it would otherwise stay until the file changes. This re-applies the restored revision
    from `snapshot` (checked out at `target.commit`); objects that match get no write. Returns the
    objects it had to change. The inventory and history stay as the rollback wrote them.
    """
    if snapshot.commit != target.commit:
        raise RollbackError(
            f"{unit}: snapshot is at {snapshot.short_commit}, r{target.revision} needs {target.commit[:12]}"
        )
    done = _apply_revision(kube, snapshot, unit, seed=seed, target=target)
    return tuple(c for c in (p.change() for p in done) if c.action is not Action.UNCHANGED)


def _apply_revision(
    kube: KubeClient, snapshot: Snapshot, unit: str, *, seed: bytes, target: RevisionRecord
) -> list[PlannedObject]:
    """Render `unit` as it was at `target` and server-side apply it (Git wins: conflicts forced)."""
    manifests = _render_at(snapshot, unit, seed=seed, target=target)
    options = ApplyOptions(force_conflicts=True)
    with ThreadPoolExecutor(8, thread_name_prefix="rollback") as pool:
        plans = [
            plan_object(kube, unit=unit, stage=stage, desired=m, options=options) for stage, m in manifests
        ]
        return apply_plan(kube, pool, plans, options=options)


def _render_at(
    snapshot: Snapshot, unit: str, *, seed: bytes, target: RevisionRecord
) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
    load = load_snapshot(snapshot)
    found = next((u for u in load.units if u.name == unit), None)
    if load.settings is None or found is None or not found.valid:
        raise RollbackError(f"{unit}: cannot render r{target.revision} from commit {target.commit[:12]}")
    rendered = render_unit(found, load.settings, secret_seed=seed)
    if rendered.spec_hash != target.spec_hash:
        raise RollbackError(
            f"{unit}: commit {target.commit[:12]} no longer renders r{target.revision} (settings changed?)"
        )
    stamped = stamp_revision(rendered, revision=target.revision, commit=target.commit)
    return [(obj.stage, m) for obj, m in zip(rendered.objects, stamped, strict=True)]
