"""check_unit and wait_for_health over a scripted in-memory cluster (no apiserver, no real time).

The fake plays back a sequence of live states per object, so polling, change reporting, timeouts
and error handling are tested exactly; the same code runs against the real cluster in
test_health_cluster.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, UnitHealth, check_unit, wait_for_health
from gitops_agent.kube.client import NotFoundError, ObjectList

DEPLOY = ObjectKey("apps/v1", "Deployment", "agents", "support-bot")
SERVICE = ObjectKey("v1", "Service", "agents", "support-bot")
CRON = ObjectKey("example.com/v1", "Widget", "agents", "w")


def _deployment(ready: int, *, deadline_exceeded: bool = False) -> dict[str, Any]:
    progressing = (
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "timed out",
        }
        if deadline_exceeded
        else {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "support-bot", "namespace": "agents", "generation": 1},
        "spec": {"replicas": 2, "progressDeadlineSeconds": 600},
        "status": {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [{"type": "Available", "status": "True"}, progressing],
        },
    }


SERVICE_LIVE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "support-bot", "namespace": "agents"},
    "spec": {"selector": {"app": "support-bot"}, "ports": [{"port": 80}]},
}


class FakeCluster:
    """Plays back states per object key (the last one repeats); an exception state is raised."""

    def __init__(self, states: dict[ObjectKey, Sequence[Any]], slices: Sequence[dict[str, Any]] = ()) -> None:
        self.states = {key: list(seq) for key, seq in states.items()}
        self.slices = tuple(slices)
        self.gets: list[ObjectKey] = []
        self.lists: list[tuple[str, str]] = []

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        key = ObjectKey(api_version, kind, namespace, name)
        self.gets.append(key)
        if api_version == "example.com/v1":
            raise NotFoundError(f"the apiserver serves no kind {kind} in {api_version}", status=404)
        queue = self.states.get(key, [None])
        state = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(state, Exception):
            raise state
        return state  # type: ignore[no-any-return]

    def list(
        self, api_version: str, kind: str, *, namespace: str = "", label_selector: str = ""
    ) -> ObjectList:
        self.lists.append((f"{api_version}/{kind}", label_selector))
        return ObjectList(self.slices, "1")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _endpoint(uid: str, address: str, ready: bool | None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"addresses": [address], "targetRef": {"kind": "Pod", "uid": uid}}
    if ready is not None:
        endpoint["conditions"] = {"ready": ready}
    return endpoint


def test_check_unit_counts_ready_endpoints_once_per_pod() -> None:
    slices: list[dict[str, Any]] = [
        {"endpoints": [_endpoint("a", "10.0.0.1", True), _endpoint("b", "10.0.0.2", False)]},
        {"endpoints": [_endpoint("a", "fd00::1", True), _endpoint("c", "10.0.0.3", None)]},  # dual-stack
        {"endpoints": None},
    ]
    cluster = FakeCluster({DEPLOY: [_deployment(2)], SERVICE: [SERVICE_LIVE]}, slices)
    unit = check_unit(cluster, "support-bot", [DEPLOY, SERVICE])
    assert unit.health is Health.HEALTHY
    assert [o.message for o in unit.objects] == ["2/2 replicas ready", "2 ready endpoints"]
    assert cluster.lists == [("discovery.k8s.io/v1/EndpointSlice", "kubernetes.io/service-name=support-bot")]


def test_check_unit_missing_object_and_unserved_kind() -> None:
    unit = check_unit(FakeCluster({}), "support-bot", [DEPLOY, CRON])
    assert unit.health is Health.MISSING
    assert unit.objects[0].message == "not found in the cluster"
    assert "serves no kind Widget" in unit.objects[1].message


def test_check_unit_does_not_list_endpoints_for_services_without_selector() -> None:
    headless = {**SERVICE_LIVE, "spec": {"ports": [{"port": 80}]}}
    cluster = FakeCluster({SERVICE: [headless]})
    assert check_unit(cluster, "u", [SERVICE]).health is Health.HEALTHY
    assert cluster.lists == []


def test_wait_reports_changes_only_and_returns_when_healthy() -> None:
    cluster = FakeCluster({DEPLOY: [_deployment(0), _deployment(1), _deployment(1), _deployment(2)]})
    fake = FakeTime()
    seen: list[UnitHealth] = []
    result = wait_for_health(
        cluster,
        {"support-bot": [DEPLOY]},
        timeout_seconds=60,
        poll_seconds=2,
        on_progress=seen.append,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result["support-bot"].health is Health.HEALTHY
    assert [u.summary for u in seen] == ["0/2 replicas ready", "1/2 replicas ready", "all 1 objects healthy"]
    assert fake.sleeps == [2, 2, 2]


def test_wait_stops_polling_settled_units() -> None:
    other = ObjectKey("apps/v1", "Deployment", "agents", "other")
    cluster = FakeCluster(
        {
            DEPLOY: [_deployment(0, deadline_exceeded=True)],
            other: [_deployment(0), _deployment(0), _deployment(2)],
        }
    )
    fake = FakeTime()
    result = wait_for_health(
        cluster, {"bot": [DEPLOY], "other": [other]}, timeout_seconds=60, clock=fake.clock, sleep=fake.sleep
    )
    assert result["bot"].health is Health.DEGRADED
    assert result["bot"].summary == "ProgressDeadlineExceeded: timed out"
    assert result["other"].health is Health.HEALTHY
    assert cluster.gets.count(DEPLOY) == 1
    assert cluster.gets.count(other) == 3


def test_wait_times_out_with_units_still_progressing() -> None:
    cluster = FakeCluster({DEPLOY: [_deployment(1)]})
    fake = FakeTime()
    result = wait_for_health(
        cluster, {"bot": [DEPLOY]}, timeout_seconds=2.5, poll_seconds=1, clock=fake.clock, sleep=fake.sleep
    )
    assert result["bot"].health is Health.PROGRESSING
    assert result["bot"].summary == "1/2 replicas ready"
    assert fake.sleeps == [1, 1, 0.5]  # never sleeps past the deadline
    assert fake.now == 2.5


def test_wait_with_zero_timeout_checks_once() -> None:
    cluster = FakeCluster({DEPLOY: [_deployment(1)]})
    fake = FakeTime()
    result = wait_for_health(
        cluster, {"bot": [DEPLOY]}, timeout_seconds=0, clock=fake.clock, sleep=fake.sleep
    )
    assert result["bot"].health is Health.PROGRESSING
    assert cluster.gets == [DEPLOY]
    assert fake.sleeps == []


def test_wait_rides_out_retryable_errors() -> None:
    blip = ClusterError("GET ...: apiserver unreachable", retryable=True)
    cluster = FakeCluster({DEPLOY: [blip, _deployment(1), blip, _deployment(2)]})
    fake = FakeTime()
    seen: list[str] = []
    result = wait_for_health(
        cluster,
        {"bot": [DEPLOY]},
        timeout_seconds=60,
        on_progress=lambda u: seen.append(u.summary),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert result["bot"].health is Health.HEALTHY
    # before the first answer the error is shown; afterwards a blip keeps the last verdict
    assert seen == [
        "health unknown: GET ...: apiserver unreachable",
        "1/2 replicas ready",
        "all 1 objects healthy",
    ]


def test_wait_raises_errors_that_retrying_cannot_fix() -> None:
    forbidden = ClusterError("get Deployment/support-bot failed (403): forbidden", status=403)
    cluster = FakeCluster({DEPLOY: [forbidden]})
    fake = FakeTime()
    with pytest.raises(ClusterError, match="403"):
        wait_for_health(cluster, {"bot": [DEPLOY]}, timeout_seconds=60, clock=fake.clock, sleep=fake.sleep)


def test_wait_missing_object_keeps_waiting_until_it_appears() -> None:
    cluster = FakeCluster({DEPLOY: [None, _deployment(2)]})
    fake = FakeTime()
    result = wait_for_health(
        cluster, {"bot": [DEPLOY]}, timeout_seconds=60, clock=fake.clock, sleep=fake.sleep
    )
    assert result["bot"].health is Health.HEALTHY
    assert len(cluster.gets) == 2
