"""Throttling is weather, not failure: pacing the client's requests and waiting out the apiserver's.

An apiserver under priority-and-fairness limits answers 429 Too Many Requests (or 503 with
Retry-After) and says how long to wait. Failing the deployment's whole sync on it, and sending the
next request at once, made a throttled agent a source of load of its own (~120 requests/s of 429s
with nothing else running, issue 25). So, as client-go does (Retry-After honoured up to a limit, a
QPS/burst token bucket), every request of a client passes one `Pacer`:

- a token bucket at `qps`/`burst` in fair weather (a ceiling far above what a sync needs);
- on a throttled answer, every request of the client waits for the server's Retry-After (not only
  the one that was refused), and the pace drops to half the rate that was being sent (at most one cut
  per `CUT_INTERVAL`, never below `MIN_QPS`): while the server keeps refusing, the client converges
  to about MIN_QPS requests/s, so the rate of 429s it causes is bounded too;
- each `RECOVERY_SECONDS` without a throttled answer the pace doubles, back to the ceiling.

A request is sent again until a `ThrottleBudget` is spent: one per sync (its clock starts at the sync's
first throttled answer), so a deployment fails only after the sync waited out throttling for that
long; requests outside a sync (Events, the watch cache, rollout checks) each get a budget of their own.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable

MIN_QPS = 1.0
CUT_INTERVAL = 1.0
"""Seconds after a cut in which further throttled answers (to requests already sent) do not cut again."""
RECOVERY_SECONDS = 1.0
MAX_RETRY_AFTER = 60.0
"""A Retry-After above this is capped (a misbehaving proxy must not stall the agent for an hour)."""
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_QPS = 300.0
DEFAULT_BURST = 600
DEFAULT_SYNC_BUDGET = 120.0
"""Seconds a sync waits out throttling before its throttled units fail (Queued, retried)."""
DEFAULT_REQUEST_BUDGET = 60.0
"""Seconds a request outside a sync waits out throttling before it fails."""


class ThrottleBudget:
    """How long one sync (or one lone request) may keep waiting out throttled answers.

    The clock starts at the first throttled answer; every request sharing the budget gives up once
    waiting the next Retry-After would go past `seconds`.
    """

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._started: float | None = None
        self._retries = 0
        self._lock = threading.Lock()

    def allows(self, wait: float) -> bool:
        """Whether waiting `wait` more seconds (then retrying) stays within the budget; counts it."""
        now = self._clock()
        with self._lock:
            if self._started is None:
                self._started = now
            if now + wait - self._started > self.seconds:
                return False
            self._retries += 1
            return True

    @property
    def retries(self) -> int:
        """Throttled answers waited out so far."""
        with self._lock:
            return self._retries

    @property
    def waited(self) -> float:
        """Seconds since the first throttled answer (0 when there was none)."""
        with self._lock:
            return 0.0 if self._started is None else self._clock() - self._started


class Pacer:
    """One client's token bucket, slowed by throttled answers and sped up again without them."""

    def __init__(
        self,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be positive and burst at least 1")
        self.ceiling = qps
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Lock()
        now = clock()
        self._rate = qps
        self._tokens = self.burst
        self._refilled = now
        self._paused_until = now
        self._cut_at = float("-inf")
        self._calm_since = now
        """When the last throttled answer (or the last speed-up) was: the next doubling is due after."""
        self._sent: collections.deque[float] = collections.deque()
        self.throttled_total = 0
        """Throttled answers seen (for logs and tests)."""

    @property
    def rate(self) -> float:
        """Requests per second the client may send now."""
        with self._lock:
            self._recover(self._clock())
            return self._rate

    @property
    def throttled(self) -> bool:
        """Whether the pace is below the ceiling (the server throttled us recently)."""
        return self.rate < self.ceiling

    def acquire(self, *, paced: bool = True) -> None:
        """Wait for the server's Retry-After, if any, and for a token; then the request may go.

        `paced=False` (Lease renewals) waits for the Retry-After only: a leader that lost its Lease
        while queued behind its own sync would cost more than the one request it adds.
        """
        while True:
            with self._lock:
                now = self._clock()
                self._recover(now)
                self._refill(now)
                wait = self._paused_until - now
                if wait <= 0:
                    if not paced:
                        return
                    if self._tokens >= 1 - 1e-9:  # not lost to float rounding of the refill
                        self._tokens = max(0.0, self._tokens - 1)
                        self._sent.append(now)
                        return
                    wait = (1 - self._tokens) / self._rate
            self._sleep(wait)

    def on_throttled(self, retry_after: float) -> float:
        """A throttled answer: pause every request for the Retry-After (plus up to 10 % jitter, so
        the waiting requests do not all come back in the same millisecond) and cut the pace.
        Returns the pause, in seconds."""
        pause = min(max(retry_after, 0.0), MAX_RETRY_AFTER) * (1 + 0.1 * self._jitter())
        with self._lock:
            now = self._clock()
            self.throttled_total += 1
            self._paused_until = max(self._paused_until, now + pause)
            self._refilled = max(self._refilled, self._paused_until)  # no tokens for the pause
            self._calm_since = now
            if now - self._cut_at >= CUT_INTERVAL:
                self._cut_at = now
                self._rate = max(MIN_QPS, min(self._rate, self._sent_rate(now)) / 2)
                self._tokens = 1.0  # one request may go when the pause ends
        return pause

    def _sent_rate(self, now: float) -> float:
        """Requests sent in the last second."""
        while self._sent and self._sent[0] < now - 1.0:
            self._sent.popleft()
        return float(len(self._sent))

    def _recover(self, now: float) -> None:
        """Double the pace for each RECOVERY_SECONDS without a throttled answer."""
        steps = int((now - self._calm_since) / RECOVERY_SECONDS)
        if self._rate < self.ceiling and steps > 0:
            self._rate = min(self.ceiling, self._rate * 2.0 ** min(steps, 32))
            self._calm_since += steps * RECOVERY_SECONDS

    def _refill(self, now: float) -> None:
        """Tokens for the time since the last refill, none for a pause; while throttled, at most a
        second's worth (no burst right after a pause)."""
        if now > self._refilled:
            cap = self.burst if self._rate >= self.ceiling else max(1.0, self._rate)
            self._tokens = min(cap, self._tokens + (now - self._refilled) * self._rate)
            self._refilled = now
        while self._sent and self._sent[0] < now - 1.0:  # the window of `_sent_rate`, kept short
            self._sent.popleft()


def retry_after(status: int, headers: object) -> float | None:
    """Seconds the server asked us to wait before sending the request again, or None when the
    answer is not a throttling one: 429 (Retry-After, or DEFAULT_RETRY_AFTER without it) or a 5xx
    with a Retry-After (client-go's rule: the server said it is only busy)."""
    value = _header(headers, "Retry-After")
    seconds: float | None = None
    if value is not None:
        try:
            seconds = max(0.0, float(value))
        except ValueError:
            seconds = None  # an HTTP date: rare from an apiserver; treated as absent
    if status == 429:
        return DEFAULT_RETRY_AFTER if seconds is None else seconds
    if 500 <= status < 600 and seconds is not None:
        return seconds
    return None


def _header(headers: object, name: str) -> str | None:
    get = getattr(headers, "get", None)
    if get is None:
        return None
    value = get(name)
    return None if value is None else str(value)
