"""The controller: decides when to sync, and does it only while leading.

Threads: the fetcher (poll tick with jitter, or woken by a webhook / file change), the worker (takes
batches from the work queue and runs the sync engine), the resync timer, the leader elector, the
watch streams (self-heal triggers), one rollout monitor per new revision, and the HTTP server. A
failure of the Git remote or the apiserver is retried with back-off and never touches live state
beyond what a successful sync would.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import replace
from pathlib import Path

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.leader import LeaderElector, LeaseConfig
from gitops_agent.agent.watchcache import WatchCache
from gitops_agent.agent.workqueue import FULL, Backoff, Batch, WorkQueue
from gitops_agent.apply import ApplyOptions
from gitops_agent.diff import Action, ObjectChange
from gitops_agent.errors import GitopsAgentError
from gitops_agent.events import EventRecorder
from gitops_agent.health import Health, UnitHealth, check_unit, wait_for_health
from gitops_agent.inventory import Inventory, InventoryStore, RevisionResult
from gitops_agent.kube import KubeClient
from gitops_agent.loadcache import load_snapshot
from gitops_agent.logs import fields, get_logger, log_context
from gitops_agent.metrics import Metrics
from gitops_agent.rollback import restore_held, rollback_target, rollback_unit
from gitops_agent.source import DirSource, GitAuth, Snapshot, Source, open_source
from gitops_agent.status import StatusBoard
from gitops_agent.sync import SyncOptions, SyncReport, SyncState, UnitResult, secret_seed, sync

log = get_logger("controller")
SOURCE_KEY = "__source__"
MONITOR_GRACE_SECONDS = 30.0


class Agent:
    """One replica of the running agent."""

    def __init__(self, config: AgentConfig, kube: KubeClient, *, auth: GitAuth | None = None) -> None:
        self.config = config
        self.kube = kube
        self.auth = auth
        self.metrics = Metrics()
        self.board = StatusBoard(repo=config.repo, ref=config.ref)
        self.board.leader["identity"] = config.identity
        self.queue = WorkQueue()
        self.backoff = Backoff()
        self.source: Source = self._open_source(config.ref)
        self.events = EventRecorder(kube, instance=config.identity, state_namespace=config.state_namespace)
        self.watch = WatchCache(kube, on_drift=self._on_drift, on_resume=self._on_apiserver_back)
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

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every loop in the background (the HTTP server is started by the caller)."""
        self._spawn("fetch", self._fetch_loop)
        self._spawn("worker", self._worker_loop)
        self._spawn("resync", self._resync_loop)
        if self.elector is not None:
            self._spawn("leader", lambda: self.elector.run(self.stop_event) if self.elector else None)
        else:
            self._started_leading()
        if isinstance(self.source, DirSource):
            self._spawn("dirwatch", self._watch_files)

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop: the in-flight sync finishes, the Lease is released, loops end."""
        self.stop_event.set()
        self.fetch_now.set()
        self.queue.close()
        self.watch.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _spawn(self, name: str, target: object) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    @property
    def ready(self) -> tuple[bool, str]:
        """Readiness: the source was fetched once and leadership (or standby) is known."""
        if self.board.source.fetched_at is None:
            return False, "repository not fetched yet"
        if self.elector is not None and not self.board.leader["known"]:
            return False, "leader election has not run yet"
        return True, "ok"

    # -- leadership ----------------------------------------------------------------------------

    def _started_leading(self) -> None:
        self.leading.set()
        self.metrics.leader.set(1)
        self.board.leader.update(leading=True, holder=self.config.identity, known=True)
        self.queue.add(FULL)

    def _stopped_leading(self) -> None:
        self.leading.clear()
        self.metrics.leader.set(0)
        self.board.leader.update(leading=False, known=True)

    def _leader_known(self) -> None:
        if self.elector is not None:
            self.board.leader.update(holder=self.elector.holder, known=True)

    # -- triggers ------------------------------------------------------------------------------

    def trigger_fetch(self) -> None:
        """Fetch now (webhook, file change): the sync starts within a second."""
        self.fetch_now.set()

    def _fetch_loop(self) -> None:
        delay = 0.0
        while not self.stop_event.is_set():
            self.fetch_now.wait(delay)
            self.fetch_now.clear()
            if self.stop_event.is_set():
                return
            self._leader_known()
            if self._fetch_once():
                self.backoff.reset(SOURCE_KEY)
                delay = self.config.poll_interval * random.uniform(0.9, 1.1)
            else:
                delay = min(self.config.poll_interval, self.backoff.next_delay(SOURCE_KEY))

    def _fetch_once(self) -> bool:
        started = time.monotonic()
        try:
            snapshot = self.source.fetch()
            version = self.source.content_hash() if isinstance(self.source, DirSource) else snapshot.commit
        except GitopsAgentError as err:
            self.metrics.fetch_failures.inc()
            self.board.source.error = str(err)
            log.warning(
                "fetch failed; live state left as it is: %s", err, extra=fields(repo=self.source.describe())
            )
            return False
        self.metrics.fetch_duration.observe(time.monotonic() - started)
        self.metrics.last_fetch.set(time.time())
        self.metrics.set_source_commit(snapshot.commit)
        self.board.source.commit, self.board.source.fetched_at, self.board.source.error = (
            snapshot.commit,
            time.time(),
            "",
        )
        if version != self._version:
            log.info("new repository content", extra=fields(commit=snapshot.short_commit))
            self.snapshot, self._version = snapshot, version
            self.queue.add(FULL)
        return True

    def _resync_loop(self) -> None:
        while not self.stop_event.wait(self.config.resync_interval):
            self.queue.add(FULL)

    def _watch_files(self) -> None:
        import watchfiles

        assert isinstance(self.source, DirSource)
        for _ in watchfiles.watch(
            self.source.root,
            stop_event=self.stop_event,
            debounce=200,
            step=50,
            rust_timeout=1000,
            yield_on_timeout=False,
        ):
            self.trigger_fetch()

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
        options = SyncOptions(
            state_namespace=self.config.state_namespace,
            apply=ApplyOptions(force_conflicts=self.config.force_conflicts),
            workers=self.config.workers,
            units=None if batch.full else batch.units,
        )
        started = time.monotonic()
        with self._apply_lock, log_context(commit=snapshot.short_commit):
            report = sync(self.kube, snapshot, options, live=self.watch, on_unit=self._on_unit)
        self.metrics.sync_duration.observe(time.monotonic() - started)
        if batch.full:
            self.backoff.reset(FULL)
        self._after_sync(report)
        return report

    def _on_unit(self, result: UnitResult) -> None:
        with log_context(deployment=result.unit, revision=result.revision, commit=result.commit[:12] or None):
            self._count(result)
            assert self.snapshot is not None
            self.board.record_sync(result, self.snapshot)
            if result.state is SyncState.FAILED:
                log.warning("sync failed: %s", result.error)
                self.queue.add_after(result.unit, self.backoff.next_delay(result.unit))
                self._event(result, "SyncFailed", result.error)
                return
            self.backoff.reset(result.unit)
            changed = [c for c in result.changes if c.action in (Action.CREATE, Action.UPDATE)]
            if result.new_revision and result.state is SyncState.SYNCED:
                log.info("revision rolled out", extra=fields(objects=len(changed)))
                commit = result.commit[:12]
                message = f"revision {result.revision} (commit {commit}): {len(changed)} objects applied"
                self._event(result, "RevisionRolledOut", message)
                self._monitor(result)
            elif changed and result.state is SyncState.SYNCED:
                self._drift_corrected(result, changed)
            if result.state is SyncState.SYNCED and not self.board.health_known(result.unit):
                self._first_health(result)

    def _drift_corrected(self, result: UnitResult, changed: list[ObjectChange]) -> None:
        """Owned objects changed outside Git were put back: count, log and tell on the Deployment."""
        self.metrics.drift.labels(result.unit).inc(len(changed))
        log.info("drift corrected", extra=fields(objects=[str(c.key) for c in changed]))
        self._event(result, "DriftCorrected", "put back: " + ", ".join(str(c.key) for c in changed))

    def _count(self, result: UnitResult) -> None:
        self.metrics.set_state(result.unit, result.state.value)
        ok = result.state is not SyncState.FAILED
        self.metrics.syncs.labels(result.unit, "success" if ok else "failure").inc()
        self.metrics.validation_errors.labels(result.unit).set(len(result.problems))
        for change in result.changes:
            self.metrics.objects.labels(result.unit, change.action.value).inc()
        if result.revision is not None:
            self.metrics.set_revision(result.unit, result.revision, result.commit)
        if ok and not result.note:
            self.metrics.last_synced.labels(result.unit).set(time.time())

    def _first_health(self, result: UnitResult) -> None:
        """A deployment first seen without a rollout to monitor (an agent restart): check it once."""
        try:
            self._record_health(check_unit(self.kube, result.unit, result.keys))
        except GitopsAgentError as err:
            log.warning("health check failed: %s", err)

    def _event(self, result: UnitResult, reason: str, message: str) -> None:
        namespace = self.board.namespace_of(result.unit)  # known even when this sync failed to render
        self.events.record(deployment=result.unit, namespace=namespace, reason=reason, message=message)

    def _pruned(self, unit: str, changes: list[ObjectChange]) -> None:
        """A Pruned event on the Deployment; for a teardown (the Deployment went too) in the state
        namespace, about the unit's inventory ConfigMap."""
        self.board.record_prune(unit, changes)
        gone = any(c.key.kind == "Deployment" and c.key.name == unit for c in changes)
        message = f"pruned {len(changes)} objects: " + ", ".join(str(c.key) for c in changes)
        namespace = "" if gone else self.board.namespace_of(unit)
        self.events.record(deployment=unit, namespace=namespace, reason="Pruned", message=message)

    def _after_sync(self, report: SyncReport) -> None:
        namespaces = {k.namespace for u in report.units for k in u.keys if k.namespace}
        self.watch.ensure(namespaces)
        if report.self_heal is not None:  # else keep the last known policy
            self.self_heal = report.self_heal
        pruned: dict[str, list[ObjectChange]] = {}
        for change in report.prune_changes:
            self.metrics.objects.labels(change.unit, change.action.value).inc()
            if change.action is Action.PRUNE:
                pruned.setdefault(change.unit, []).append(change)
        for unit, changes in pruned.items():
            self._pruned(unit, changes)
        self.metrics.repository_problems.set(len(report.problems))
        self.board.record_repository(report.problems)
        if report.prune_refused:
            log.warning("prune refused: %s", report.prune_refused)
        inventories = InventoryStore(self.kube, self.config.state_namespace).load_all()
        for name in self.board.names():
            if name not in inventories and name not in {u.unit for u in report.units}:
                self.board.remove(name)
                self.metrics.forget(name)
        for inventory in inventories.values():
            self.board.record_history(inventory)
        if self.self_heal and self.leading.is_set():
            for result in report.units:
                if result.held and result.unit in inventories:
                    self._heal_held(result, inventories[result.unit])

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
        self.board.record_health(health)
        self.metrics.set_health(health.unit, health.health.value)

    def _roll_back(self, result: UnitResult, reason: str) -> None:
        assert result.revision is not None
        with self._apply_lock:
            try:
                store = InventoryStore(self.kube, self.config.state_namespace)
                inventory = store.load_all()[result.unit]
                target = rollback_target(inventory.history, result.revision)
                snapshot = self._open_source(target.commit).fetch()
                seed = secret_seed(self.kube, SyncOptions(state_namespace=self.config.state_namespace))
                done = rollback_unit(
                    self.kube,
                    snapshot,
                    unit=result.unit,
                    state_namespace=self.config.state_namespace,
                    seed=seed,
                    failed_revision=result.revision,
                    reason=reason,
                )
            except (GitopsAgentError, KeyError) as err:
                log.error("rollback impossible: %s", err)
                self._mark_failed(result, f"{reason}; rollback impossible: {err}")
                return
        self.metrics.rollbacks.labels(result.unit).inc()
        self.metrics.set_health(result.unit, "RolledBack")
        self.metrics.set_revision(result.unit, done.restored.revision, done.restored.commit)
        self.board.set_health(
            result.unit, "RolledBack", f"rolled back to r{done.restored.revision}: {reason}"
        )
        log.warning("rolled back to r%s: %s", done.restored.revision, reason)
        self._event(
            result,
            "RolledBack",
            f"rolled back from r{result.revision} to r{done.restored.revision}: {reason}",
        )
        self.board.record_history(
            InventoryStore(self.kube, self.config.state_namespace).load_all()[result.unit]
        )

    def _heal_held(self, result: UnitResult, inventory: Inventory) -> None:
        """Drift on a deployment held after a rollback: put back the restored revision's objects."""
        target = inventory.last_with(RevisionResult.DEPLOYED)
        if target is None:
            return
        with self._apply_lock, log_context(deployment=result.unit, revision=target.revision):
            try:
                snapshot = self._open_source(target.commit).fetch()
                seed = secret_seed(self.kube, SyncOptions(state_namespace=self.config.state_namespace))
                changes = restore_held(self.kube, snapshot, unit=result.unit, seed=seed, target=target)
            except GitopsAgentError as err:
                log.warning("cannot self-heal the held revision: %s", err)
                return
        if changes:
            self._drift_corrected(result, list(changes))

    def _mark_failed(self, result: UnitResult, reason: str) -> None:
        store = InventoryStore(self.kube, self.config.state_namespace)
        with self._apply_lock:
            inventory = store.load_all().get(result.unit)
            record = (
                next((r for r in inventory.history if r.revision == result.revision), None)
                if inventory
                else None
            )
            if inventory is not None and record is not None and record.result is RevisionResult.DEPLOYED:
                store.save(
                    inventory.record(replace(record, result=RevisionResult.FAILED, reason=reason[:500]))
                )
        self._event(result, "RolloutFailed", reason)


def cache_dir_default() -> Path:
    return Path("/var/cache/gitops-agent")
