"""Fetch failures back off instead of retrying on every poll; a revision is announced once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agent_harness import wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.agent.controller import SOURCE_KEY
from gitops_agent.agent.outcomes import FetchFailed, Outcome, RevisionDeploying, UnitSynced


class Recorder:
    """A sink keeping every outcome (the agent's other sinks run as usual)."""

    def __init__(self) -> None:
        self.seen: list[Outcome] = []
        self._lock = threading.Lock()

    def handle(self, outcome: Outcome) -> None:
        with self._lock:
            self.seen.append(outcome)

    def of(self, kind: type) -> list[Outcome]:
        with self._lock:
            return [o for o in self.seen if isinstance(o, kind)]


def test_fetch_failures_back_off_and_a_success_resets_it(  # type: ignore[no-untyped-def]
    tmp_path: Path, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    """At a 1 s poll a failing remote was fetched at least once a second (more, with the retry); with
    the back-off (1 s, 2 s, 4 s, each jittered down to at most half) at most 4 times in 6 s."""
    remote = tmp_path / "not-there-yet.git"
    running = start_agent(f"file://{remote}", deployments_repo.namespace, poll_interval=1.0)
    recorder = Recorder()
    running.agent.outcomes.subscribe(recorder)
    time.sleep(6)
    failures = len(recorder.of(FetchFailed))
    assert 1 <= failures <= 4, failures
    assert running.agent.backoff.failures[SOURCE_KEY] >= 1

    remote.symlink_to(deployments_repo.upstream.bare)  # the remote comes back
    running.agent.trigger_fetch()  # a push notification fetches at once, back-off or not
    wait_for(lambda: running.agent.board.source.fetched_at is not None, timeout=30)
    assert SOURCE_KEY not in running.agent.backoff.failures


def test_a_revision_is_announced_once_even_when_its_sync_is_reported_again(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    """An interrupted sync is retried and reports the same new revision again (with 0 objects
    applied): it used to post a second RevisionDeploying Event for it."""
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    recorder = Recorder()
    running.agent.outcomes.subscribe(recorder)
    wait_for(running.all_synced)
    wait_for(lambda: len(recorder.of(RevisionDeploying)) == 4, timeout=30)
    first = next(
        o for o in recorder.of(UnitSynced) if isinstance(o, UnitSynced) and o.result.unit == "support-bot"
    )
    assert isinstance(first, UnitSynced) and first.result.new_revision
    running.agent._on_unit(first.result, first.snapshot)  # the retry reports it again
    deploying = [o for o in recorder.of(RevisionDeploying) if isinstance(o, RevisionDeploying)]
    assert [o.result.unit for o in deploying].count("support-bot") == 1
    assert running.agent.events_sink.drain(10)  # Events are posted in the background
    events = [
        e
        for e in repo.kube.list("v1", "Event", namespace=ns).items
        if e.get("reason") == "RevisionDeploying" and e["involvedObject"]["name"] == "support-bot"
    ]
    assert len(events) == 1, [e["message"] for e in events]
