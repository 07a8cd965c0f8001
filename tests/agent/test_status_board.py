"""The status board's record of a sync (pure: no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from gitops_agent.agent.status import StatusBoard
from gitops_agent.reconcile.sync import SyncState, UnitResult

SNAPSHOT = SimpleNamespace(author="Ada", message="m", time=datetime(2024, 5, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "result",
    [
        UnitResult(
            "bot",
            SyncState.FAILED,
            revision=2,
            commit="b" * 40,
            error="Deployment/agents/bot belongs to gitops-agent instance 'east', not to this one ('west')",
            image="img:2",
        ),
        UnitResult("bot", SyncState.OUT_OF_SYNC, revision=2, note="drift left alone", image="img:2"),
        UnitResult("bot", SyncState.SUSPENDED, revision=2, note="suspended", image="img:2"),
    ],
    ids=["lost-claim", "out-of-sync", "suspended"],
)
def test_the_image_shown_is_the_one_applied_not_one_a_sync_failed_to_apply(
    result: UnitResult,
) -> None:
    board = StatusBoard()
    board.record_sync(result, SNAPSHOT)  # type: ignore[arg-type]
    assert board.deployment("bot")["image"] == ""  # type: ignore[index]
    board.record_sync(
        UnitResult("bot", SyncState.SYNCED, revision=1, commit="a" * 40, image="img:1"), SNAPSHOT
    )  # type: ignore[arg-type]
    board.record_sync(result, SNAPSHOT)  # type: ignore[arg-type]
    assert board.deployment("bot")["image"] == "img:1"  # type: ignore[index]
    board.record_sync(
        UnitResult("bot", SyncState.SYNCED, revision=2, commit="b" * 40, image="img:2"), SNAPSHOT
    )  # type: ignore[arg-type]
    assert board.deployment("bot")["image"] == "img:2"  # type: ignore[index]
