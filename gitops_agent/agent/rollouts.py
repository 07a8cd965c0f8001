"""The rollout tracker: follows each Deploying revision to Deployed or DeployFailed, from the watch cache.

One thread for all rollouts. It judges a revision's objects from what the agent's watches already
hold (`engine.health.judge_unit`), so a rollout costs no requests however many run at once. It judges
only what may have changed: a rollout when it starts, when the watch cache reports a change to its
objects, once its deadline has passed, and all of them every `sweep_seconds` (objects of kinds the
cache does not watch report no changes). With a thousand rollouts in flight, one deployment's change
costs one judgement, not a thousand. Until the watch cache has listed (`ready`, waited for at most
READY_GRACE_SECONDS) nothing is judged, so a first convergence does not GET every object the cache is
about to hold. When a rollout settles — Healthy; Degraded; or still not healthy at its deadline — the
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
SWEEP_SECONDS = 15.0
READY_GRACE_SECONDS = 30.0


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
        sweep_seconds: float = SWEEP_SECONDS,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.read = read
        self.on_health = on_health
        self.on_settled = on_settled
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.sweep_seconds = sweep_seconds
        self.ready = ready
        self._rollouts: dict[str, Rollout] = {}
        self._due: set[str] = set()
        """Tracked units to judge on the next check (new, changed, or a result to record again)."""
        self._observe: dict[str, tuple[ObjectKey, ...]] = {}
        """Units to judge once, without a rollout (`observe`)."""
        self._next_sweep = 0.0
        self._waiting_since: float | None = None
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
            self._due.add(unit)
            self._observe.pop(unit, None)
        self._wake.set()
        return True

    def observe(self, unit: str, keys: Sequence[ObjectKey]) -> None:
        """Judge `unit` once (`on_health`), without a rollout: a deployment first seen already
        deployed, e.g. after an agent restart. Done on this thread, from the cache once it has listed."""
        with self._lock:
            if unit not in self._rollouts:
                self._observe[unit] = tuple(keys)
        self._wake.set()

    def forget(self, unit: str) -> None:
        with self._lock:
            self._rollouts.pop(unit, None)
            self._observe.pop(unit, None)

    def tracking(self) -> dict[str, int]:
        """unit → the revision being followed."""
        with self._lock:
            return {unit: r.revision for unit, r in self._rollouts.items()}

    def poke(self, unit: str) -> None:
        """Something of `unit` changed (a watch event): look again now."""
        with self._lock:
            tracked = unit in self._rollouts
            if tracked:
                self._due.add(unit)
        if tracked:
            self._wake.set()

    def judge(self, unit: str, keys: Sequence[ObjectKey]) -> UnitHealth:
        return judge_unit(self.read, unit, keys)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
            if not stop.is_set() and self._is_ready():
                self.check_due()

    def check_all(self) -> None:
        """Judge every rollout (and pending observation) now."""
        with self._lock:
            self._due.update(self._rollouts)
            self._next_sweep = self.clock() + self.sweep_seconds
        self.check_due()

    def check_due(self) -> None:
        """Judge what may have changed: see the module docstring."""
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:
                self._due.update(self._rollouts)
                self._next_sweep = now + self.sweep_seconds
            due = self._due | {u for u, r in self._rollouts.items() if now > r.deadline}
            self._due = set()
            rollouts = [self._rollouts[u] for u in sorted(due) if u in self._rollouts]
            observations, self._observe = self._observe, {}
        for unit, keys in observations.items():
            try:
                self.on_health(self.judge(unit, keys))
            except GitopsAgentError as err:
                log.warning("cannot judge %s yet: %s", unit, err)
        for rollout in rollouts:
            self._check(rollout)

    def _is_ready(self) -> bool:
        """The cache has listed, or waiting for it took longer than the grace (then reads may GET)."""
        if self.ready():
            self._waiting_since = None
            return True
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since > READY_GRACE_SECONDS

    def _check(self, rollout: Rollout) -> None:
        try:
            health = self.judge(rollout.unit, rollout.keys)
        except GitopsAgentError as err:  # an object outside the cache could not be read: next tick
            log.warning("cannot judge the rollout of %s yet: %s", rollout.unit, err)
            self._again(rollout.unit)
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
                self._again(rollout.unit)
                return
        with self._lock:
            if self._is_current(rollout):
                del self._rollouts[rollout.unit]

    def _again(self, unit: str) -> None:
        with self._lock:
            self._due.add(unit)

    def _replace_if_current(self, rollout: Rollout) -> None:
        """Keep what was last seen, unless a newer revision of the unit is tracked by now."""
        with self._lock:
            if self._is_current(rollout):
                self._rollouts[rollout.unit] = rollout

    def _is_current(self, rollout: Rollout) -> bool:
        current = self._rollouts.get(rollout.unit)
        return current is not None and current.revision == rollout.revision
