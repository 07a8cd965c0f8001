"""A de-duplicating work queue of deployment names with per-item exponential back-off.

Why not a plain queue: a burst of watch events for one deployment must become one sync, a failing
deployment must be retried later (with growing, jittered delays) without blocking the others, and a
full resync must sweep every deployment at once (it is also the only sync allowed to tear down a
deployment whose file disappeared).
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FULL = "*"
"""The key that asks for a full sync of every unit (with teardown of vanished ones)."""


@dataclass
class Backoff:
    """Exponential back-off with full jitter: base·2^n, capped, times a random factor in [0.5, 1]."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0
    failures: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, key: str) -> float:
        count = self.failures.get(key, 0)
        self.failures[key] = count + 1
        delay: float = min(self.max_seconds, self.base_seconds * 2.0**count)
        return delay * (0.5 + self.rng.random() / 2)

    def reset(self, key: str) -> None:
        self.failures.pop(key, None)


@dataclass(frozen=True)
class Batch:
    """What to sync next: every unit (`full`) or the named ones."""

    units: frozenset[str]
    full: bool


class WorkQueue:
    """Thread-safe; producers `add`/`add_after`, one consumer takes batches with `get`."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ready: set[str] = set()
        self._delayed: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._closed = False

    def add(self, key: str) -> None:
        """Queue `key` now (a no-op if it is already queued)."""
        with self._cond:
            self._ready.add(key)
            self._cond.notify_all()

    def add_after(self, key: str, delay: float) -> None:
        """Queue `key` once `delay` seconds have passed."""
        with self._cond:
            heapq.heappush(self._delayed, (self._clock() + delay, key))
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._delayed)

    def get(self, timeout: float | None = None) -> Batch | None:
        """Wait for work; returns everything ready as one batch, or None on timeout/close."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                self._promote_due()
                if self._ready:
                    keys, self._ready = self._ready, set()
                    return Batch(frozenset(keys - {FULL}), FULL in keys)
                wait = self._next_wait(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.add(heapq.heappop(self._delayed)[1])

    def _next_wait(self, deadline: float | None) -> float | None:
        now = self._clock()
        candidates = [t - now for t in ([self._delayed[0][0]] if self._delayed else [])]
        if deadline is not None:
            candidates.append(deadline - now)
        return max(0.0, min(candidates)) if candidates else None
