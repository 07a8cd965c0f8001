"""The status model: what the agent knows about each deployment, for the status API, page and CLI.

One thread-safe board that the controller writes after every sync, health check, rollback and fetch,
and that readers turn into JSON. Everything in it is safe to show: names, revisions, commits, commit
messages (escaped by the page), error texts and masked diffs — never Secret values.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any

from gitops_agent.engine.diff import Action, ObjectChange, unit_summary
from gitops_agent.engine.health import Health, UnitHealth
from gitops_agent.reconcile.sync import SyncState, UnitResult
from gitops_agent.source import Snapshot
from gitops_agent.source.urls import scrub_text
from gitops_agent.state.inventory import Inventory, RevisionState
from gitops_agent.state.repository import RepositoryStatus
from gitops_agent.state.revisions import current_revision

DIFF_LIMIT = 64 * 1024


@dataclass
class DeploymentStatus:
    """The latest known state of one deployment."""

    name: str
    namespace: str = ""
    revision: int | None = None
    revision_state: RevisionState | None = None
    """The revision's place in its life (Queued, Deploying, Deployed, DeployFailed, ...)."""
    commit: str = ""
    author: str = ""
    message: str = ""
    image: str = ""
    """The image of the deployment's agent Deployment as last applied."""
    revision_time: str = ""
    """When the current revision's commit was made (ISO 8601, from the revision history)."""
    sync_state: SyncState = SyncState.UNKNOWN
    health: Health = Health.UNKNOWN
    health_message: str = ""
    last_error: str = ""
    problems: list[str] = field(default_factory=list)
    """The file's validation problems at the last load (file:line:col: field: message)."""
    note: str = ""
    last_sync_time: float | None = None
    last_attempt_time: float | None = None
    """Unix times of the last successful sync and of the last attempt, successful or not."""
    objects: list[dict[str, str]] = field(default_factory=list)
    last_change: str = ""
    """The last real change, in one line (`image 1.4.2 → 1.5.0, env +LOG_LEVEL`)."""
    last_diff: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields of the deployments table (no objects, history or diff)."""
        data = asdict(self)
        for heavy in ("objects", "history", "last_diff"):
            data.pop(heavy)
        return data


@dataclass
class SourceStatus:
    repo: str = ""
    ref: str = ""
    commit: str = ""
    fetched_at: float | None = None
    error: str = ""
    problems: list[str] = field(default_factory=list)
    """Problems of the last load that belong to no single deployment (settings file, layout)."""
    prune_refused: str = ""
    """Why the last sync deleted nothing although objects left Git ("" when it did not refuse)."""
    orphaned_volumes: list[dict[str, str]] = field(default_factory=list)
    """Managed Postgres data no database uses any more (namespace, claim, deployment, capacity, volume)."""


@dataclass
class LeaderStatus:
    identity: str = ""
    leading: bool = False
    holder: str | None = None
    known: bool = False
    """Leader election has run at least once (readiness waits for it)."""


class StatusBoard:
    """Thread-safe store of DeploymentStatus plus source and leadership state."""

    def __init__(self, *, repo: str = "", ref: str = "") -> None:
        self._lock = threading.Lock()
        self._deployments: dict[str, DeploymentStatus] = {}
        self.source = SourceStatus(repo=scrub_text(repo), ref=ref)  # no credentials in a URL shown
        self.leader = LeaderStatus()

    def _entry(self, name: str) -> DeploymentStatus:
        return self._deployments.setdefault(name, DeploymentStatus(name))

    def record_sync(self, result: UnitResult, snapshot: Snapshot) -> None:
        now = time.time()
        with self._lock:
            entry = self._entry(result.unit)
            entry.sync_state = result.state
            entry.last_attempt_time = now
            entry.last_error = result.error
            entry.problems = list(result.problems)
            entry.note = result.note
            entry.namespace = result.namespace or entry.namespace
            if result.revision is not None:
                if result.revision != entry.revision:
                    entry.revision_state = None  # known once the history is recorded, not the old one's
                entry.revision, entry.commit = result.revision, result.commit
            if result.state is SyncState.SYNCED and not result.error:
                # only what this sync applied: a unit that failed (an object another instance owns,
                # a refused apply) or was left out of sync still runs what was applied before
                entry.image = result.image or entry.image
            if result.new_revision:
                entry.author, entry.message = snapshot.author, snapshot.message
                entry.revision_time = snapshot.time.astimezone(UTC).isoformat(timespec="seconds")
            if not result.error and not result.note:
                entry.last_sync_time = now
            changed = [c for c in result.changes if c.action is not Action.UNCHANGED]
            diff = "".join(c.diff for c in changed)
            shown = {o["object"] for o in entry.objects if o["action"] != Action.PRUNE.value}
            if result.changes and (changed or {str(c.key) for c in result.changes} != shown):
                # a no-op resync (one follows each of the agent's own writes) keeps what the last
                # change did to each object
                entry.objects = [{"object": str(c.key), "action": c.action.value} for c in result.changes]
            if diff:
                entry.last_diff = diff[:DIFF_LIMIT]
            if changed:
                entry.last_change = unit_summary(changed)

    def record_prune(self, unit: str, changes: list[ObjectChange]) -> None:
        """Objects pruned after the unit's sync join its object list (only for a unit still known)."""
        with self._lock:
            entry = self._deployments.get(unit)
            if entry is not None:
                entry.objects += [{"object": str(c.key), "action": c.action.value} for c in changes]

    def record_repository(self, status: RepositoryStatus) -> None:
        """Repository-level problems; the deployments they leave behind say OutOfSync and why."""
        with self._lock:
            self.source.problems = list(status.problems)
            self.source.prune_refused = status.prune_refused
            self.source.orphaned_volumes = [asdict(v) for v in status.orphaned_volumes]
            for name in status.blocked:
                entry = self._deployments.get(name)
                if entry is not None and entry.sync_state is not SyncState.FAILED:
                    entry.sync_state, entry.note = SyncState.OUT_OF_SYNC, status.reason()

    def record_health(self, health: UnitHealth) -> None:
        with self._lock:
            entry = self._entry(health.unit)
            if entry.health is not Health.ROLLED_BACK or health.health is not Health.HEALTHY:
                entry.health = health.health
            entry.health_message = health.summary

    def set_health(self, unit: str, health: Health, message: str) -> None:
        with self._lock:
            entry = self._entry(unit)
            entry.health, entry.health_message = health, message

    def record_history(self, inventory: Inventory) -> None:
        """Revision history and the current revision (`revisions.current_revision`: the newest, or
        after a rollback the restored one) from the cluster's record, as `status` shows it too."""
        with self._lock:
            entry = self._entry(inventory.unit)
            entry.history = [r.to_json() for r in inventory.history]
            current = current_revision(inventory)
            if current is not None:
                entry.revision, entry.revision_state = current.revision, current.result
                entry.commit, entry.author, entry.message = current.commit, current.author, current.message
                entry.revision_time = current.time

    def record_inventory(self, inventory: Inventory) -> None:
        """A standby's view of a unit: what the leader recorded in its inventory (history, last error)."""
        self.record_history(inventory)
        with self._lock:
            entry = self._entry(inventory.unit)
            entry.sync_state = SyncState.FAILED if inventory.error else SyncState.SYNCED
            entry.last_error, entry.note = inventory.error, ""
            own = [
                e.key
                for e in inventory.objects
                if e.key.kind == "Deployment" and e.key.name == inventory.unit
            ]
            entry.namespace = own[0].namespace if own else entry.namespace
            entry.objects = [{"object": str(e.key), "action": "recorded"} for e in inventory.objects]

    def remove(self, unit: str) -> None:
        with self._lock:
            self._deployments.pop(unit, None)

    def namespace_of(self, unit: str) -> str:
        """The namespace of the unit's Deployment, as of its last successful render ("" if unknown)."""
        with self._lock:
            entry = self._deployments.get(unit)
            return entry.namespace if entry else ""

    def health_known(self, unit: str) -> bool:
        with self._lock:
            entry = self._deployments.get(unit)
            return entry is not None and entry.health is not Health.UNKNOWN

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._deployments)

    def deployments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._deployments[n].summary() for n in sorted(self._deployments)]

    def deployment(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._deployments.get(name)
            return asdict(entry) if entry else None

    def overview(self) -> dict[str, Any]:
        with self._lock:
            return {"source": asdict(self.source), "leader": asdict(self.leader), "view": self.view}

    @property
    def view(self) -> str:
        """Whose view the board shows: the leader's own, or a standby's copy of the cluster's records."""
        return "standby" if self.leader.known and not self.leader.leading else "leader"

    def record_fetch(self, commit: str) -> None:
        with self._lock:
            self.source.commit, self.source.fetched_at, self.source.error = commit, time.time(), ""

    def record_fetch_error(self, error: str) -> None:
        with self._lock:
            self.source.error = error

    def record_leader(self, *, leading: bool, holder: str | None) -> None:
        with self._lock:
            self.leader.leading, self.leader.holder, self.leader.known = leading, holder, True
