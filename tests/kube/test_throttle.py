"""Throttling is weather: the pacer and the retry loop, against a fake clock and a real HTTP server
that answers 429 (no cluster)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from gitops_agent.kube.client import KubeClient, ThrottledError
from gitops_agent.kube.throttle import (
    CUT_INTERVAL,
    MIN_QPS,
    RECOVERY_SECONDS,
    Pacer,
    ThrottleBudget,
    retry_after,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"Retry-After": "3"}, 3.0),
        (429, {}, 1.0),  # APF always sends one; without it, client-go's one second
        (429, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, 1.0),
        (503, {"Retry-After": "2"}, 2.0),
        (503, {}, None),  # a 5xx without Retry-After is an error, not throttling
        (500, {}, None),
        (200, {"Retry-After": "5"}, None),
        (409, {}, None),
    ],
)
def test_what_counts_as_throttled(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(status, headers) == expected


def pacer(clock: FakeClock, qps: float = 100.0, burst: int = 10) -> Pacer:
    return Pacer(qps, burst, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)


def test_fair_weather_is_a_token_bucket() -> None:
    clock = FakeClock()
    paced = pacer(clock, qps=100, burst=10)
    start = clock.now
    for _ in range(10):
        paced.acquire()
    assert clock.now == start  # the burst goes at once
    for _ in range(100):
        paced.acquire()
    assert clock.now - start == pytest.approx(1.0)  # then 100 per second
    assert not paced.throttled


def test_a_throttled_answer_pauses_every_request_and_halves_the_pace() -> None:
    clock = FakeClock()
    paced = pacer(clock, qps=100, burst=10)
    for _ in range(40):  # 40 requests in the last second
        paced.acquire()
    assert paced.on_throttled(2.0) == 2.0
    assert paced.rate == pytest.approx(20.0)  # half of what was being sent
    paced.on_throttled(2.0)  # answers to requests already in flight: no second cut
    assert paced.rate == pytest.approx(20.0)
    before = clock.now
    paced.acquire()
    assert clock.now - before == pytest.approx(2.0)  # waited out the Retry-After
    assert paced.throttled


def test_while_everything_is_refused_the_pace_falls_to_the_floor_and_recovers_after() -> None:
    clock = FakeClock()
    paced = pacer(clock, qps=300, burst=600)
    sent = 0
    refused_until = clock.now + 60
    while clock.now < refused_until:  # a server that refuses every request for a minute
        paced.acquire()
        sent += 1
        paced.on_throttled(0.0 if sent % 2 else 1.0)
    assert paced.rate == MIN_QPS
    assert sent <= 60 * MIN_QPS * 2 + 10  # bounded: the refused requests do not pile up
    clock.sleep(RECOVERY_SECONDS)
    assert paced.rate == 2 * MIN_QPS
    for _ in range(10):
        clock.sleep(RECOVERY_SECONDS)
    assert paced.rate == 300  # doubling, back to the ceiling within ~20 s
    assert not paced.throttled


def test_a_cut_waits_for_the_cut_interval() -> None:
    clock = FakeClock()
    paced = pacer(clock, qps=64, burst=64)
    for _ in range(64):
        paced.acquire()
    paced.on_throttled(0)
    first = paced.rate
    clock.sleep(CUT_INTERVAL)
    paced.on_throttled(0)
    assert paced.rate == max(MIN_QPS, first / 2)


def test_lease_requests_wait_for_the_retry_after_only() -> None:
    clock = FakeClock()
    paced = pacer(clock, qps=1, burst=1)
    paced.acquire()
    before = clock.now
    paced.acquire(paced=False)
    assert clock.now == before  # not behind the token bucket


def test_a_budget_runs_from_the_first_throttled_answer() -> None:
    clock = FakeClock()
    budget = ThrottleBudget(10.0, clock=clock)
    clock.sleep(100)  # time before any throttling does not count
    assert budget.allows(1.0)
    clock.sleep(8)
    assert budget.allows(2.0)
    assert not budget.allows(2.1)
    assert budget.retries == 2
    assert budget.waited == pytest.approx(8.0)


# -- the retry loop, against a real HTTP server -------------------------------------------------


@dataclass
class ThrottlingServer:
    """Answers 429 (Retry-After: `retry_after`) while `throttling`, else 200 with an empty object."""

    server: ThreadingHTTPServer
    throttling: bool = True
    retry_after: str | None = "1"
    status: int = 429
    answers: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def refused(self) -> int:
        with self.lock:
            return sum(1 for _, status in self.answers if status != 200)


@pytest.fixture
def throttling_server() -> Iterator[ThrottlingServer]:
    state: dict[str, ThrottlingServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            me = state["server"]
            status = me.status if me.throttling else 200
            with me.lock:
                me.answers.append((time.monotonic(), status))
            body = b'{"kind":"Status","message":"too many requests"}' if status != 200 else b"{}"
            self.send_response(status)
            if status != 200 and me.retry_after is not None:
                self.send_header("Retry-After", me.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = answer  # noqa: N815 - http.server's names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["server"] = ThrottlingServer(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["server"]
    server.shutdown()
    server.server_close()


def kube_for(server: ThrottlingServer, *, qps: float = 300, burst: int = 600) -> KubeClient:
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.connection_pool_maxsize = 32
    return KubeClient(client.ApiClient(configuration), pacer=Pacer(qps, burst))


def test_a_throttled_request_is_sent_again_after_retry_after(throttling_server: ThrottlingServer) -> None:
    kube = kube_for(throttling_server)
    threading.Timer(1.5, lambda: setattr(throttling_server, "throttling", False)).start()
    started = time.monotonic()
    assert kube.raw_get("/version") == "{}"
    assert 1.4 < time.monotonic() - started < 5
    assert 1 <= throttling_server.refused() <= 3


def test_a_503_with_retry_after_is_waited_out_too(throttling_server: ThrottlingServer) -> None:
    throttling_server.status, throttling_server.retry_after = 503, "1"
    kube = kube_for(throttling_server)
    threading.Timer(0.5, lambda: setattr(throttling_server, "throttling", False)).start()
    assert kube.raw_get("/version") == "{}"


def test_a_spent_budget_fails_the_request_as_retryable(throttling_server: ThrottlingServer) -> None:
    kube = kube_for(throttling_server).with_budget(ThrottleBudget(2.0))
    with pytest.raises(ThrottledError) as caught:
        kube._request("GET", "/api/v1/namespaces/x/configmaps/y", what="get ConfigMap/y")
    assert caught.value.retryable and caught.value.status == 429
    assert str(caught.value).startswith("get ConfigMap/y failed (429): throttled by the apiserver")
    assert "too many requests" in str(caught.value)


def test_thirty_two_threads_under_throttling_send_a_bounded_rate(throttling_server: ThrottlingServer) -> None:
    """The agent's own 429 rate: 32 requests in flight (the connection pool) against a server that
    refuses everything for 6 s. Today's client sent each again at once from its caller's retry loop;
    paced, they wait for the Retry-After together and then go at the halved pace."""
    kube = kube_for(throttling_server)
    errors: list[BaseException] = []

    def request() -> None:
        try:
            kube.raw_get("/version")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=request) for _ in range(32)]
    threading.Timer(6.0, lambda: setattr(throttling_server, "throttling", False)).start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    refused = throttling_server.refused()
    # the first 32 at once, then about one pause's worth per second at the floor pace
    assert refused <= 32 + 6 * 8, refused
    assert len(throttling_server.answers) - refused == 32  # every request got through in the end
