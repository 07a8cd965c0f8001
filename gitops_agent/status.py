"""The status model: what the agent knows about each deployment, for the status API, page and CLI.

One thread-safe board that the controller writes after every sync, health check, rollback and fetch,
and that readers turn into JSON. Everything in it is safe to show: names, revisions, commits, commit
messages (escaped by the page), error texts and masked diffs — never Secret values.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from gitops_agent.diff import Action
from gitops_agent.health import UnitHealth
from gitops_agent.inventory import Inventory
from gitops_agent.source import Snapshot
from gitops_agent.sync import UnitResult

DIFF_LIMIT = 64 * 1024


@dataclass
class DeploymentStatus:
    """The latest known state of one deployment."""

    name: str
    revision: int | None = None
    commit: str = ""
    author: str = ""
    message: str = ""
    sync_state: str = "Unknown"
    health: str = "Unknown"
    health_message: str = ""
    last_error: str = ""
    note: str = ""
    last_sync_time: float | None = None
    last_attempt_time: float | None = None
    objects: list[dict[str, str]] = field(default_factory=list)
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


class StatusBoard:
    """Thread-safe store of DeploymentStatus plus source and leadership state."""

    def __init__(self, *, repo: str = "", ref: str = "") -> None:
        self._lock = threading.Lock()
        self._deployments: dict[str, DeploymentStatus] = {}
        self.source = SourceStatus(repo=repo, ref=ref)
        self.leader: dict[str, Any] = {"identity": "", "leading": False, "holder": None, "known": False}

    def _entry(self, name: str) -> DeploymentStatus:
        return self._deployments.setdefault(name, DeploymentStatus(name))

    def record_sync(self, result: UnitResult, snapshot: Snapshot) -> None:
        now = time.time()
        with self._lock:
            entry = self._entry(result.unit)
            entry.sync_state = result.state.value
            entry.last_attempt_time = now
            entry.last_error = result.error
            entry.note = result.note
            if result.revision is not None:
                entry.revision, entry.commit = result.revision, result.commit
            if result.new_revision:
                entry.author, entry.message = snapshot.author, snapshot.message
            if not result.error:
                entry.last_sync_time = now
            if result.changes:
                entry.objects = [{"object": str(c.key), "action": c.action.value} for c in result.changes]
            diff = "".join(c.diff for c in result.changes if c.action is not Action.UNCHANGED)
            if diff:
                entry.last_diff = diff[:DIFF_LIMIT]

    def record_health(self, health: UnitHealth) -> None:
        with self._lock:
            entry = self._entry(health.unit)
            if entry.health != "RolledBack" or health.health.value != "Healthy":
                entry.health = health.health.value
            entry.health_message = health.summary

    def set_health(self, unit: str, health: str, message: str) -> None:
        with self._lock:
            entry = self._entry(unit)
            entry.health, entry.health_message = health, message

    def record_history(self, inventory: Inventory) -> None:
        """Revision history and the current revision's commit details from the cluster's record."""
        with self._lock:
            entry = self._entry(inventory.unit)
            entry.history = [r.to_json() for r in inventory.history]
            current = next((r for r in inventory.history if r.revision == entry.revision), None)
            if current is not None:
                entry.commit, entry.author, entry.message = current.commit, current.author, current.message

    def remove(self, unit: str) -> None:
        with self._lock:
            self._deployments.pop(unit, None)

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
            return {"source": asdict(self.source), "leader": dict(self.leader)}
