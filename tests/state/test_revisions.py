"""Revision numbering and every transition, as tables (no cluster): `state.revisions`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.prune import InventoryEntry
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import Inventory, RevisionRecord, with_applied, without
from gitops_agent.state.inventory import RevisionState as R
from gitops_agent.state.revisions import (
    REASON_LIMIT,
    Restore,
    RollbackError,
    after_attempt,
    next_revision,
    plan_revision,
    rollback_target,
    rollout_failed,
    rollout_succeeded,
)

SNAP = Snapshot(
    commit="c" * 40, path=Path("/nonexistent"), author="A <a@x>", message="msg",
    time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), ref="main",
)  # fmt: skip


def _inv(*history: tuple[int, str, R]) -> Inventory:
    """History newest first, as the ConfigMap keeps it; spec hashes are 'h<revision>'."""
    records = [RevisionRecord(n, commit, f"h{n}", result=result) for n, commit, result in history]
    return Inventory("bot", history=tuple(sorted(records, key=lambda r: -r.revision)))


def _results(inventory: Inventory) -> dict[int, R]:
    return {r.revision: r.result for r in inventory.history}


@pytest.mark.parametrize(
    ("inventory", "spec_hash", "expected"),
    [
        (None, "h1", (1, True)),
        (_inv((1, "a", R.DEPLOYED)), "h1", (1, False)),  # same spec: same revision (a retry, a no-op)
        (_inv((1, "a", R.DEPLOYED)), "hX", (2, True)),
        (_inv((1, "a", R.DEPLOYED), (2, "b", R.DEPLOY_FAILED)), "h2", (2, False)),  # retry of a failed one
        (_inv((1, "a", R.DEPLOYED), (2, "b", R.ROLLED_BACK)), "h1", (3, True)),  # a revert is new
    ],
)
def test_next_revision(inventory: Inventory | None, spec_hash: str, expected: tuple[int, bool]) -> None:
    assert next_revision(inventory, spec_hash) == expected


@pytest.mark.parametrize(
    ("history", "spec_hash", "revision", "commit", "is_new", "settled", "held"),
    [
        ((), "h1", 1, SNAP.commit, True, False, False),
        (((1, "a", R.DEPLOYED),), "h1", 1, "a", False, True, False),  # resync: keeps its commit
        (((1, "a", R.DEPLOYED),), "h2", 2, SNAP.commit, True, False, False),
        (((1, "a", R.DEPLOYED), (2, "b", R.DEPLOY_FAILED)), "h2", 2, "b", False, False, False),  # retry
        (((1, "a", R.DEPLOYED), (2, "b", R.DEPLOYING)), "h2", 2, "b", False, True, False),  # resync
        (((1, "a", R.SUPERSEDED), (2, "b", R.ROLLED_BACK)), "h2", 2, "b", False, False, True),  # held
    ],
)
def test_plan_revision(
    history: tuple[tuple[int, str, R], ...],
    spec_hash: str,
    revision: int,
    commit: str,
    is_new: bool,
    settled: bool,
    held: bool,
) -> None:
    plan = plan_revision(_inv(*history) if history else None, spec_hash, SNAP)
    assert (plan.revision, plan.commit, plan.is_new, plan.settled, plan.held) == (
        revision, commit, is_new, settled, held,
    )  # fmt: skip


def test_a_new_revision_records_the_snapshot() -> None:
    plan = plan_revision(None, "h1", SNAP)
    record = after_attempt(Inventory("bot"), plan, applied_any=True).latest
    assert record is not None
    assert (record.commit, record.author, record.message, record.time) == (
        SNAP.commit, "A <a@x>", "msg", "2026-01-02T03:04:05+00:00",
    )  # fmt: skip
    assert record.result is R.DEPLOYING


D, DG, F, Q, S = R.DEPLOYED, R.DEPLOYING, R.DEPLOY_FAILED, R.QUEUED, R.SKIPPED


@pytest.mark.parametrize(
    ("history", "spec_hash", "error", "retryable", "applied_any", "expected"),
    [
        # a new revision applied: Deploying; the Deployed one stays Deployed until it is healthy
        (((1, "a", D),), "h2", "", False, True, {1: D, 2: DG}),
        # a new revision rejected: DeployFailed; or Queued when the cluster could not take it yet
        (((1, "a", D),), "h2", "422", False, True, {1: D, 2: F}),
        (((1, "a", D),), "h2", "apiserver away", True, True, {1: D, 2: Q}),
        # a failed re-apply of a Deployed revision is reported, not recorded
        (((1, "a", D),), "h1", "timeout", False, True, {1: D}),
        # retries that apply: DeployFailed or Queued → Deploying
        (((1, "a", D), (2, "b", F)), "h2", "", False, True, {1: D, 2: DG}),
        (((1, "a", D), (2, "b", Q)), "h2", "", False, True, {1: D, 2: DG}),
        # failed its rollout and nothing to apply: stays; failed for good: an outage is not news
        (((1, "a", D), (2, "b", F)), "h2", "", False, False, {1: D, 2: F}),
        (((1, "a", D), (2, "b", F)), "h2", "away", True, True, {1: D, 2: F}),
        # a newer revision applied before the older one became Deployed: the older one is Skipped
        (((1, "a", D), (2, "b", DG)), "h3", "", False, True, {1: D, 2: S, 3: DG}),
        (((1, "a", D), (2, "b", Q)), "h3", "", False, True, {1: D, 2: S, 3: DG}),
    ],
)
def test_after_attempt(
    history: tuple[tuple[int, str, R], ...],
    spec_hash: str,
    error: str,
    retryable: bool,
    applied_any: bool,
    expected: dict[int, R],
) -> None:
    inventory = _inv(*history)
    plan = plan_revision(inventory, spec_hash, SNAP)
    after = after_attempt(inventory, plan, error=error, retryable=retryable, applied_any=applied_any)
    assert _results(after) == expected


def test_a_healthy_rollout_is_deployed_and_supersedes_the_one_before() -> None:
    inventory = _inv((1, "a", R.DEPLOYED), (2, "b", R.DEPLOYING))
    assert _results(rollout_succeeded(inventory, 2)) == {1: R.SUPERSEDED, 2: R.DEPLOYED}
    skipped = _inv((1, "a", R.DEPLOYED), (2, "b", R.SKIPPED))
    assert rollout_succeeded(skipped, 2) is skipped  # too late: a newer one replaced it


def test_histories_written_before_the_lifecycle_still_read() -> None:
    record = RevisionRecord.from_json({"revision": 1, "commit": "a", "specHash": "h", "result": "Failed"})
    assert record.result is R.DEPLOY_FAILED


def test_rollback_marks_the_failed_revision_and_redeploys_the_target() -> None:
    inventory = _inv((1, "a", R.DEPLOYED), (2, "b", R.DEPLOYING))
    target = rollback_target(inventory.history, 2)
    assert target.revision == 1
    restore = Restore(target, failed_revision=2, reason="x" * 2000)
    plan = plan_revision(inventory, "h1", SNAP, restore=restore)
    assert (plan.revision, plan.commit, plan.is_new, plan.held) == (1, "a", False, False)
    after = after_attempt(inventory, plan, applied_any=True)
    assert _results(after) == {1: R.DEPLOYED, 2: R.ROLLED_BACK}
    assert len(next(r for r in after.history if r.revision == 2).reason) == REASON_LIMIT
    # a failed rollback apply leaves the history to the caller
    assert after_attempt(inventory, plan, error="boom", applied_any=True) is inventory
    # healing a held unit changes no history
    heal = plan_revision(after, "h1", SNAP, restore=Restore(target))
    assert after_attempt(after, heal, applied_any=True) is after


def test_a_restore_whose_commit_renders_otherwise_is_refused() -> None:
    target = RevisionRecord(1, "a", "h1")
    with pytest.raises(RollbackError, match="no longer renders r1"):
        plan_revision(None, "h-other", SNAP, restore=Restore(target, 2))


@pytest.mark.parametrize(
    ("history", "failed", "target"),
    [
        (((1, "a", R.SUPERSEDED), (2, "b", R.DEPLOYED)), 2, 1),
        (
            ((1, "a", R.SUPERSEDED), (2, "b", R.DEPLOY_FAILED), (3, "c", R.DEPLOYED)),
            3,
            1,
        ),  # skips a failed one
        (((1, "a", R.DEPLOYED), (2, "b", R.DEPLOYED)), 2, 1),
        (((1, "a", R.DEPLOY_FAILED), (2, "b", R.DEPLOYING)), 2, None),
        (((2, "b", R.DEPLOYED),), 2, None),
    ],
)
def test_rollback_target(history: tuple[tuple[int, str, R], ...], failed: int, target: int | None) -> None:
    records = _inv(*history).history
    if target is None:
        with pytest.raises(RollbackError):
            rollback_target(records, failed)
    else:
        assert rollback_target(records, failed).revision == target


def test_rollout_failed_only_changes_a_deploying_revision() -> None:
    inventory = _inv((1, "a", R.DEPLOYED), (2, "b", R.DEPLOYING))
    assert _results(rollout_failed(inventory, 2, "Degraded")) == {1: R.DEPLOYED, 2: R.DEPLOY_FAILED}
    rolled_back = _inv((1, "a", R.DEPLOYED), (2, "b", R.ROLLED_BACK))
    assert rollout_failed(rolled_back, 2, "late") is rolled_back
    assert rollout_failed(inventory, 9, "unknown") is inventory


def test_history_is_bounded_and_newest_first() -> None:
    inventory = Inventory("bot")
    for n in range(1, 30):
        inventory = after_attempt(inventory, plan_revision(inventory, f"h{n}", SNAP), applied_any=True)
    assert [r.revision for r in inventory.history] == list(range(29, 9, -1))
    assert [r.result for r in inventory.history[:2]] == [R.DEPLOYING, R.SKIPPED]


def _key(name: str) -> ObjectKey:
    return ObjectKey("v1", "ConfigMap", "ns", name)


def test_inventory_merge_keeps_older_entries_until_pruned_and_known_uids() -> None:
    inventory = Inventory(
        "bot", objects=(InventoryEntry(_key("a"), "uid-a"), InventoryEntry(_key("b"), "uid-b"))
    )
    merged = with_applied(inventory, [(_key("b"), None), (_key("c"), {"metadata": {"uid": "uid-c"}})])
    assert {e.key.name: e.uid for e in merged.objects} == {"a": "uid-a", "b": "uid-b", "c": "uid-c"}
    replaced = with_applied(merged, [(_key("a"), {"metadata": {"uid": "uid-a2"}})])
    assert {e.key.name: e.uid for e in replaced.objects}["a"] == "uid-a2"
    assert [e.key.name for e in without(replaced, {_key("a"), _key("c")}).objects] == ["b"]
