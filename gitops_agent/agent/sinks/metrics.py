"""Outcomes → Prometheus metrics (the metric families are defined in `agent.metrics`)."""

from __future__ import annotations

import time

from gitops_agent.agent.metrics import Metrics
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Fetched,
    FetchFailed,
    HealthChanged,
    HistoryLoaded,
    LeadershipChanged,
    Outcome,
    Pruned,
    RepositorySynced,
    RolledBack,
    UnitRemoved,
    UnitSynced,
)
from gitops_agent.engine.health import Health
from gitops_agent.reconcile.sync import SyncState, UnitResult


class MetricsSink:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def handle(self, outcome: Outcome) -> None:
        m = self.metrics
        match outcome:
            case UnitSynced(result=result):
                self._count(result)
            case DriftCorrected(unit=unit, changes=changes):
                m.drift.labels(unit).inc(len(changes))
            case Pruned(unit=unit, changes=changes):
                for change in changes:
                    m.objects.labels(unit, change.action.value).inc()
            case RepositorySynced(status=status, seconds=seconds):
                m.repository_problems.set(len(status.problems))
                m.prune_refused.set(1 if status.prune_refused else 0)
                m.orphaned_volumes.set(len(status.orphaned_volumes))
                m.sync_duration.observe(seconds)
            case HealthChanged(health=health):
                m.set_health(health.unit, health.health.value)
            case RolledBack(unit=unit, restored=restored):
                m.rollbacks.labels(unit).inc()
                m.set_health(unit, Health.ROLLED_BACK.value)
                m.set_revision(unit, restored.revision, restored.commit)
            case Fetched(snapshot=snapshot, seconds=seconds):
                m.fetch_duration.observe(seconds)
                m.last_fetch.set(time.time())
                m.set_source_commit(snapshot.commit)
                m.commit_refused.set(0)
            case FetchFailed(refused=refused):
                m.fetch_failures.inc()
                m.commit_refused.set(1 if refused else 0)
            case HistoryLoaded(inventory=inventory) if inventory.latest is not None:
                m.set_revision_state(inventory.unit, inventory.latest.result.value)
            case UnitRemoved(unit=unit):
                m.forget(unit)
            case LeadershipChanged(leading=leading):
                m.leader.set(1 if leading else 0)

    def _count(self, result: UnitResult) -> None:
        m = self.metrics
        m.set_state(result.unit, result.state.value)
        ok = result.state is not SyncState.FAILED
        m.syncs.labels(result.unit, "success" if ok else "failure").inc()
        m.validation_errors.labels(result.unit).set(len(result.problems))
        for change in result.changes:
            m.objects.labels(result.unit, change.action.value).inc()
        if result.revision is not None:
            m.set_revision(result.unit, result.revision, result.commit)
        if ok and not result.note:
            m.last_synced.labels(result.unit).set(time.time())
