"""The rollout tracker: follows each Deploying revision to Deployed or DeployFailed, from the watch cache.

One thread for all rollouts. It judges a revision's objects from what the agent's watches already
hold (`engine.health.judge_unit`), so a rollout costs no requests however many run at once; it wakes
when the watch cache reports a change to a tracked deployment, and once a second to notice progress
deadlines. When a rollout settles — Healthy; Degraded; or still not healthy at its deadline — the
controller is told (`on_settled`); if recording that fails (the apiserver is away) it is retried on
the next tick, so the result is recorded once the cluster is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.core.logs import get_logger, log_context
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, Live, UnitHealth, judge_unit

log = get_logger("rollouts")


@dataclass(frozen=True)
class Rollout:
    unit: str
    revision: int
    keys: tuple[ObjectKey, ...]
    deadline: float
    """Monotonic time after which a rollout that is not healthy has failed."""
    auto_rollback: bool
    last: tuple[Health, str] | None = None


class RolloutTracker:
    """Tracks rollouts; `on_settled(rollout, health)` returns once the outcome is recorded."""

    def __init__(
        self,
        read: Callable[[ObjectKey], Live | None],
        *,
        on_health: Callable[[UnitHealth], None],
        on_settled: Callable[[Rollout, UnitHealth], None],
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = 1.0,
    ) -> None:
        self.read = read
        self.on_health = on_health
        self.on_settled = on_settled
        self.clock = clock
        self.tick_seconds = tick_seconds
        self._rollouts: dict[str, Rollout] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def track(
        self,
        unit: str,
        revision: int,
        keys: Sequence[ObjectKey],
        *,
        deadline_seconds: float,
        auto_rollback: bool,
    ) -> bool:
        """Follow `revision` of `unit` (replacing an older one); False when it is followed already."""
        with self._lock:
            current = self._rollouts.get(unit)
            if current is not None and current.revision == revision:
                return False
            deadline = self.clock() + deadline_seconds
            self._rollouts[unit] = Rollout(unit, revision, tuple(keys), deadline, auto_rollback)
        self._wake.set()
        return True

    def forget(self, unit: str) -> None:
        with self._lock:
            self._rollouts.pop(unit, None)

    def tracking(self) -> dict[str, int]:
        """unit → the revision being followed."""
        with self._lock:
            return {unit: r.revision for unit, r in self._rollouts.items()}

    def poke(self, unit: str) -> None:
        """Something of `unit` changed (a watch event): look again now."""
        with self._lock:
            tracked = unit in self._rollouts
        if tracked:
            self._wake.set()

    def judge(self, unit: str, keys: Sequence[ObjectKey]) -> UnitHealth:
        return judge_unit(self.read, unit, keys)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
            if not stop.is_set():
                self.check_all()

    def check_all(self) -> None:
        with self._lock:
            rollouts = list(self._rollouts.values())
        for rollout in rollouts:
            self._check(rollout)

    def _check(self, rollout: Rollout) -> None:
        try:
            health = self.judge(rollout.unit, rollout.keys)
        except GitopsAgentError as err:  # an object outside the cache could not be read: next tick
            log.warning("cannot judge the rollout of %s yet: %s", rollout.unit, err)
            return
        seen = (health.health, health.summary)
        if seen != rollout.last:
            self.on_health(health)
            self._replace_if_current(replace(rollout, last=seen))
        timed_out = self.clock() > rollout.deadline
        if health.health is not Health.HEALTHY and health.health is not Health.DEGRADED and not timed_out:
            return
        with log_context(deployment=rollout.unit, revision=rollout.revision):
            try:
                self.on_settled(rollout, health)
            except GitopsAgentError as err:
                log.warning("rollout result not recorded yet, retrying: %s", err)
                return
        with self._lock:
            if self._is_current(rollout):
                del self._rollouts[rollout.unit]

    def _replace_if_current(self, rollout: Rollout) -> None:
        """Keep what was last seen, unless a newer revision of the unit is tracked by now."""
        with self._lock:
            if self._is_current(rollout):
                self._rollouts[rollout.unit] = rollout

    def _is_current(self, rollout: Rollout) -> bool:
        current = self._rollouts.get(rollout.unit)
        return current is not None and current.revision == rollout.revision
