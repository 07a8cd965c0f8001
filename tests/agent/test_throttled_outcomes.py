"""Throttling is weather (issue 25): what the controller reports after a throttled attempt, and the
Events that could not be posted (pure logic, no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.events import EventReason
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Outcome,
    Outcomes,
    RevisionDeploying,
    UnitSynced,
)
from gitops_agent.agent.sinks.events import EventsSink
from gitops_agent.core.errors import ClusterError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncState, UnitResult
from gitops_agent.source import Snapshot

SNAP = Snapshot("c" * 40, Path("/nonexistent"), "A", "msg", datetime(2026, 1, 1, tzinfo=UTC), "main")
KEY = ObjectKey("apps/v1", "Deployment", "agents", "bot")


class Seen:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def handle(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def agent_on(tmp_path: Path) -> tuple[Agent, Seen]:
    (tmp_path / "repo").mkdir()
    config = AgentConfig(repo=str(tmp_path / "repo"), state_namespace="ns", cache_dir=tmp_path / "cache")
    agent = Agent(config, KubeClient(client.ApiClient()))
    agent.outcomes, seen = Outcomes(), Seen()  # no Events sink: nothing is posted
    agent.outcomes.subscribe(seen)
    return agent, seen


def test_a_revision_first_applied_after_a_throttled_attempt_is_deploying_not_drift(tmp_path: Path) -> None:
    """Issue 25: r5's first attempt failed on a 429 (recorded Queued); the retry, no longer a new
    revision to the sync engine, applied it, and it was reported as drift corrected."""
    agent, seen = agent_on(tmp_path)
    change = ObjectChange("bot", KEY, Action.UPDATE)
    failed = UnitResult("bot", SyncState.FAILED, revision=5, commit="b" * 40, new_revision=True, error="429")
    agent._on_unit(failed, SNAP)
    retried = UnitResult("bot", SyncState.SYNCED, (change,), revision=5, commit="b" * 40, keys=(KEY,))
    agent._on_unit(retried, SNAP)
    reported = [o for o in seen.outcomes if not isinstance(o, UnitSynced)]
    assert [type(o) for o in reported] == [RevisionDeploying]
    # a later change to the same revision is drift again
    agent._on_unit(retried, SNAP)
    assert isinstance(seen.outcomes[-1], DriftCorrected)


class FlakyRecorder:
    """Fails the first `failures` posts with a retryable error, then records them."""

    def __init__(self, failures: int, *, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.posted: list[tuple[str, EventReason]] = []

    def record(self, *, deployment: str, namespace: str, reason: EventReason, message: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise ClusterError("create Event failed (429): throttled", retryable=self.retryable, status=429)
        self.posted.append((deployment, reason))
        return True

    def record_repository(self, **_: Any) -> bool:
        return True


def deploying(unit: str) -> RevisionDeploying:
    result = UnitResult(unit, SyncState.SYNCED, revision=2, commit="d" * 40, new_revision=True)
    return RevisionDeploying(result, 3)


def test_an_event_that_could_not_be_posted_is_retried_in_order() -> None:
    recorder, sleeps = FlakyRecorder(failures=3), list[float]()
    sink = EventsSink(recorder, repository_configmap="cm", sleep=sleeps.append)  # type: ignore[arg-type]
    sink.handle(deploying("a"))
    sink.handle(deploying("b"))
    assert sink.drain(5)
    assert recorder.posted == [("a", EventReason.REVISION_DEPLOYING), ("b", EventReason.REVISION_DEPLOYING)]
    assert sleeps == [1.0, 2.0, 4.0]  # backing off between the tries
    assert (sink.retried, sink.dropped) == (3, 0)


def test_an_event_refused_for_good_is_given_up_and_counted() -> None:
    recorder = FlakyRecorder(failures=1, retryable=False)
    sink = EventsSink(recorder, repository_configmap="cm", sleep=lambda _: None)  # type: ignore[arg-type]
    sink.handle(deploying("a"))
    sink.handle(deploying("b"))
    assert sink.drain(5)
    assert recorder.posted == [("b", EventReason.REVISION_DEPLOYING)]
    assert (sink.retried, sink.dropped) == (0, 1)
