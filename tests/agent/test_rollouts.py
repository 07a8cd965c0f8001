"""The rollout tracker's rules with a fake cache and clock (no cluster): `agent.rollouts`."""

from __future__ import annotations

import threading
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


def _counting(h: Harness) -> list[str]:
    """Which units the tracker reads (one entry per judgement of a one-object unit)."""
    read: list[str] = []

    def reading(key: ObjectKey) -> dict[str, Any] | None:
        read.append(key.name)
        return h.live

    h.tracker.read = reading
    return read


def _key(name: str) -> ObjectKey:
    return ObjectKey("apps/v1", "Deployment", "agents", name)


def test_a_check_judges_only_new_poked_and_overdue_rollouts_and_sweeps_all_now_and_then() -> None:
    h = Harness()
    for name in ("a", "b", "c"):
        h.tracker.track(name, 1, [_key(name)], deadline_seconds=60, auto_rollback=False)
    read = _counting(h)
    h.tracker.check_due()  # all three are new
    assert sorted(read) == ["a", "b", "c"]
    read.clear()
    h.tracker.check_due()
    assert read == []  # nothing changed: no judgement
    h.tracker.poke("b")
    h.tracker.poke("not-tracked")
    h.tracker.check_due()
    assert read == ["b"]
    read.clear()
    h.now = 10.0
    h.tracker.check_due()  # the sweep (every 15 s) is not due yet
    assert read == []
    h.now = 16.0
    h.tracker.check_due()
    assert sorted(read) == ["a", "b", "c"]
    read.clear()
    h.now = 61.0  # past every deadline: each is judged and settles
    h.tracker.check_due()
    assert sorted(read) == ["a", "b", "c"] and h.tracker.tracking() == {}


def test_a_result_that_could_not_be_recorded_is_due_again_without_a_poke() -> None:
    h = Harness()
    h.live = _deployment(1)
    h.fail_next = 1
    h.tracker.track("bot", 2, [KEY], deadline_seconds=60, auto_rollback=False)
    h.tracker.check_due()
    assert h.settled == []
    h.tracker.check_due()
    assert h.settled == [(2, Health.HEALTHY)]


def test_an_observed_unit_is_judged_once_and_a_tracked_rollout_replaces_the_observation() -> None:
    h = Harness()
    read = _counting(h)
    h.tracker.observe("bot", [KEY])
    h.tracker.check_due()
    h.tracker.check_due()
    assert read == ["bot"] and h.seen == [Health.PROGRESSING] and h.tracker.tracking() == {}
    h.tracker.observe("other", [_key("other")])
    h.tracker.track("other", 1, [_key("other")], deadline_seconds=60, auto_rollback=False)
    read.clear()
    h.tracker.check_due()
    assert read == ["other"]  # judged as the rollout, not twice


def test_nothing_is_judged_until_the_cache_has_listed_or_the_grace_is_over() -> None:
    ready = False
    h = Harness()
    h.tracker.ready = lambda: ready
    read = _counting(h)
    h.tracker.observe("bot", [KEY])
    stop = threading.Event()
    h.tracker.tick_seconds = 0.01
    thread = threading.Thread(target=h.tracker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        stop.wait(0.1)
        assert read == []  # not listed yet, still within the grace
        ready = True
        for _ in range(200):
            if read:
                break
            stop.wait(0.01)
        assert read == ["bot"]
    finally:
        stop.set()
        thread.join(5)
    ready = False
    h.now = 1.0
    assert not h.tracker._is_ready()
    h.now = 40.0  # waited longer than READY_GRACE_SECONDS
    assert h.tracker._is_ready()
