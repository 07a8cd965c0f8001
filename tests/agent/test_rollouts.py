"""The rollout tracker's rules with a fake cache and clock (no cluster): `agent.rollouts`."""

from __future__ import annotations

from typing import Any

from gitops_agent.agent.rollouts import Rollout, RolloutTracker
from gitops_agent.core.errors import ClusterError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, UnitHealth

KEY = ObjectKey("apps/v1", "Deployment", "agents", "bot")


def _deployment(ready: int, *, deadline_exceeded: bool = False) -> dict[str, Any]:
    progressing = (
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        if deadline_exceeded
        else {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    )
    return {
        "metadata": {"name": "bot", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": ready,
            "availableReplicas": ready, "conditions": [progressing, {"type": "Available", "status": "True"}],
        },
    }  # fmt: skip


class Harness:
    def __init__(self) -> None:
        self.live: dict[str, Any] | None = _deployment(0)
        self.now = 0.0
        self.settled: list[tuple[int, Health]] = []
        self.seen: list[Health] = []
        self.fail_next = 0
        self.tracker = RolloutTracker(
            lambda key: self.live, on_health=self.health, on_settled=self.settle, clock=lambda: self.now
        )

    def health(self, health: UnitHealth) -> None:
        self.seen.append(health.health)

    def settle(self, rollout: Rollout, health: UnitHealth) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ClusterError("apiserver away", retryable=True)
        self.settled.append((rollout.revision, health.health))


def test_a_rollout_settles_once_healthy_and_reports_each_change_once() -> None:
    h = Harness()
    assert h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    assert not h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    h.tracker.check_all()
    h.tracker.check_all()
    assert h.seen == [Health.PROGRESSING] and h.settled == []
    h.live = _deployment(1)
    h.tracker.check_all()
    assert h.settled == [(2, Health.HEALTHY)] and h.tracker.tracking() == {}


def test_a_rollout_settles_at_its_deadline_or_when_degraded() -> None:
    h = Harness()
    h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    h.now = 61
    h.tracker.check_all()
    assert h.settled == [(2, Health.PROGRESSING)]
    h.tracker.track("bot", 3, [KEY], deadline_seconds=60, auto_rollback=False)
    h.live = _deployment(0, deadline_exceeded=True)
    h.tracker.check_all()
    assert h.settled[-1] == (3, Health.DEGRADED)


def test_a_result_that_cannot_be_recorded_is_retried() -> None:
    h = Harness()
    h.live = _deployment(1)
    h.fail_next = 2
    h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    h.tracker.check_all()
    h.tracker.check_all()
    assert h.settled == [] and h.tracker.tracking() == {"bot": 2}
    h.tracker.check_all()
    assert h.settled == [(2, Health.HEALTHY)] and h.tracker.tracking() == {}


def test_a_newer_revision_replaces_the_one_tracked() -> None:
    h = Harness()
    h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    h.tracker.track("bot", 3, [KEY], deadline_seconds=60, auto_rollback=False)
    h.live = _deployment(1)
    h.tracker.check_all()
    assert h.settled == [(3, Health.HEALTHY)]
