"""What happened, as typed records: the controller emits each once, and every sink subscribes.

The controller decides; it never writes a metric, a status entry, an Event or a log line about an
outcome itself. It emits one record per thing that happened, and `Outcomes` hands it to each sink
in turn (metrics, the status board, Kubernetes Events, logs — see `agent/sinks/`). Adding a sink is
one new module with a `handle(outcome)` method, subscribed in `Agent.__init__`. A sink that fails is
logged and skipped; it never stops the others or the controller.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from gitops_agent.core.logs import get_logger
from gitops_agent.engine.diff import ObjectChange
from gitops_agent.engine.health import UnitHealth
from gitops_agent.reconcile.sync import UnitResult
from gitops_agent.source import Snapshot
from gitops_agent.state.inventory import Inventory, RevisionRecord
from gitops_agent.state.repository import RepositoryStatus

log = get_logger("outcomes")


@dataclass(frozen=True)
class Fetched:
    """The source was fetched (`changed`: new content that will be synced)."""

    snapshot: Snapshot
    changed: bool
    seconds: float


@dataclass(frozen=True)
class FetchFailed:
    """The source could not be fetched; live state is left as it is."""

    source: str
    error: str
    refused: bool = False
    """The newest commit was fetched but refused: not signed by a trusted key (`--verify-commits`)."""


@dataclass(frozen=True)
class UnitSynced:
    """A unit's sync finished: Synced, OutOfSync (held, drift left alone) or Failed."""

    result: UnitResult
    snapshot: Snapshot


@dataclass(frozen=True)
class RevisionDeploying:
    """A new revision's objects were applied; its rollout is tracked next."""

    result: UnitResult
    applied: int


@dataclass(frozen=True)
class RevisionDeployed:
    """A Deploying revision became healthy (the one before it is Superseded)."""

    unit: str
    revision: int
    commit: str


@dataclass(frozen=True)
class DriftCorrected:
    """Owned objects changed outside Git were put back."""

    unit: str
    changes: tuple[ObjectChange, ...]


@dataclass(frozen=True)
class Pruned:
    """A prune handled the unit's objects that left the render (deleted, or skipped and why).

    `torn_down`: the unit's Deployment went too (its file was removed).
    """

    unit: str
    changes: tuple[ObjectChange, ...]
    torn_down: bool


@dataclass(frozen=True)
class RepositorySynced:
    """A whole sync run ended: repository-level problems and a refused prune, if any, and the
    deployments they leave out of sync."""

    status: RepositoryStatus
    seconds: float


@dataclass(frozen=True)
class SyncFailed:
    """A whole sync could not run (the apiserver is away, the state namespace unreadable); it is
    retried with back-off."""

    error: str


@dataclass(frozen=True)
class HealthChanged:
    health: UnitHealth


@dataclass(frozen=True)
class RolledBack:
    unit: str
    failed_revision: int
    restored: RevisionRecord
    reason: str
    prune_refused: str = ""
    """Objects only the failed revision had were left in place (the prune policy refused)."""


@dataclass(frozen=True)
class RevisionDeployFailed:
    """A revision did not become healthy and was not rolled back (or could not be)."""

    unit: str
    revision: int
    reason: str


@dataclass(frozen=True)
class HistoryLoaded:
    """The cluster's record of a unit (revision history), read after a sync or rollback."""

    inventory: Inventory


@dataclass(frozen=True)
class UnitRemoved:
    """A unit is gone from both the repository and the cluster's records."""

    unit: str


@dataclass(frozen=True)
class LeadershipChanged:
    leading: bool
    holder: str | None


Outcome = (
    Fetched
    | FetchFailed
    | UnitSynced
    | RevisionDeploying
    | RevisionDeployed
    | DriftCorrected
    | Pruned
    | RepositorySynced
    | SyncFailed
    | HealthChanged
    | RolledBack
    | RevisionDeployFailed
    | HistoryLoaded
    | UnitRemoved
    | LeadershipChanged
)


class Sink(Protocol):
    """Turns outcomes into one kind of signal; ignores the outcomes it has nothing to say about."""

    def handle(self, outcome: Outcome) -> None: ...


class Outcomes:
    """The fan-out: each emitted outcome goes to every sink, in subscription order."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()

    def subscribe(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def emit(self, outcome: Outcome) -> None:
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink.handle(outcome)
            except Exception:
                log.exception("sink %s failed on %s", type(sink).__name__, type(outcome).__name__)
