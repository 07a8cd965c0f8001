"""Outcomes → structured log lines (the emitting thread's log context names the deployment)."""

from __future__ import annotations

from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Fetched,
    FetchFailed,
    Outcome,
    RepositorySynced,
    RevisionDeployed,
    RevisionDeployFailed,
    RevisionDeploying,
    RolledBack,
    UnitSynced,
)
from gitops_agent.core.logs import fields, get_logger
from gitops_agent.reconcile.sync import SyncState

log = get_logger("controller")


class LogSink:
    def handle(self, outcome: Outcome) -> None:
        match outcome:
            case UnitSynced(result=result) if result.state is SyncState.FAILED:
                log.warning("sync failed: %s", result.error)
            case RevisionDeploying(applied=applied):
                log.info("revision deploying", extra=fields(objects=applied))
            case RevisionDeployed(revision=revision):
                log.info("revision %s deployed (healthy)", revision)
            case DriftCorrected(changes=changes):
                log.info("drift corrected", extra=fields(objects=[str(c.key) for c in changes]))
            case RepositorySynced(status=status) if status.prune_refused:
                log.warning("prune refused: %s", status.prune_refused)
            case Fetched(snapshot=snapshot, changed=True):
                log.info("new repository content", extra=fields(commit=snapshot.short_commit))
            case FetchFailed(source=source, error=error):
                log.warning("fetch failed; live state left as it is: %s", error, extra=fields(repo=source))
            case RolledBack(restored=restored, reason=reason, prune_refused=refused):
                log.warning("rolled back to r%s: %s", restored.revision, reason)
                if refused:
                    log.warning("rollback left the failed revision's extra objects: %s", refused)
            case RevisionDeployFailed(reason=reason):
                log.warning("revision failed to deploy: %s", reason)
