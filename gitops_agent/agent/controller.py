"""The controller: decides when to sync, and does it only while leading.

Threads: the fetcher (woken by a trigger: poll, webhook, file change), the worker (takes batches
from the work queue and runs the sync engine), one thread per trigger (`core.triggers`), the leader
elector, the watch streams (self-heal triggers, and what rollouts are judged from), the rollout
tracker (`agent.rollouts`: every Deploying revision to Deployed or DeployFailed), and the HTTP
server. A failure of the Git remote or the apiserver is retried with back-off and never touches live
state beyond what a successful sync would.

The controller never writes a metric, status entry, Event or log line about an outcome itself: it
emits a typed outcome (`agent.outcomes`) and the sinks subscribed below do the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

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
    RevisionDeployed,
    RevisionDeployFailed,
    RevisionDeploying,
    RolledBack,
    SyncFailed,
    UnitRemoved,
    UnitSynced,
)
from gitops_agent.agent.rollouts import Rollout, RolloutTracker
from gitops_agent.agent.sinks.board import BoardSink
from gitops_agent.agent.sinks.events import EventsSink
from gitops_agent.agent.sinks.logs import LogSink
from gitops_agent.agent.sinks.metrics import MetricsSink
from gitops_agent.agent.sinks.notifications import NotificationsSink
from gitops_agent.agent.status import StatusBoard
from gitops_agent.agent.triggers import Doorbell, Interval
from gitops_agent.agent.watchcache import WatchCache
from gitops_agent.agent.workqueue import FULL, Backoff, Batch, WorkQueue
from gitops_agent.core.errors import ClusterError, GitopsAgentError
from gitops_agent.core.logs import get_logger, log_context
from gitops_agent.core.objects import ObjectKey
from gitops_agent.core.triggers import Trigger, TriggerKind
from gitops_agent.engine.apply import ApplyOptions
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.engine.health import Health, Live, UnitHealth
from gitops_agent.kube.client import KubeClient
from gitops_agent.kube.throttle import ThrottleBudget
from gitops_agent.manifests import RepositoryLoad
from gitops_agent.reconcile.changes import changed_units
from gitops_agent.reconcile.rollback import restore_held, roll_back
from gitops_agent.reconcile.sync import (
    PER_UNIT_READS,
    SyncOptions,
    SyncReport,
    SyncState,
    UnitResult,
    sync,
)
from gitops_agent.source import CommitRefusedError, GitAuth, Snapshot, Source, open_source
from gitops_agent.state.inventory import Inventory, RevisionState
from gitops_agent.state.loadcache import load_snapshot
from gitops_agent.state.repository import RepositoryStatus, RepositoryStatusStore
from gitops_agent.state.revisions import RevisionLedger

log = get_logger("controller")
SOURCE_KEY = "__source__"
MONITOR_GRACE_SECONDS = 30.0
APPLIED = (Action.CREATE, Action.UPDATE)
THROTTLED_RETRY_SECONDS = 15.0
"""While the apiserver throttles the client, a failed unit is retried within this (the client's pace
bounds the load, not the back-off), so it is not still waiting minutes after the limits lift."""


def _namespaces(load: RepositoryLoad) -> set[str]:
    """The namespaces the repository's deployments and plain objects say they go to."""
    found = {u.deployment.namespace for u in load.units if u.deployment is not None}
    default = load.settings.namespace if load.settings is not None else ""
    plain = (o.get("metadata", {}).get("namespace") for u in load.units for o in u.plain_objects)
    found |= {str(namespace or default) for namespace in plain}
    return {namespace for namespace in found if namespace}


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
        self.ledger = RevisionLedger(kube, config.state_namespace, config.instance)
        self.repository = RepositoryStatusStore(kube, config.state_namespace, config.instance)
        self._repository_status = RepositoryStatus()
        """The verdict of the last full sync (a sync of a few units keeps its prune refusal)."""
        self.events = EventRecorder(
            kube,
            instance=config.identity,
            state_namespace=config.state_namespace,
            read=self._read_live,
            owner=config.instance,
        )
        self.outcomes = Outcomes()
        self.events_sink = EventsSink(self.events, repository_configmap=self.repository.name)
        for sink in (MetricsSink(self.metrics), BoardSink(self.board), self.events_sink, LogSink()):
            self.outcomes.subscribe(sink)
        self.notifications: NotificationsSink | None = None
        if config.notify is not None and config.notify.enabled:
            self.notifications = NotificationsSink(config.notify, config.repo)
            self.outcomes.subscribe(self.notifications)
        self.tracker = RolloutTracker(
            self._read_live,
            on_health=self._record_health,
            on_settled=self._settled_rollout,
            ready=self._watch_synced,
        )
        self.watch = WatchCache(
            kube, on_drift=self._on_drift, on_change=self.tracker.poke, on_resume=self._on_apiserver_back
        )
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
        self._fetch_retry_at = 0.0
        """While fetches fail: the monotonic time before which poll triggers are ignored."""
        self._announced: dict[str, int] = {}
        """The revision each unit's RevisionDeploying was emitted for (an interrupted sync that is
        retried reports the same new revision again; it is announced once)."""
        self._not_applied: dict[str, int] = {}
        """Per unit, a revision recorded but not applied yet (its first attempt failed: Queued). The
        attempt that applies it deploys it: RevisionDeploying, not drift corrected."""
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
            verifier=cfg.verifier,
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
            instance=self.config.instance,
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every loop in the background (the HTTP server is started by the caller)."""
        self._spawn("fetch", self._fetch_loop)
        self._spawn("worker", self._worker_loop)
        self._spawn("rollouts", lambda: self.tracker.run(self.stop_event))
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
        self.events_sink.drain(max(0.0, min(5.0, deadline - time.monotonic())))
        if self.notifications is not None:  # what is queued gets a last chance, then the threads end
            self.notifications.drain(max(0.0, min(5.0, deadline - time.monotonic())))
            self.notifications.stop()

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
        for unit in self.tracker.tracking():
            self.tracker.forget(unit)  # the new leader tracks them
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
        elif kind is TriggerKind.POLL and time.monotonic() < self._fetch_retry_at:
            return  # fetches are failing: the back-off decides when to try again, not the poll timer
        else:
            self.fetch_now.set()

    def _fetch_loop(self) -> None:
        """Fetch when a trigger fires; after a failure, again after a capped, jittered back-off
        (1 s doubling to 5 min) that a success resets. A push notification still fetches at once."""
        retry: float | None = 0.0  # the first fetch at once; then when a trigger fires
        while not self.stop_event.is_set():
            self.fetch_now.wait(retry)
            self.fetch_now.clear()
            if self.stop_event.is_set():
                return
            self._leader_known()
            if self._fetch_once():
                self.backoff.reset(SOURCE_KEY)
                self._fetch_retry_at, retry = 0.0, None
            else:
                retry = self.backoff.next_delay(SOURCE_KEY)
                self._fetch_retry_at = time.monotonic() + retry

    def _fetch_once(self) -> bool:
        started = time.monotonic()
        try:
            snapshot = self.source.fetch()
            version = self.source.version(snapshot)
        except GitopsAgentError as err:
            refused = isinstance(err, CommitRefusedError)
            self.outcomes.emit(FetchFailed(self.source.describe(), str(err), refused=refused))
            return False
        changed = version != self._version
        self.outcomes.emit(Fetched(snapshot, changed, time.monotonic() - started))
        if changed:
            previous, self.snapshot, self._version = self.snapshot, snapshot, version
            self._queue_changes(previous, snapshot)
        if self.elector is not None and not self.leading.is_set():
            self._refresh_standby_view()
        return True

    def _queue_changes(self, previous: Snapshot | None, snapshot: Snapshot) -> None:
        """The deployments the new commit changed, or everything when Git cannot say (`changed_units`)."""
        try:
            units = changed_units(previous, snapshot)
        except GitopsAgentError as err:
            log.warning("cannot tell what the new commit changed, syncing everything: %s", err)
            units = None
        for unit in (FULL,) if units is None else sorted(units):
            self.queue.add(unit)

    def _refresh_standby_view(self) -> None:
        """A standby shows what the leader recorded in the cluster (inventories, repository verdict);
        the board is marked as a standby's view. Nothing is emitted: metrics and Events are the leader's."""
        try:
            inventories = self.ledger.load_all()
            repository = self.repository.load()
        except ClusterError as err:
            log.warning("cannot read the leader's records: %s", err)
            return
        for name in self.board.names():
            if name not in inventories:
                self.board.remove(name)
        for inventory in inventories.values():
            self.board.record_inventory(inventory)
        if repository is not None:
            self.board.record_repository(repository)

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
                self.outcomes.emit(SyncFailed(str(err)))
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
        # The watch cache holds our objects once its streams run, and cannot tell an absent object
        # from a namesake it does not watch (so each is a GET). The first full sync lists every
        # rendered kind per namespace instead, as a one-shot sync does; the streams start just
        # before it, so its writes reach the cache as they happen (and are no drift: `expect`)
        # instead of in one burst of LISTs after it.
        first = batch.full and not self.watch.watching()
        live = None if first else self.watch
        if first:
            self.watch.ensure(_namespaces(load_snapshot(snapshot)))
        with self._apply_lock, log_context(commit=snapshot.short_commit):
            report = sync(
                self._kube_for_sync(),
                snapshot,
                options,
                live=live,
                on_unit=lambda r: self._on_unit(r, snapshot),
                on_desired=self.watch.expect,
            )
        if batch.full:
            self.backoff.reset(FULL)
        self._after_sync(report, time.monotonic() - started, full=batch.full)
        return report

    def _kube_for_sync(self) -> KubeClient:
        """The client for one sync (or rollback): its requests share one throttling budget."""
        return self.kube.with_budget(ThrottleBudget(self.config.throttle_budget))

    def _on_unit(self, result: UnitResult, snapshot: Snapshot) -> None:
        with log_context(deployment=result.unit, revision=result.revision, commit=result.commit[:12] or None):
            self.outcomes.emit(UnitSynced(result, snapshot))
            if result.state is SyncState.FAILED:
                if result.new_revision and result.revision:
                    self._not_applied[result.unit] = result.revision
                self.queue.add_after(result.unit, self._retry_delay(result.unit))
                return
            self.backoff.reset(result.unit)
            changed = tuple(c for c in result.changes if c.action in APPLIED)
            deploys = result.new_revision or self._not_applied.get(result.unit) == result.revision
            if result.state is SyncState.SYNCED:
                self._not_applied.pop(result.unit, None)
            if deploys and result.state is SyncState.SYNCED:
                if self._announced.get(result.unit) != result.revision:
                    self._announced[result.unit] = result.revision or 0
                    self.outcomes.emit(RevisionDeploying(result, len(changed)))
            elif changed and result.state is SyncState.SYNCED:
                self.outcomes.emit(DriftCorrected(result.unit, changed))
            if result.state is SyncState.SYNCED and not self.board.health_known(result.unit):
                # first seen, maybe without a rollout to track (an agent restart): judged once, from
                # the watch cache once it holds the unit's objects (not a GET per object now)
                self.tracker.observe(result.unit, result.keys)

    def _retry_delay(self, unit: str) -> float:
        """The unit's back-off, capped while the client is being throttled (see THROTTLED_RETRY_SECONDS)."""
        delay = self.backoff.next_delay(unit)
        return min(delay, THROTTLED_RETRY_SECONDS) if self.kube.pacer.throttled else delay

    def _watch_synced(self) -> bool:
        return self.watch.synced()

    def _read_live(self, key: ObjectKey) -> Live | None:
        """From the watch cache; a GET only for kinds or namespaces it does not watch (yet)."""
        known, live = self.watch.lookup(key)
        return live if known else self.kube.get(key.api_version, key.kind, key.name, key.namespace)

    def _after_sync(self, report: SyncReport, seconds: float, *, full: bool) -> None:
        namespaces = {k.namespace for u in report.units for k in u.keys if k.namespace}
        self.watch.ensure(namespaces)
        if report.self_heal is not None:  # else keep the last known policy
            self.self_heal = report.self_heal
        self._emit_pruned(report.prune_changes)
        status = self._repository_verdict(report, full)
        self.outcomes.emit(RepositorySynced(status, seconds))
        with self._apply_lock:  # the rollout tracker writes inventories too: never show an older one
            inventories = self._inventories_after(report, full=full)
            # Every unit of the synced commit stays listed, failing or not, whichever units this
            # sync covered; only a unit gone from Git and from the cluster's records leaves the board
            # (a deployment is only ever torn down by a full sync).
            in_git = {u.name for u in load_snapshot(report.snapshot).units}
            for name in self.board.names() if full else ():
                if name not in inventories and name not in in_git:
                    self.outcomes.emit(UnitRemoved(name))
            for inventory in inventories.values():
                self.outcomes.emit(HistoryLoaded(inventory))
                latest = inventory.latest
                if latest is not None and latest.result is RevisionState.QUEUED:
                    self._not_applied[inventory.unit] = latest.revision
            self._track_rollouts(report, inventories.values())
        if self.self_heal and self.leading.is_set():
            for result in report.units:
                if result.held and result.unit in inventories:
                    self._heal_held(result, inventories[result.unit])

    def _inventories_after(self, report: SyncReport, *, full: bool) -> dict[str, Inventory]:
        """Every inventory after a full sync (one LIST); after a partial one, the synced units' (a GET
        each), so a push of one deployment does not read a thousand inventories."""
        if full or len(report.units) > PER_UNIT_READS:
            return self.ledger.load_all()
        loaded = {u.unit: self.ledger.load(u.unit) for u in report.units}
        return {name: inventory for name, inventory in loaded.items() if inventory is not None}

    def _repository_verdict(self, report: SyncReport, full: bool) -> RepositoryStatus:
        """The repository-level problems and refusal, with the deployments they leave out of sync;
        recorded in the cluster (after a full sync, when it changed) for `status` and standbys."""
        if not full:  # a few units were synced: the last full sync's prune verdict still stands
            last = self._repository_status
            return replace(last, commit=report.snapshot.commit, problems=report.problems)
        blocked = report.prune_blocked if report.settings_loaded else tuple(self.board.names())
        status = RepositoryStatus(
            report.snapshot.commit, report.problems, report.prune_refused, blocked, report.orphaned_volumes
        )
        self._repository_status = status
        try:
            self.repository.save(status)
        except ClusterError as err:
            log.warning("cannot record the repository status: %s", err)
        return status

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

    def _track_rollouts(self, report: SyncReport, inventories: Iterable[Inventory]) -> None:
        """Track every Deploying revision (new ones, and those an earlier leader left Deploying)."""
        if not self.leading.is_set() or self.snapshot is None:
            return
        load = load_snapshot(self.snapshot)
        keys = {u.unit: u.keys for u in report.units if u.keys}
        for inventory in inventories:
            latest = inventory.latest
            if latest is None or latest.result is not RevisionState.DEPLOYING:
                continue
            unit = load.unit(inventory.unit)
            deployment = unit.deployment if unit else None
            if deployment is not None and deployment.suspend:
                self.tracker.forget(inventory.unit)  # left alone: not judged, never rolled back
                continue
            deadline = float(deployment.progress_deadline_seconds) if deployment else 600.0
            self.tracker.track(
                inventory.unit,
                latest.revision,
                keys.get(inventory.unit) or sorted(inventory.keys),
                deadline_seconds=deadline + MONITOR_GRACE_SECONDS,
                auto_rollback=bool(deployment and deployment.auto_rollback),
            )

    def _settled_rollout(self, rollout: Rollout, health: UnitHealth) -> None:
        """A tracked rollout ended: record Deployed, or roll back / DeployFailed (errors: retried)."""
        if not self.leading.is_set():
            return
        if health.health is Health.HEALTHY:
            with self._apply_lock:  # a sync writes the same inventory, and reports it after
                inventory = self.ledger.mark_deployed(rollout.unit, rollout.revision)
                if inventory is not None:
                    commit = getattr(inventory.find(rollout.revision), "commit", "")
                    self.outcomes.emit(RevisionDeployed(rollout.unit, rollout.revision, commit))
                    self.outcomes.emit(HistoryLoaded(inventory))
            return
        reason = f"r{rollout.revision} not healthy: {health.summary}"
        if rollout.auto_rollback:
            self._roll_back(rollout.unit, rollout.revision, reason)
        else:
            self._mark_failed(rollout.unit, rollout.revision, reason)

    def _record_health(self, health: UnitHealth) -> None:
        self.outcomes.emit(HealthChanged(health))

    def _roll_back(self, unit: str, revision: int, reason: str) -> None:
        with self._apply_lock:
            try:
                done = roll_back(
                    self._kube_for_sync(),
                    self._snapshot_at,
                    self._sync_options(),
                    unit=unit,
                    failed_revision=revision,
                    reason=reason,
                    live=self.watch,
                )
            except ClusterError:
                raise  # the apiserver is away: the tracker tries again
            except GitopsAgentError as err:
                self._mark_failed(unit, revision, f"{reason}; rollback impossible: {err}")
                return
            self._emit_pruned([c for c in done.changes if c.action is Action.PRUNE])
            self.outcomes.emit(RolledBack(unit, revision, done.restored, reason, done.prune_refused))
            inventory = self.ledger.load(unit)
            if inventory is not None:
                self.outcomes.emit(HistoryLoaded(inventory))

    def _heal_held(self, result: UnitResult, inventory: Inventory) -> None:
        """Drift on a deployment held after a rollback: put back the restored revision's objects."""
        target = inventory.last_with(RevisionState.DEPLOYED)
        if target is None:
            return
        with self._apply_lock, log_context(deployment=result.unit, revision=target.revision):
            try:
                done = restore_held(
                    self._kube_for_sync(),
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

    def _mark_failed(self, unit: str, revision: int, reason: str) -> None:
        with self._apply_lock:
            inventory = self.ledger.mark_rollout_failed(unit, revision, reason)
            self.outcomes.emit(RevisionDeployFailed(unit, revision, reason))
            if inventory is not None:
                self.outcomes.emit(HistoryLoaded(inventory))
