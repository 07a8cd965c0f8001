"""Outcomes → Kubernetes Events on the deployment's Deployment, or about the repository (`agent.events`)."""

from __future__ import annotations

import threading

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
from gitops_agent.engine.diff import Action
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.repository import RepositoryStatus


class EventsSink:
    """Posts one Event per outcome that a `kubectl describe` reader should see."""

    def __init__(self, recorder: EventRecorder, *, repository_configmap: str) -> None:
        self.recorder = recorder
        self.repository_configmap = repository_configmap
        self._namespaces: dict[str, str] = {}
        self._lock = threading.Lock()

    def handle(self, outcome: Outcome) -> None:
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
