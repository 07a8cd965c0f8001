"""Every revision transition of a unit, and the only writer of the inventory ConfigMaps.

A revision is a distinct rendered spec of one unit: its number goes up only when the spec changes
(a retry, or a commit that does not touch the unit, keeps it). What happens to it:

    new spec ──apply ok──► Deployed (the Deployed one before it becomes Superseded)
    new spec ──apply rejected──► Failed ──a later apply ok──► Deployed
    Deployed ──not healthy by its deadline──► Failed                      (`rollout_failed`)
    Deployed ──not healthy, auto-rollback──► RolledBack, and the target ──► Deployed  (`Restore`)
    RolledBack: held, never applied again, until the unit's spec changes.

The reconciler asks `plan_revision` what a sync of a unit means for its history, applies, then
asks `after_attempt` for the history to keep; `RevisionLedger` writes what changed. Nothing else
changes a revision's result or writes an inventory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.kube.client import KubeClient
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import Inventory, InventoryStore, RevisionRecord, RevisionResult

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
    """Already Deployed: a resync (fast path; the self-heal policy decides about drift)."""
    held: bool
    """A rolled-back spec: the unit is left alone until its spec changes."""
    record: RevisionRecord
    """The history entry for a new revision (with the snapshot's commit, author, message, time)."""
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
    inventory: Inventory | None, spec_hash: str, snapshot: Snapshot, *, restore: Restore | None = None
) -> RevisionPlan:
    """The revision a sync of this render is (RollbackError when a restore's commit renders otherwise)."""
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
        commit=snapshot.commit,
        spec_hash=spec_hash,
        author=snapshot.author,
        message=snapshot.message,
        time=snapshot.time.astimezone(UTC).isoformat(timespec="seconds"),
        result=RevisionResult.DEPLOYED,
    )
    if latest is None or is_new:
        return RevisionPlan(revision, snapshot.commit, True, False, False, record)
    settled = latest.result is RevisionResult.DEPLOYED
    held = latest.result is RevisionResult.ROLLED_BACK
    return RevisionPlan(revision, latest.commit, False, settled, held, latest)


def after_attempt(
    inventory: Inventory, plan: RevisionPlan, *, error: str = "", applied_any: bool
) -> Inventory:
    """The unit's history once `plan` was applied (or failed with `error`).

    A failed re-apply of a Deployed revision is reported, not recorded; a revision marked Failed
    because it never became healthy stays Failed when a resync finds nothing to apply. A failed
    restore leaves the history as it was (the caller records why the rollback was impossible).
    """
    if plan.restore is not None:
        if error or plan.restore.failed_revision is None:
            return inventory
        return rolled_back(inventory, plan.restore)
    result = RevisionResult.FAILED if error else RevisionResult.DEPLOYED
    if plan.is_new:
        return inventory.record(with_result(plan.record, result, error))
    latest = inventory.latest
    if latest is None or latest.result in (RevisionResult.DEPLOYED, result):
        return inventory
    if latest.result is RevisionResult.FAILED and not applied_any:
        return inventory
    return inventory.record(with_result(latest, result, error))


def rolled_back(inventory: Inventory, restore: Restore) -> Inventory:
    """The failed revision RolledBack (with why), the target Deployed again."""
    failed = next((r for r in inventory.history if r.revision == restore.failed_revision), None)
    if failed is not None:
        inventory = inventory.record(with_result(failed, RevisionResult.ROLLED_BACK, restore.reason))
    return inventory.record(with_result(restore.target, RevisionResult.DEPLOYED))


def rollout_failed(inventory: Inventory, revision: int, reason: str) -> Inventory:
    """A Deployed revision that did not become healthy (and was not rolled back) is Failed."""
    record = next((r for r in inventory.history if r.revision == revision), None)
    if record is None or record.result is not RevisionResult.DEPLOYED:
        return inventory
    return inventory.record(with_result(record, RevisionResult.FAILED, reason))


def rollback_target(history: Sequence[RevisionRecord], failed_revision: int) -> RevisionRecord:
    """The newest revision before `failed_revision` that was deployed (now Superseded or Deployed)."""
    good = (RevisionResult.SUPERSEDED, RevisionResult.DEPLOYED)
    for record in history:
        if record.revision < failed_revision and record.result in good:
            return record
    raise RollbackError(f"no earlier deployed revision to roll back to from r{failed_revision}")


def with_result(record: RevisionRecord, result: RevisionResult, reason: str = "") -> RevisionRecord:
    return replace(record, result=result, reason=reason[:REASON_LIMIT])


class RevisionLedger:
    """Reads inventories and writes the ones that changed (the only writer of the ConfigMaps)."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self.store = InventoryStore(kube, namespace)

    def load_all(self) -> dict[str, Inventory]:
        return self.store.load_all()

    def load(self, unit: str) -> Inventory | None:
        return self.store.load_all().get(unit)

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

    def mark_rollout_failed(self, unit: str, revision: int, reason: str) -> None:
        inventory = self.load(unit)
        if inventory is None:
            return
        updated = rollout_failed(inventory, revision, reason)
        if updated is not inventory:
            self.store.save(updated)


def _changed(old: Inventory | None, new: Inventory) -> bool:
    return old is None or old.to_json() != new.to_json()
