"""The controller: decides when to sync, and does it only while leading.

Threads: the fetcher (woken by a trigger: poll, webhook, file change), the worker (takes batches
from the work queue and runs the sync engine), one thread per trigger (`core.triggers`), the leader
elector, the watch streams (self-heal triggers), one rollout monitor per new revision, and the HTTP
server. A failure of the Git remote or the apiserver is retried with back-off and never touches live
state beyond what a successful sync would.

The controller never writes a metric, status entry, Event or log line about an outcome itself: it
emits a typed outcome (`agent.outcomes`) and the sinks subscribed below do the rest.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.events import EventRecorder
from gitops_agent.agent.leader import LeaderElector, LeaseConfig
from gitops_agent.agent.metrics import Metrics
from gitops_agent.agent.outcomes import (
    DriftCorrected,
    Fetched,
    FetchFailed,
    HealthChanged,
    HistoryLoaded,
    LeadershipChanged,
    Outcomes,
    Pruned,
    RepositorySynced,
    RevisionRolledOut,
    RolledBack,
    RolloutFailed,
    UnitRemoved,
    UnitSynced,
)
from gitops_agent.agent.sinks.board import BoardSink
from gitops_agent.agent.sinks.events import EventsSink
from gitops_agent.agent.sinks.logs import LogSink
from gitops_agent.agent.sinks.metrics import MetricsSink
from gitops_agent.agent.status import StatusBoard
from gitops_agent.agent.triggers import Doorbell, Interval
from gitops_agent.agent.watchcache import WatchCache
from gitops_agent.agent.workqueue import FULL, Backoff, Batch, WorkQueue
from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.core.logs import get_logger, log_context
from gitops_agent.core.triggers import Trigger, TriggerKind
from gitops_agent.engine.apply import ApplyOptions
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.engine.health import Health, UnitHealth, check_unit, wait_for_health
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.rollback import restore_held, roll_back
from gitops_agent.reconcile.sync import SyncOptions, SyncReport, SyncState, UnitResult, sync
from gitops_agent.source import GitAuth, Snapshot, Source, open_source
from gitops_agent.state.inventory import Inventory, RevisionResult
from gitops_agent.state.loadcache import load_snapshot
from gitops_agent.state.revisions import RevisionLedger

log = get_logger("controller")
SOURCE_KEY = "__source__"
MONITOR_GRACE_SECONDS = 30.0
APPLIED = (Action.CREATE, Action.UPDATE)


class Agent:
    """One replica of the running agent."""

    def __init__(self, config: AgentConfig, kube: KubeClient, *, auth: GitAuth | None = None) -> None:
        self.config = config
        self.kube = kube
        self.auth = auth
        self.metrics = Metrics()
        self.board = StatusBoard(repo=config.repo, ref=config.ref)
        self.board.leader.identity = config.identity
        self.queue = WorkQueue()
        self.backoff = Backoff()
        self.source: Source = self._open_source(config.ref)
        self.ledger = RevisionLedger(kube, config.state_namespace)
        self.events = EventRecorder(kube, instance=config.identity, state_namespace=config.state_namespace)
        self.outcomes = Outcomes()
        for sink in (MetricsSink(self.metrics), BoardSink(self.board), EventsSink(self.events), LogSink()):
            self.outcomes.subscribe(sink)
        self.watch = WatchCache(kube, on_drift=self._on_drift, on_resume=self._on_apiserver_back)
        self.doorbell = Doorbell()
        self.triggers: list[Trigger] = [
            Interval(TriggerKind.POLL, config.poll_interval, jitter=0.1),
            Interval(TriggerKind.RESYNC, config.resync_interval),
            self.doorbell,
        ]
        change_trigger = self.source.change_trigger()
        if change_trigger is not None:
            self.triggers.append(change_trigger)
        self.stop_event = threading.Event()
        self.fetch_now = threading.Event()
        self.leading = threading.Event()
        self.snapshot: Snapshot | None = None
        self.self_heal = True
        self._version: str | None = None
        self._apply_lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self.elector = (
            LeaderElector(
                kube,
                LeaseConfig(
                    config.lease_name,
                    config.state_namespace,
                    config.identity,
                    lease_duration=config.lease_duration,
                    renew_deadline=config.lease_duration * 2 / 3,
                    retry_period=max(0.5, config.lease_duration / 7.5),
                ),
                on_started_leading=self._started_leading,
                on_stopped_leading=self._stopped_leading,
            )
            if config.leader_elect
            else None
        )

    def _open_source(self, ref: str) -> Source:
        cfg = self.config
        return open_source(
            cfg.repo,
            ref=ref,
            sub_path=cfg.sub_path,
            cache_dir=cfg.cache_dir,
            auth=self.auth,
            use_git=cfg.use_git,
        )

    def _snapshot_at(self, commit: str) -> Snapshot:
        """The repository checked out at `commit` (a rollback target)."""
        return self._open_source(commit).fetch()

    def _sync_options(self, units: frozenset[str] | None = None) -> SyncOptions:
        return SyncOptions(
            state_namespace=self.config.state_namespace,
            apply=ApplyOptions(force_conflicts=self.config.force_conflicts),
            workers=self.config.workers,
            units=units,
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every loop in the background (the HTTP server is started by the caller)."""
        self._spawn("fetch", self._fetch_loop)
        self._spawn("worker", self._worker_loop)
        for trigger in self.triggers:
            self._spawn(f"trigger-{trigger.kind}", self._run_trigger(trigger))
        if self.elector is not None:
            self._spawn("leader", lambda: self.elector.run(self.stop_event) if self.elector else None)
        else:
            self._started_leading()

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop: the in-flight sync finishes, the Lease is released, loops end."""
        self.stop_event.set()
        self.fetch_now.set()
        self.queue.close()
        self.watch.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _spawn(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    @property
    def ready(self) -> tuple[bool, str]:
        """Readiness: the source was fetched once and leadership (or standby) is known."""
        if self.board.source.fetched_at is None:
            return False, "repository not fetched yet"
        if self.elector is not None and not self.board.leader.known:
            return False, "leader election has not run yet"
        return True, "ok"

    # -- leadership ----------------------------------------------------------------------------

    def _started_leading(self) -> None:
        self.leading.set()
        self.outcomes.emit(LeadershipChanged(True, self.config.identity))
        self.queue.add(FULL)

    def _stopped_leading(self) -> None:
        self.leading.clear()
        self.outcomes.emit(LeadershipChanged(False, self.elector.holder if self.elector else None))

    def _leader_known(self) -> None:
        if self.elector is not None:
            self.outcomes.emit(LeadershipChanged(self.leading.is_set(), self.elector.holder))

    # -- triggers ------------------------------------------------------------------------------

    def trigger_fetch(self) -> None:
        """Fetch now (webhook, control-plane commit): the sync starts within a second."""
        self.doorbell.ring()

    def _run_trigger(self, trigger: Trigger) -> Callable[[], None]:
        return lambda: trigger.run(self._on_trigger, self.stop_event)

    def _on_trigger(self, kind: TriggerKind) -> None:
        if kind is TriggerKind.RESYNC:
            self.queue.add(FULL)
        else:
            self.fetch_now.set()

    def _fetch_loop(self) -> None:
        retry: float | None = 0.0  # the first fetch at once; then when a trigger fires
        while not self.stop_event.is_set():
            self.fetch_now.wait(retry)
            self.fetch_now.clear()
            if self.stop_event.is_set():
                return
            self._leader_known()
            if self._fetch_once():
                self.backoff.reset(SOURCE_KEY)
                retry = None
            else:
                retry = min(self.config.poll_interval, self.backoff.next_delay(SOURCE_KEY))

    def _fetch_once(self) -> bool:
        started = time.monotonic()
        try:
            snapshot = self.source.fetch()
            version = self.source.version(snapshot)
        except GitopsAgentError as err:
            self.outcomes.emit(FetchFailed(self.source.describe(), str(err)))
            return False
        changed = version != self._version
        self.outcomes.emit(Fetched(snapshot, changed, time.monotonic() - started))
        if changed:
            self.snapshot, self._version = snapshot, version
            self.queue.add(FULL)
        return True

    def _on_apiserver_back(self) -> None:
        """The watches reconnected after an outage: retry everything now, not after the back-off."""
        self.backoff.reset(FULL)
        self.queue.add(FULL)

    def _on_drift(self, unit: str) -> None:
        if self.self_heal:
            self.queue.add(unit)

    # -- syncing -------------------------------------------------------------------------------

    def _worker_loop(self) -> None:
        while not self.stop_event.is_set():
            batch = self.queue.get(timeout=1.0)
            if batch is None:
                continue
            if not self.leading.is_set() or self.snapshot is None:
                continue  # a new leader starts with a full sync; nothing is lost by dropping this
            try:
                self.run_sync(batch)
            except GitopsAgentError as err:
                log.warning("sync failed, retrying with back-off: %s", err)
                self.queue.add_after(FULL, self.backoff.next_delay(FULL))

    def run_sync_all(self) -> SyncReport:
        """A full sync now, on the calling thread (the worker loop takes the same path via the queue)."""
        return self.run_sync(Batch(frozenset(), full=True))

    def run_sync(self, batch: Batch) -> SyncReport:
        """One sync of the batch's units (all of them for a full batch)."""
        assert self.snapshot is not None
        snapshot = self.snapshot
        options = self._sync_options(None if batch.full else batch.units)
        started = time.monotonic()
        with self._apply_lock, log_context(commit=snapshot.short_commit):
            report = sync(
                self.kube, snapshot, options, live=self.watch, on_unit=lambda r: self._on_unit(r, snapshot)
            )
        if batch.full:
            self.backoff.reset(FULL)
        self._after_sync(report, time.monotonic() - started)
        return report

    def _on_unit(self, result: UnitResult, snapshot: Snapshot) -> None:
        with log_context(deployment=result.unit, revision=result.revision, commit=result.commit[:12] or None):
            self.outcomes.emit(UnitSynced(result, snapshot))
            if result.state is SyncState.FAILED:
                self.queue.add_after(result.unit, self.backoff.next_delay(result.unit))
                return
            self.backoff.reset(result.unit)
            changed = tuple(c for c in result.changes if c.action in APPLIED)
            if result.new_revision and result.state is SyncState.SYNCED:
                self.outcomes.emit(RevisionRolledOut(result, len(changed)))
                self._monitor(result)
            elif changed and result.state is SyncState.SYNCED:
                self.outcomes.emit(DriftCorrected(result.unit, changed))
            if result.state is SyncState.SYNCED and not self.board.health_known(result.unit):
                self._first_health(result)

    def _first_health(self, result: UnitResult) -> None:
        """A deployment first seen without a rollout to monitor (an agent restart): check it once."""
        try:
            self._record_health(check_unit(self.kube, result.unit, result.keys))
        except GitopsAgentError as err:
            log.warning("health check failed: %s", err)

    def _after_sync(self, report: SyncReport, seconds: float) -> None:
        namespaces = {k.namespace for u in report.units for k in u.keys if k.namespace}
        self.watch.ensure(namespaces)
        if report.self_heal is not None:  # else keep the last known policy
            self.self_heal = report.self_heal
        self._emit_pruned(report.prune_changes)
        self.outcomes.emit(RepositorySynced(report.problems, report.prune_refused, seconds))
        inventories = self.ledger.load_all()
        synced = {u.unit for u in report.units}
        for name in self.board.names():
            if name not in inventories and name not in synced:
                self.outcomes.emit(UnitRemoved(name))
        for inventory in inventories.values():
            self.outcomes.emit(HistoryLoaded(inventory))
        if self.self_heal and self.leading.is_set():
            for result in report.units:
                if result.held and result.unit in inventories:
                    self._heal_held(result, inventories[result.unit])

    def _emit_pruned(self, changes: Iterable[ObjectChange]) -> None:
        by_unit: dict[str, list[ObjectChange]] = {}
        for change in changes:
            by_unit.setdefault(change.unit, []).append(change)
        for unit, unit_changes in by_unit.items():
            torn_down = any(
                c.action is Action.PRUNE and c.key.kind == "Deployment" and c.key.name == unit
                for c in unit_changes
            )
            self.outcomes.emit(Pruned(unit, tuple(unit_changes), torn_down))

    # -- rollouts ------------------------------------------------------------------------------

    def _monitor(self, result: UnitResult) -> None:
        assert self.snapshot is not None
        unit = load_snapshot(self.snapshot).unit(result.unit)
        deployment = unit.deployment if unit else None
        deadline = float(deployment.progress_deadline_seconds) if deployment else 600.0
        auto_rollback = bool(deployment and deployment.auto_rollback)
        self._spawn(f"rollout-{result.unit}", lambda: self._watch_rollout(result, deadline, auto_rollback))

    def _watch_rollout(self, result: UnitResult, deadline: float, auto_rollback: bool) -> None:
        units = {result.unit: result.keys}
        final = wait_for_health(
            self.kube,
            units,
            timeout_seconds=deadline + MONITOR_GRACE_SECONDS,
            on_progress=self._record_health,
            clock=self._monitor_clock,
            sleep=self._pause,
        )[result.unit]
        self._record_health(final)
        if final.health is Health.HEALTHY or self.stop_event.is_set():
            return
        reason = f"r{result.revision} not healthy: {final.summary}"
        with log_context(deployment=result.unit, revision=result.revision):
            if auto_rollback and self.leading.is_set():
                self._roll_back(result, reason)
            else:
                self._mark_failed(result, reason)

    def _monitor_clock(self) -> float:
        """Monotonic time that jumps past every deadline once the agent stops (monitors end at once)."""
        return math.inf if self.stop_event.is_set() else time.monotonic()

    def _pause(self, seconds: float) -> None:
        """Sleep that a stop cuts short."""
        self.stop_event.wait(seconds)

    def _record_health(self, health: UnitHealth) -> None:
        self.outcomes.emit(HealthChanged(health))

    def _roll_back(self, result: UnitResult, reason: str) -> None:
        assert result.revision is not None
        with self._apply_lock:
            try:
                done = roll_back(
                    self.kube,
                    self._snapshot_at,
                    self._sync_options(),
                    unit=result.unit,
                    failed_revision=result.revision,
                    reason=reason,
                    live=self.watch,
                )
            except GitopsAgentError as err:
                self._mark_failed(result, f"{reason}; rollback impossible: {err}")
                return
        pruned = [c for c in done.changes if c.action is Action.PRUNE]
        self._emit_pruned(pruned)
        self.outcomes.emit(
            RolledBack(result.unit, result.revision, done.restored, reason, done.prune_refused)
        )
        inventory = self.ledger.load(result.unit)
        if inventory is not None:
            self.outcomes.emit(HistoryLoaded(inventory))

    def _heal_held(self, result: UnitResult, inventory: Inventory) -> None:
        """Drift on a deployment held after a rollback: put back the restored revision's objects."""
        target = inventory.last_with(RevisionResult.DEPLOYED)
        if target is None:
            return
        with self._apply_lock, log_context(deployment=result.unit, revision=target.revision):
            try:
                done = restore_held(
                    self.kube,
                    self._snapshot_at,
                    self._sync_options(),
                    unit=result.unit,
                    target=target,
                    live=self.watch,
                )
            except GitopsAgentError as err:
                log.warning("cannot self-heal the held revision: %s", err)
                return
            changed = tuple(c for c in done.changes if c.action in APPLIED)
            if changed:
                self.outcomes.emit(DriftCorrected(result.unit, changed))

    def _mark_failed(self, result: UnitResult, reason: str) -> None:
        assert result.revision is not None
        with self._apply_lock:
            self.ledger.mark_rollout_failed(result.unit, result.revision, reason)
        self.outcomes.emit(RolloutFailed(result.unit, result.revision, reason))
