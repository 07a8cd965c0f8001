"""Outcomes fan out to every sink; triggers follow one protocol (pure logic, no cluster)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from gitops_agent.agent.metrics import Metrics
from gitops_agent.agent.outcomes import (
    FetchFailed,
    HealthChanged,
    Outcome,
    Outcomes,
    RolledBack,
    UnitSynced,
)
from gitops_agent.agent.sinks.board import BoardSink
from gitops_agent.agent.sinks.metrics import MetricsSink
from gitops_agent.agent.status import StatusBoard
from gitops_agent.agent.triggers import Doorbell, Interval
from gitops_agent.core.objects import ObjectKey
from gitops_agent.core.triggers import TriggerKind
from gitops_agent.engine.health import Health, ObjectHealth, UnitHealth
from gitops_agent.reconcile.sync import SyncState, UnitResult
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import RevisionRecord

SNAP = Snapshot("c" * 40, Path("/nonexistent"), "A", "msg", datetime(2026, 1, 1, tzinfo=UTC), "main")
KEY = ObjectKey("apps/v1", "Deployment", "agents", "bot")


class Broken:
    def handle(self, outcome: Outcome) -> None:
        raise RuntimeError("sink down")


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Outcome] = []

    def handle(self, outcome: Outcome) -> None:
        self.seen.append(outcome)


def test_a_failing_sink_does_not_stop_the_others() -> None:
    outcomes, recorder = Outcomes(), Recorder()
    outcomes.subscribe(Broken())
    outcomes.subscribe(recorder)
    outcomes.emit(FetchFailed("repo", "unreachable"))
    assert recorder.seen == [FetchFailed("repo", "unreachable")]


def test_one_outcome_reaches_the_board_and_the_metrics_alike() -> None:
    board, metrics, outcomes = StatusBoard(), Metrics(), Outcomes()
    outcomes.subscribe(MetricsSink(metrics))
    outcomes.subscribe(BoardSink(board))
    result = UnitResult("bot", SyncState.SYNCED, revision=2, commit="b" * 40, new_revision=True, keys=(KEY,))
    outcomes.emit(UnitSynced(result, SNAP))
    outcomes.emit(
        HealthChanged(UnitHealth("bot", Health.DEGRADED, (ObjectHealth(KEY, Health.DEGRADED, "x"),)))
    )
    outcomes.emit(RolledBack("bot", 2, RevisionRecord(1, "a" * 40, "h1"), "r2 not healthy"))
    shown = board.deployment("bot")
    assert shown is not None
    assert (shown["sync_state"], shown["health"], shown["namespace"]) == ("Synced", "RolledBack", "agents")
    assert shown["health_message"] == "rolled back to r1: r2 not healthy"
    sample = metrics.registry.get_sample_value
    assert sample("gitops_agent_deployment_health", {"deployment": "bot", "health": "RolledBack"}) == 1
    assert sample("gitops_agent_deployment_health", {"deployment": "bot", "health": "Degraded"}) == 0
    assert sample("gitops_agent_rollbacks_total", {"deployment": "bot"}) == 1
    assert sample("gitops_agent_deployment_revision", {"deployment": "bot"}) == 1
    # a later Healthy verdict (of the restored revision) does not hide the rollback
    outcomes.emit(HealthChanged(UnitHealth("bot", Health.HEALTHY, ())))
    assert (board.deployment("bot") or {})["health"] == "RolledBack"


def test_a_doorbell_rung_before_its_thread_runs_is_not_lost() -> None:
    bell, fired, stop = Doorbell(), [], threading.Event()
    bell.ring()
    thread = threading.Thread(target=bell.run, args=(fired.append, stop))
    thread.start()
    deadline = time.monotonic() + 5
    while not fired and time.monotonic() < deadline:  # the early ring fires as the trigger starts
        time.sleep(0.01)
    bell.ring()
    stop.set()
    thread.join(5)
    assert fired == [TriggerKind.WEBHOOK, TriggerKind.WEBHOOK]


def test_an_interval_fires_until_stopped() -> None:
    fired: list[TriggerKind] = []
    stop = threading.Event()

    def fire(kind: TriggerKind) -> None:
        fired.append(kind)
        if len(fired) == 3:
            stop.set()

    Interval(TriggerKind.RESYNC, 0.01, jitter=0.5).run(fire, stop)
    assert fired == [TriggerKind.RESYNC] * 3
