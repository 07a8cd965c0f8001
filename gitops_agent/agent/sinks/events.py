"""Outcomes → Kubernetes Events on the deployment's Deployment, or about the repository (`agent.events`).

Events are posted on a thread of their own, in the order the outcomes came: emitting returns at once,
so a cold sync of a thousand deployments (a thousand RevisionDeploying Events, each a POST and maybe a
GET) does not wait for them. A post that failed for a reason that may pass (throttled past the
client's budget, the apiserver away) is tried again, after 1 s doubling to RETRY_MAX_SECONDS, before
any later one, so Events keep their order; after RETRY_FOR_SECONDS it is given up. Beyond QUEUE_LIMIT
waiting, newer ones are dropped. Both are counted (`dropped`) and logged.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from gitops_agent.agent.events import EventReason, EventRecorder
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    FetchFailed,
    Outcome,
    Pruned,
    RepositorySynced,
    RevisionDeployed,
    RevisionDeployFailed,
    RevisionDeploying,
    RolledBack,
    UnitSynced,
)
from gitops_agent.core.errors import ClusterError
from gitops_agent.core.logs import get_logger
from gitops_agent.engine.diff import Action
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.repository import RepositoryStatus

log = get_logger("events")
QUEUE_LIMIT = 10_000
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
RETRY_FOR_SECONDS = 900.0
_POSTED = (
    UnitSynced, RevisionDeploying, RevisionDeployed, DriftCorrected, Pruned, RolledBack,
    RevisionDeployFailed, RepositorySynced, FetchFailed,
)  # fmt: skip


class EventsSink:
    """Posts one Event per outcome that a `kubectl describe` reader should see."""

    def __init__(
        self,
        recorder: EventRecorder,
        *,
        repository_configmap: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.recorder = recorder
        self._clock = clock
        self._sleep = sleep
        self.repository_configmap = repository_configmap
        self._namespaces: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Outcome] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._dropped = 0
        self._retried = 0

    @property
    def dropped(self) -> int:
        """Events never posted: given up after RETRY_FOR_SECONDS, or beyond QUEUE_LIMIT."""
        with self._lock:
            return self._dropped

    @property
    def retried(self) -> int:
        """Posts that failed and were tried again."""
        with self._lock:
            return self._retried

    def handle(self, outcome: Outcome) -> None:
        """Queue the outcome for the poster thread (started with the first one)."""
        if not isinstance(outcome, _POSTED):
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="events", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(outcome)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                dropped = self._dropped
            if dropped % 1000 == 1:
                log.warning("Events are not getting through: %d dropped so far", dropped)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued outcome was posted or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            outcome = self._queue.get()
            try:
                self._deliver(outcome)
            except Exception:
                log.exception("could not post the Event for %s", type(outcome).__name__)
            finally:
                self._queue.task_done()

    def _deliver(self, outcome: Outcome) -> None:
        """Post the outcome's Events, trying again while the failure may pass (a retry does not post
        twice: an Event already posted is a repeat the recorder skips)."""
        started, delay = self._clock(), RETRY_FIRST_SECONDS
        while True:
            try:
                self._post_for(outcome)
                return
            except ClusterError as err:
                if not err.retryable or self._clock() - started + delay > RETRY_FOR_SECONDS:
                    with self._lock:
                        self._dropped += 1
                    log.warning("gave up the Event for %s: %s", type(outcome).__name__, err)
                    return
                with self._lock:
                    self._retried += 1
                    retried = self._retried
                if retried % 100 == 1:
                    log.warning("could not post an Event, trying again in %.0f s: %s", delay, err)
            self._sleep(delay)
            delay = min(RETRY_MAX_SECONDS, delay * 2)

    def _post_for(self, outcome: Outcome) -> None:
        match outcome:
            case UnitSynced(result=result):
                if result.namespace:
                    with self._lock:
                        self._namespaces[result.unit] = result.namespace
                if result.state is SyncState.FAILED:
                    self._post(result.unit, EventReason.SYNC_FAILED, result.error)
            case RevisionDeploying(result=result, applied=applied):
                message = (
                    f"revision {result.revision} (commit {result.commit[:12]}): {applied} objects applied"
                )
                self._post(result.unit, EventReason.REVISION_DEPLOYING, message)
            case RevisionDeployed(unit=unit, revision=revision, commit=commit):
                message = f"revision {revision} (commit {commit[:12]}) is healthy"
                self._post(unit, EventReason.REVISION_DEPLOYED, message)
            case DriftCorrected(unit=unit, changes=changes):
                message = "put back: " + ", ".join(str(c.key) for c in changes)
                self._post(unit, EventReason.DRIFT_CORRECTED, message)
            case Pruned():
                self._pruned(outcome)
            case RolledBack(unit=unit, failed_revision=failed, restored=restored, reason=reason):
                message = f"rolled back from r{failed} to r{restored.revision}: {reason}"
                self._post(unit, EventReason.REVISION_ROLLED_BACK, message)
            case RevisionDeployFailed(unit=unit, reason=reason):
                self._post(unit, EventReason.REVISION_DEPLOY_FAILED, reason)
            case RepositorySynced(status=status):
                self._repository(status)
            case FetchFailed(error=error, refused=True):
                self.recorder.record_repository(
                    configmap=self.repository_configmap, reason=EventReason.COMMIT_REFUSED, message=error
                )

    def _pruned(self, pruned: Pruned) -> None:
        deleted = [c for c in pruned.changes if c.action is Action.PRUNE]
        if deleted:
            message = f"pruned {len(deleted)} objects: " + ", ".join(str(c.key) for c in deleted)
            # a teardown took the Deployment too: the Event goes to the state namespace
            self._post(pruned.unit, EventReason.PRUNED, message, namespace="" if pruned.torn_down else None)

    def _repository(self, status: RepositoryStatus) -> None:
        """Repository-level problems and a refused prune, on the repository-status ConfigMap."""
        found = []
        if status.problems:
            found.append(
                (
                    EventReason.REPOSITORY_INVALID,
                    f"{len(status.problems)} problems: " + "; ".join(status.problems),
                )
            )
        if status.prune_refused:
            found.append((EventReason.PRUNE_REFUSED, status.prune_refused))
        for reason, message in found:
            self.recorder.record_repository(
                configmap=self.repository_configmap, reason=reason, message=message
            )

    def _post(self, unit: str, reason: EventReason, message: str, *, namespace: str | None = None) -> None:
        """On the unit's Deployment, in the namespace of its last successful render."""
        if namespace is None:
            with self._lock:
                namespace = self._namespaces.get(unit, "")
        self.recorder.record(deployment=unit, namespace=namespace, reason=reason, message=message)
