"""Automatic rollback: the same reconcile of one unit, at the commit of its last deployed revision.

A revision that does not become healthy within its progress deadline is rolled back by syncing the
deployment *as it was at the earlier revision's commit* (Git is the record of every revision): the
same plan (missing-namespace check, ownership, dry-run), apply, prune (with the repository's prune
policy and guards) and inventory as any sync. The history then says `RolledBack` for the failed
revision and `Deployed` for the restored one (see `state.revisions`); the sync holds the deployment
there until the repository changes the deployment again. `restore_held` is the same reconcile
without a history change: self-heal of a held deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.engine.live import LiveView
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncOptions, SyncReport, SyncState, sync
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import RevisionRecord, RevisionState
from gitops_agent.state.revisions import Restore, RevisionLedger, RollbackError, rollback_target

SnapshotAt = Callable[[str], Snapshot]
"""Checks the repository out at a commit (the agent opens its source at that ref)."""


@dataclass(frozen=True)
class RollbackResult:
    unit: str
    failed_revision: int | None
    restored: RevisionRecord
    changes: tuple[ObjectChange, ...]
    """Objects written or pruned (unchanged ones left out)."""
    prune_refused: str = ""


def roll_back(
    kube: KubeClient,
    snapshot_at: SnapshotAt,
    options: SyncOptions,
    *,
    unit: str,
    failed_revision: int,
    reason: str,
    live: LiveView | None = None,
) -> RollbackResult:
    """Put `unit` back on the revision before `failed_revision` (RollbackError when impossible)."""
    inventory = RevisionLedger(kube, options.state_namespace, options.owner).load(unit)
    if inventory is None:
        raise RollbackError(f"{unit}: no inventory, nothing to roll back")
    if not any(r.revision == failed_revision for r in inventory.history):
        raise RollbackError(f"{unit}: revision {failed_revision} is not in the history")
    target = rollback_target(inventory.history, failed_revision)
    return _restore(
        kube, snapshot_at, options, Restore(target, failed_revision, reason), unit=unit, live=live
    )


def restore_held(
    kube: KubeClient,
    snapshot_at: SnapshotAt,
    options: SyncOptions,
    *,
    unit: str,
    target: RevisionRecord,
    live: LiveView | None = None,
) -> RollbackResult:
    """Self-heal for a deployment held after a rollback: put its objects back to `target`.

    The sync leaves a held deployment alone (its repository spec is the one that failed), so drift
    on it would otherwise stay until the file changes. Objects that match get no write; the history
    stays as the rollback wrote it.
    """
    return _restore(kube, snapshot_at, options, Restore(target), unit=unit, live=live)


def _restore(
    kube: KubeClient,
    snapshot_at: SnapshotAt,
    options: SyncOptions,
    restore: Restore,
    *,
    unit: str,
    live: LiveView | None,
) -> RollbackResult:
    target = restore.target
    snapshot = snapshot_at(target.commit)
    report = sync(kube, snapshot, replace(options, units=frozenset({unit})), live=live, restore=restore)
    result = _unit_result(report, unit, target)
    changes = [c for c in (*result, *report.prune_changes) if c.action is not Action.UNCHANGED]
    restored = replace(target, result=RevisionState.DEPLOYED)
    return RollbackResult(unit, restore.failed_revision, restored, tuple(changes), report.prune_refused)


def _unit_result(report: SyncReport, unit: str, target: RevisionRecord) -> tuple[ObjectChange, ...]:
    """The unit's applied changes; RollbackError when its sync failed or the commit lacks the unit."""
    found = next((u for u in report.units if u.unit == unit), None)
    if found is None:
        problems = "; ".join(report.problems) or f"commit {target.commit[:12]} has no deployment {unit}"
        raise RollbackError(f"{unit}: cannot render r{target.revision}: {problems}")
    if found.state is SyncState.FAILED:
        raise RollbackError(found.error)
    return found.changes
