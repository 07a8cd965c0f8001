"""Outcomes → Kubernetes Events on the deployment's Deployment, or about the repository (`agent.events`).

Events are posted on a thread of their own, in the order the outcomes came: emitting returns at once,
so a cold sync of a thousand deployments (a thousand RevisionDeploying Events, each a POST and maybe a
GET) does not wait for them. Events are best effort: beyond QUEUE_LIMIT waiting (an apiserver that
stopped answering), newer ones are dropped and counted in a warning.
"""

from __future__ import annotations

import queue
import threading
import time

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
from gitops_agent.core.logs import get_logger
from gitops_agent.engine.diff import Action
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.repository import RepositoryStatus

log = get_logger("events")
QUEUE_LIMIT = 10_000
_POSTED = (
    UnitSynced, RevisionDeploying, RevisionDeployed, DriftCorrected, Pruned, RolledBack,
    RevisionDeployFailed, RepositorySynced, FetchFailed,
)  # fmt: skip


class EventsSink:
    """Posts one Event per outcome that a `kubectl describe` reader should see."""

    def __init__(self, recorder: EventRecorder, *, repository_configmap: str) -> None:
        self.recorder = recorder
        self.repository_configmap = repository_configmap
        self._namespaces: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Outcome] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._dropped = 0

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
                self._post_for(outcome)
            except Exception:
                log.exception("could not post the Event for %s", type(outcome).__name__)
            finally:
                self._queue.task_done()

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
