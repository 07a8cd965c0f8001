"""Prometheus metrics of the running agent (served on /metrics).

Conventions: `gitops_agent_` prefix, `_total` counters, `_seconds` base units, and only bounded label
values — deployment names, enum states, actions, providers. Commits appear only in info-style gauges
that keep one series per deployment (the old series is removed when the commit changes), never in
counters. Every metric is listed in the README.
"""

from __future__ import annotations

import contextlib
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gitops_agent import __version__
from gitops_agent.engine.health import Health
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import RevisionState

SYNC_STATES = tuple(s.value for s in SyncState if s is not SyncState.UNKNOWN)
HEALTH_STATES = tuple(h.value for h in Health if h is not Health.UNKNOWN)
REVISION_STATES = tuple(s.value for s in RevisionState)


class Metrics:
    """All metrics, in a registry of their own (several agents can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.build_info = Gauge(
            "gitops_agent_build_info",
            "Always 1; the version label says which build.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(__version__).set(1)
        self.leader = Gauge("gitops_agent_leader", "1 while this replica holds the leader Lease.", registry=r)
        self.sync_state = Gauge(
            "gitops_agent_deployment_sync_state",
            "1 for the deployment's current sync state (Synced/OutOfSync/Failed), else 0.",
            ["deployment", "state"],
            registry=r,
        )
        self.health = Gauge(
            "gitops_agent_deployment_health",
            "1 for the deployment's current health (Healthy/Progressing/Degraded/Missing/"
            "RolledBack), else 0.",
            ["deployment", "health"],
            registry=r,
        )
        self.revision_state = Gauge(
            "gitops_agent_deployment_revision_state",
            "1 for the state of the deployment's newest revision (Queued/Deploying/Deployed/DeployFailed/"
            "RolledBack/Superseded/Skipped), else 0.",
            ["deployment", "state"],
            registry=r,
        )
        self.revision = Gauge(
            "gitops_agent_deployment_revision", "Current revision number.", ["deployment"], registry=r
        )
        self.revision_info = Gauge(
            "gitops_agent_deployment_revision_info",
            "Always 1; labels carry the current revision and its commit.",
            ["deployment", "revision", "commit"],
            registry=r,
        )
        self.last_synced = Gauge(
            "gitops_agent_deployment_last_synced_timestamp_seconds",
            "Unix time of the last successful sync.",
            ["deployment"],
            registry=r,
        )
        self.validation_errors = Gauge(
            "gitops_agent_deployment_validation_errors",
            "Problems found in the deployment's file at the last load.",
            ["deployment"],
            registry=r,
        )
        self.repository_problems = Gauge(
            "gitops_agent_repository_problems",
            "Problems at the last load that belong to no single deployment (settings file, layout).",
            registry=r,
        )
        self.prune_refused = Gauge(
            "gitops_agent_prune_refused",
            "1 while the last sync refused to delete objects that left Git (a prune guard, or problems).",
            registry=r,
        )
        self.orphaned_volumes = Gauge(
            "gitops_agent_orphaned_volumes",
            "Managed Postgres volumes no database uses any more (kept data of a deleted or moved "
            "deployment), as of the last full sync; listed on the status page and in the status API.",
            registry=r,
        )
        self.sync_duration = Histogram(
            "gitops_agent_sync_duration_seconds",
            "Duration of one sync run.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.syncs = Counter(
            "gitops_agent_sync_operations_total",
            "Syncs of a deployment by result.",
            ["deployment", "result"],
            registry=r,
        )
        self.objects = Counter(
            "gitops_agent_objects_total",
            "Objects handled by action (create/update/unchanged/prune/skipped).",
            ["deployment", "action"],
            registry=r,
        )
        self.drift = Counter(
            "gitops_agent_drift_corrections_total",
            "Owned objects changed outside Git and put back.",
            ["deployment"],
            registry=r,
        )
        self.rollbacks = Counter(
            "gitops_agent_rollbacks_total", "Automatic rollbacks.", ["deployment"], registry=r
        )
        self.fetch_duration = Histogram(
            "gitops_agent_source_fetch_duration_seconds",
            "Duration of one repository fetch.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.commit_refused = Gauge(
            "gitops_agent_source_commit_refused",
            "1 while the newest commit is refused (not signed by a trusted key; --verify-commits).",
            registry=r,
        )
        self.fetch_failures = Counter(
            "gitops_agent_source_fetch_failures_total", "Failed repository fetches.", registry=r
        )
        self.source_info = Gauge(
            "gitops_agent_source_info",
            "Always 1; the commit label is the last fetched commit.",
            ["commit"],
            registry=r,
        )
        self.last_fetch = Gauge(
            "gitops_agent_source_last_fetch_timestamp_seconds",
            "Unix time of the last successful fetch.",
            registry=r,
        )
        self.webhooks = Counter(
            "gitops_agent_webhook_requests_total",
            "Webhook requests by provider and result.",
            ["provider", "result"],
            registry=r,
        )
        self._info_lock = threading.Lock()
        self._revision_labels: dict[str, tuple[str, str]] = {}
        self._source_commit: str | None = None

    def set_state(self, deployment: str, state: str) -> None:
        for candidate in SYNC_STATES:
            self.sync_state.labels(deployment, candidate).set(1 if candidate == state else 0)

    def set_revision_state(self, deployment: str, state: str) -> None:
        for candidate in REVISION_STATES:
            self.revision_state.labels(deployment, candidate).set(1 if candidate == state else 0)

    def set_health(self, deployment: str, health: str) -> None:
        for candidate in HEALTH_STATES:
            self.health.labels(deployment, candidate).set(1 if candidate == health else 0)

    def set_revision(self, deployment: str, revision: int, commit: str) -> None:
        """Keep one info series per deployment: drop the old one when the revision changes."""
        labels = (str(revision), commit[:12])
        with self._info_lock:
            old = self._revision_labels.get(deployment)
            if old and old != labels:
                self.revision_info.remove(deployment, *old)
            self._revision_labels[deployment] = labels
        self.revision.labels(deployment).set(revision)
        self.revision_info.labels(deployment, *labels).set(1)

    def set_source_commit(self, commit: str) -> None:
        with self._info_lock:
            if self._source_commit and self._source_commit != commit:
                self.source_info.remove(self._source_commit)
            self._source_commit = commit
        self.source_info.labels(commit).set(1)

    def forget(self, deployment: str) -> None:
        """Remove a torn-down deployment's series so dashboards stop showing it."""
        states = (
            (self.sync_state, SYNC_STATES),
            (self.health, HEALTH_STATES),
            (self.revision_state, REVISION_STATES),
        )
        for gauge, values in states:
            for value in values:
                with contextlib.suppress(KeyError):
                    gauge.remove(deployment, value)
        with self._info_lock:
            old = self._revision_labels.pop(deployment, None)
        for gauge in (self.revision, self.last_synced, self.validation_errors):
            with contextlib.suppress(KeyError):
                gauge.remove(deployment)
        if old:
            self.revision_info.remove(deployment, *old)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
