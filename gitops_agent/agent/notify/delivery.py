"""Getting requests to their services without ever holding up a sync.

Each target (a chat webhook, the forge's status API) has its own bounded queue and thread, so a slow
or failing service delays only its own messages, in order. A failed send (connection error, 429,
5xx) is retried with exponential back-off — honouring `Retry-After` — up to `MAX_ATTEMPTS`; other
4xx answers are not retried (the request itself is wrong: a revoked token, a deleted webhook). When
a queue is full, the oldest message is dropped and counted. URLs and credentials never reach a log:
targets are named by their configured name, and errors say the status code, not the URL.
"""

from __future__ import annotations

import collections
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from gitops_agent.agent.notify.formats import Request
from gitops_agent.core.logs import get_logger

log = get_logger("notify")

MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
QUEUE_LIMIT = 500
TIMEOUT_SECONDS = 10.0


@dataclass
class DeliveryStats:
    """What a target did, for metrics and tests."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    retried: int = 0


class _RetryableError(Exception):
    def __init__(self, why: str, after: float | None = None) -> None:
        super().__init__(why)
        self.after = after


Send = Callable[[Request], None]


def send_http(request: Request) -> None:
    """POST the request; raises `_RetryableError` for what may pass, ValueError for what will not."""
    prepared = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as err:
        if err.code == 429 or err.code >= 500:
            raise _RetryableError(f"HTTP {err.code}", _retry_after(err.headers.get("Retry-After"))) from None
        raise ValueError(f"HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise _RetryableError(f"cannot connect: {type(reason).__name__}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), MAX_DELAY_SECONDS) if value else None
    except ValueError:
        return None


class Target:
    """One destination: a queue of requests and the thread that sends them, in order."""

    def __init__(
        self,
        name: str,
        *,
        send: Send = send_http,
        sleep: Callable[[float], bool] | None = None,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self.name = name
        self.stats = DeliveryStats()
        self._send = send
        self._queue: collections.deque[Request] = collections.deque()
        self._limit = queue_limit
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=f"notify-{name}", daemon=True)
        self._thread.start()

    def put(self, request: Request) -> None:
        """Queue a request; never blocks (a full queue drops its oldest request)."""
        with self._ready:
            if len(self._queue) >= self._limit:
                self._queue.popleft()
                self.stats.dropped += 1
                log.warning("notification target %s: queue full, oldest message dropped", self.name)
            self._queue.append(request)
            self._ready.notify()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued was sent or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(min(remaining, 0.1))
        return True

    def stop(self) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._ready:
                while not self._queue and not self._stop.is_set():
                    self._ready.wait()
                if self._stop.is_set():
                    return
                request = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(request)
            finally:
                with self._ready:
                    self._busy = False
                    self._ready.notify_all()

    def _deliver(self, request: Request) -> None:
        delay = FIRST_DELAY_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                self._send(request)
            except _RetryableError as err:
                if attempt == MAX_ATTEMPTS:
                    break
                wait = err.after if err.after is not None else delay
                log.info("notification target %s: %s; retry %d in %.0fs", self.name, err, attempt, wait)
                self.stats.retried += 1
                if self._sleep(wait):
                    return  # stopping
                delay = min(delay * 2, MAX_DELAY_SECONDS)
                continue
            except ValueError as err:
                log.warning("notification target %s refused a message: %s (not retried)", self.name, err)
                self.stats.failed += 1
                return
            self.stats.sent += 1
            return
        log.warning("notification target %s: giving up after %d attempts", self.name, MAX_ATTEMPTS)
        self.stats.failed += 1
