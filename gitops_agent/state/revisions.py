"""Every revision transition of a unit, and the only writer of the inventory ConfigMaps.

A revision is a distinct rendered spec of one unit: its number goes up only when the spec changes
(a retry, or a commit that does not touch the unit, keeps it). Its life, like LangGraph's:

    new spec ──cluster not reachable / namespace missing──► Queued ──retry applies──► Deploying
    new spec ──applied──► Deploying ──healthy──► Deployed (the Deployed one before it: Superseded)
    new spec ──rejected by the apiserver──► DeployFailed
    Deploying ──not healthy by its progress deadline──► DeployFailed
    Deploying ──not healthy, auto-rollback──► RolledBack, and the target ──► Deployed
    Queued / Deploying ──a newer revision is applied first──► Skipped
    RolledBack: held, never applied again, until the unit's spec changes.

The reconciler asks `plan_revision` what a sync of a unit means for its history, applies, then asks
`after_attempt` for the history to keep; the rollout tracker reports health (`rollout_succeeded`,
`rollout_failed`); `RevisionLedger` writes what changed. Nothing else changes a revision's state
or writes an inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.kube.client import KubeClient
from gitops_agent.source import CommitInfo
from gitops_agent.state.inventory import Inventory, InventoryStore, RevisionRecord, RevisionState

REASON_LIMIT = 500
"""Reasons are error texts; the history keeps the start of each."""


class RollbackError(GitopsAgentError):
    """No earlier deployed revision, or its commit no longer renders it."""


@dataclass(frozen=True)
class Restore:
    """Re-apply an earlier revision: an automatic rollback, or self-heal of a held unit."""

    target: RevisionRecord
    failed_revision: int | None = None
    """The revision being rolled back (None: the unit is already held at `target`; only heal it)."""
    reason: str = ""


@dataclass(frozen=True)
class RevisionPlan:
    """What one sync of a unit means for its history."""

    revision: int
    commit: str
    """The commit stamped on the objects: where this revision was first seen."""
    is_new: bool
    settled: bool
    """Already applied (Deploying or Deployed): a resync (fast path; self-heal decides about drift)."""
    held: bool
    """A rolled-back spec: the unit is left alone until its spec changes."""
    record: RevisionRecord
    """The history entry for a new revision (at the credited commit, with its author, message, time)."""
    restore: Restore | None = None


def next_revision(inventory: Inventory | None, spec_hash: str) -> tuple[int, bool]:
    """The revision number for a render with `spec_hash`, and whether it is a new revision."""
    latest = inventory.latest if inventory else None
    if latest is None:
        return 1, True
    if latest.spec_hash == spec_hash:
        return latest.revision, False
    return latest.revision + 1, True


def plan_revision(
    inventory: Inventory | None, spec_hash: str, credit: CommitInfo, *, restore: Restore | None = None
) -> RevisionPlan:
    """The revision a sync of this render is (RollbackError when a restore's commit renders otherwise).

    `credit` is the commit a new revision is recorded at: the newest one that changed what the unit
    renders from (`Snapshot.credit`), not whichever commit happened to be synced.
    """
    if restore is not None:
        target = restore.target
        if target.spec_hash != spec_hash:
            raise RollbackError(
                f"commit {target.commit[:12]} no longer renders r{target.revision} (settings changed?)"
            )
        return RevisionPlan(target.revision, target.commit, False, False, False, target, restore)
    revision, is_new = next_revision(inventory, spec_hash)
    latest = inventory.latest if inventory else None
    record = RevisionRecord(
        revision=revision,
        commit=credit.commit,
        spec_hash=spec_hash,
        author=credit.author,
        message=credit.message,
        time=credit.time.astimezone(UTC).isoformat(timespec="seconds"),
        result=RevisionState.DEPLOYING,
    )
    if latest is None or is_new:
        return RevisionPlan(revision, credit.commit, True, False, False, record)
    settled = latest.result in (RevisionState.DEPLOYED, RevisionState.DEPLOYING)
    held = latest.result is RevisionState.ROLLED_BACK
    return RevisionPlan(revision, latest.commit, False, settled, held, latest)


def after_attempt(
    inventory: Inventory, plan: RevisionPlan, *, error: str = "", retryable: bool = False, applied_any: bool
) -> Inventory:
    """The unit's history once `plan` was applied (or failed with `error`).

    A new revision applied is Deploying and every older one not yet Deployed is Skipped; rejected, it
    is DeployFailed, or Queued when the failure may pass (`retryable`: the apiserver is away, the
    namespace is missing). A failed re-apply of an applied revision is reported, not recorded; one
    that failed its rollout stays DeployFailed when a resync finds nothing to apply. A failed restore
    leaves the history as it was (the caller records why the rollback was impossible).
    """
    if plan.restore is not None:
        if error or plan.restore.failed_revision is None:
            return inventory
        return rolled_back(inventory, plan.restore)
    state = _attempt_state(error, retryable)
    if plan.is_new:
        return _record_attempt(inventory, with_result(plan.record, state, error))
    latest = inventory.latest
    if latest is None or not _retry_changes(latest.result, state, applied_any):
        return inventory
    return _record_attempt(inventory, with_result(latest, state, error))


def _retry_changes(current: RevisionState, attempt: RevisionState, applied_any: bool) -> bool:
    """Whether another attempt at the same revision changes its state."""
    if current in (RevisionState.DEPLOYED, RevisionState.DEPLOYING, attempt):
        return False  # a failed re-apply of an applied revision is reported, not recorded
    if current is RevisionState.DEPLOY_FAILED:
        # failed its rollout and nothing to apply: stays; failed for good once: an outage is not news
        return applied_any and attempt is not RevisionState.QUEUED
    return True


def _record_attempt(inventory: Inventory, record: RevisionRecord) -> Inventory:
    recorded = inventory.record(record)
    return _skip_older(recorded, record) if record.result is RevisionState.DEPLOYING else recorded


def _attempt_state(error: str, retryable: bool) -> RevisionState:
    if not error:
        return RevisionState.DEPLOYING
    return RevisionState.QUEUED if retryable else RevisionState.DEPLOY_FAILED


def _skip_older(inventory: Inventory, applied: RevisionRecord) -> Inventory:
    """Older revisions that never became Deployed were replaced by `applied`: Skipped."""
    waiting = (RevisionState.QUEUED, RevisionState.DEPLOYING)
    for record in inventory.history:
        if record.revision < applied.revision and record.result in waiting:
            reason = f"replaced by r{applied.revision} before it was deployed"
            inventory = inventory.record(with_result(record, RevisionState.SKIPPED, reason))
    return inventory


def rollout_succeeded(inventory: Inventory, revision: int) -> Inventory:
    """A Deploying revision became healthy: Deployed, and the Deployed one before it Superseded."""
    record = inventory.find(revision)
    if record is None or record.result is not RevisionState.DEPLOYING:
        return inventory
    for older in inventory.history:
        if older.revision != revision and older.result is RevisionState.DEPLOYED:
            inventory = inventory.record(with_result(older, RevisionState.SUPERSEDED))
    return inventory.record(with_result(record, RevisionState.DEPLOYED))


def rolled_back(inventory: Inventory, restore: Restore) -> Inventory:
    """The failed revision RolledBack (with why), the target Deployed again."""
    failed = inventory.find(restore.failed_revision) if restore.failed_revision is not None else None
    if failed is not None:
        inventory = inventory.record(with_result(failed, RevisionState.ROLLED_BACK, restore.reason))
    return inventory.record(with_result(restore.target, RevisionState.DEPLOYED))


def rollout_failed(inventory: Inventory, revision: int, reason: str) -> Inventory:
    """A Deploying revision that did not become healthy (and was not rolled back) is DeployFailed."""
    record = inventory.find(revision)
    if record is None or record.result is not RevisionState.DEPLOYING:
        return inventory
    return inventory.record(with_result(record, RevisionState.DEPLOY_FAILED, reason))


def current_revision(inventory: Inventory) -> RevisionRecord | None:
    """The revision that stands for the unit now: the newest, or after a rollback the restored one."""
    latest = inventory.latest
    if latest is not None and latest.result is RevisionState.ROLLED_BACK:
        return inventory.last_with(RevisionState.DEPLOYED) or latest
    return latest


def rollback_target(history: Sequence[RevisionRecord], failed_revision: int) -> RevisionRecord:
    """The newest revision before `failed_revision` that was deployed (now Superseded or Deployed)."""
    good = (RevisionState.SUPERSEDED, RevisionState.DEPLOYED)
    for record in history:
        if record.revision < failed_revision and record.result in good:
            return record
    raise RollbackError(f"no earlier deployed revision to roll back to from r{failed_revision}")


def with_result(record: RevisionRecord, result: RevisionState, reason: str = "") -> RevisionRecord:
    return replace(record, result=result, reason=reason[:REASON_LIMIT])


class RevisionLedger:
    """Reads inventories and writes the ones that changed (the only writer of the ConfigMaps)."""

    def __init__(self, kube: KubeClient, namespace: str, owner: str = "") -> None:
        self.store = InventoryStore(kube, namespace, owner)

    def load_all(self) -> dict[str, Inventory]:
        return self.store.load_all()

    def load(self, unit: str) -> Inventory | None:
        return self.store.load(unit)

    def save_changed(
        self,
        before: Mapping[str, Inventory],
        after: Mapping[str, Inventory],
        *,
        repo_units: frozenset[str],
        pool: Executor,
    ) -> None:
        """Write each inventory that differs from `before`; delete torn-down units' once empty."""

        def save(inventory: Inventory) -> None:
            if not inventory.objects and inventory.unit not in repo_units:
                self.store.delete(inventory.unit)
            else:
                self.store.save(inventory)

        changed = [inv for unit, inv in after.items() if _changed(before.get(unit), inv)]
        for future in [pool.submit(save, inventory) for inventory in changed]:
            future.result()

    def mark_rollout_failed(self, unit: str, revision: int, reason: str) -> Inventory | None:
        """Record that `revision` did not become healthy; the updated inventory (None: nothing to do)."""
        return self._transition(unit, lambda inventory: rollout_failed(inventory, revision, reason))

    def mark_deployed(self, unit: str, revision: int) -> Inventory | None:
        """Record that `revision` became healthy; the updated inventory (None: nothing to do)."""
        return self._transition(unit, lambda inventory: rollout_succeeded(inventory, revision))

    def _transition(self, unit: str, change: Callable[[Inventory], Inventory]) -> Inventory | None:
        inventory = self.load(unit)
        if inventory is None:
            return None
        updated = change(inventory)
        if updated is inventory:
            return None
        self.store.save(updated)
        return updated


def _changed(old: Inventory | None, new: Inventory) -> bool:
    return old is None or old.to_json() != new.to_json()
