"""The reconciler: one straight line from a snapshot of the repository to a converged cluster.

    load/validate → render → plan (dry-run) → apply → prune → inventory + revision history

Each unit (a deployment, or the plain `manifests/` folder) is synced on its own: a unit that fails
to load, render, plan or apply is reported with its reason and leaves its live objects as they were,
while every other unit still syncs. Pruning runs after all units, behind the guards in `prune`.
Nothing is written when nothing changed: not the objects, not the inventories.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC
from functools import partial
from typing import Any

from gitops_agent.apply import (
    ApplyOptions,
    PlannedObject,
    apply_plan,
    plan_object,
    unchanged_without_requests,
)
from gitops_agent.diff import Action, ObjectChange
from gitops_agent.errors import ClusterError, GitopsAgentError
from gitops_agent.inventory import (
    Inventory,
    InventoryEntry,
    InventoryStore,
    RevisionRecord,
    RevisionResult,
    next_revision,
)
from gitops_agent.kube import KubeClient
from gitops_agent.live import ListedLive, LiveView, NoLiveView
from gitops_agent.loadcache import load_snapshot
from gitops_agent.manifests import RenderedUnit, RepositoryLoad, render_unit, stamp_revision
from gitops_agent.manifests.objects import ObjectKey
from gitops_agent.prune import PrunePolicy, PruneRefusedError, check_guards, plan_prune, prune_entry
from gitops_agent.seed import load_or_create_seed
from gitops_agent.source import Snapshot

DEFAULT_STATE_NAMESPACE = "gitops-agent"


class SyncState(enum.StrEnum):
    """Where a unit stands after a sync (or a dry run)."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    FAILED = "Failed"


@dataclass(frozen=True)
class SyncOptions:
    """Knobs of one sync run (CLI flags and settings merged by the caller)."""

    state_namespace: str = DEFAULT_STATE_NAMESPACE
    dry_run: bool = False
    prune: bool | None = None
    """Prune objects that left the render; None follows the settings file (sync.prune.enabled)."""
    allow_mass_prune: bool = False
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    workers: int = 8
    units: frozenset[str] | None = None
    """Sync only these units (None: all); deployments are torn down only by a full sync."""
    self_heal: bool | None = None
    """Re-apply owned objects changed outside Git; None follows the settings (sync.selfHeal)."""


@dataclass(frozen=True)
class UnitResult:
    """The outcome for one unit."""

    unit: str
    state: SyncState
    changes: tuple[ObjectChange, ...] = ()
    revision: int | None = None
    commit: str = ""
    new_revision: bool = False
    error: str = ""
    keys: tuple[ObjectKey, ...] = ()
    note: str = ""
    """Why an OutOfSync unit was left as it is (held after a rollback, self-heal off)."""
    problems: tuple[str, ...] = ()
    """The unit's load/validation problems (file:line:col: field: message), when it has any."""
    held: bool = False
    """Held at its restored revision after a rollback (the repository's spec is the failed one)."""


@dataclass(frozen=True)
class SyncReport:
    """Everything one sync did (or would do), for the CLI, metrics, events and the status API."""

    snapshot: Snapshot
    units: tuple[UnitResult, ...]
    problems: tuple[str, ...] = ()
    prune_changes: tuple[ObjectChange, ...] = ()
    prune_refused: str = ""
    self_heal: bool | None = None
    """The self-heal policy this sync applied (None when the settings file did not load)."""

    @property
    def ok(self) -> bool:
        """True when the repository loaded cleanly and every unit synced."""
        return not self.problems and all(u.state is not SyncState.FAILED for u in self.units)

    @property
    def changes(self) -> list[ObjectChange]:
        return [c for u in self.units for c in u.changes] + list(self.prune_changes)


@dataclass
class _Run:
    """State shared by the units of one sync."""

    kube: KubeClient
    snapshot: Snapshot
    options: SyncOptions
    store: InventoryStore
    inventories: dict[str, Inventory]
    pool: ThreadPoolExecutor
    live: LiveView = field(default_factory=NoLiveView)
    missing_namespaces: frozenset[str] = frozenset()
    pending: dict[str, Inventory] = field(default_factory=dict)
    repo_units: frozenset[str] = frozenset()
    self_heal: bool = True
    on_unit: Callable[[UnitResult], None] | None = None

    def report(self, result: UnitResult) -> UnitResult:
        if self.on_unit:
            self.on_unit(result)
        return result


def sync(
    kube: KubeClient,
    snapshot: Snapshot,
    options: SyncOptions,
    *,
    live: LiveView | None = None,
    on_unit: Callable[[UnitResult], None] | None = None,
) -> SyncReport:
    """Converge the cluster to `snapshot` (or, with dry_run, report what that would change)."""
    load = load_snapshot(snapshot)
    problems = tuple(str(p) for p in load.problems)
    if load.settings is None:
        return SyncReport(snapshot, (), problems or ("the settings file is invalid",))
    store = InventoryStore(kube, options.state_namespace)
    with ThreadPoolExecutor(options.workers * 2, thread_name_prefix="object") as pool:
        run = _Run(kube, snapshot, options, store, store.load_all(), pool, on_unit=on_unit)
        run.repo_units = frozenset(u.name for u in load.units)
        run.self_heal = load.settings.sync.self_heal if options.self_heal is None else options.self_heal
        rendered, results = _render_all(run, load, secret_seed(kube, options))
        run.live = live or ListedLive.prefetch(kube, _keys_to_look_up(rendered, run.inventories))
        namespaces = {o.key.namespace for r in rendered for o in r.objects if o.key.namespace}
        run.missing_namespaces = _missing_namespaces(kube, namespaces)
        with ThreadPoolExecutor(options.workers, thread_name_prefix="unit") as unit_pool:
            results += unit_pool.map(lambda r: _sync_unit(run, r), rendered)
        prune_changes, refused = _prune(run, load, results)
        _save_inventories(run)
    results.sort(key=lambda r: r.unit)
    return SyncReport(snapshot, tuple(results), problems, tuple(prune_changes), refused, run.self_heal)


# -- render ------------------------------------------------------------------------------------


def _render_all(run: _Run, load: RepositoryLoad, seed: bytes) -> tuple[list[RenderedUnit], list[UnitResult]]:
    """Render the selected units; invalid ones become Failed results (and keep their live objects)."""
    assert load.settings is not None
    rendered: list[RenderedUnit] = []
    failed: list[UnitResult] = []
    for unit in load.units:
        if run.options.units is not None and unit.name not in run.options.units:
            continue
        try:
            if not unit.valid:
                problems = tuple(str(p) for p in unit.problems)
                failed.append(
                    run.report(
                        UnitResult(unit.name, SyncState.FAILED, error="; ".join(problems), problems=problems)
                    )
                )
                continue
            rendered.append(render_unit(unit, load.settings, secret_seed=seed))
        except GitopsAgentError as err:
            failed.append(run.report(UnitResult(unit.name, SyncState.FAILED, error=str(err))))
    return rendered, failed


def _keys_to_look_up(rendered: Iterable[RenderedUnit], inventories: dict[str, Inventory]) -> list[ObjectKey]:
    keys = [o.key for r in rendered for o in r.objects]
    return keys + [e.key for inv in inventories.values() for e in inv.objects]


def secret_seed(kube: KubeClient, options: SyncOptions) -> bytes:
    """The password seed (see `gitops_agent.seed`); a dry run never creates it."""
    return load_or_create_seed(kube, options.state_namespace, create=not options.dry_run)


def _missing_namespaces(kube: KubeClient, namespaces: set[str]) -> frozenset[str]:
    """Target namespaces that do not exist: their units fail (namespaces are the operator's to create)."""
    return frozenset(ns for ns in sorted(namespaces) if kube.get("v1", "Namespace", ns) is None)


# -- one unit ----------------------------------------------------------------------------------


def _sync_unit(run: _Run, rendered: RenderedUnit) -> UnitResult:
    """Plan, apply and record one unit; errors fail this unit only."""
    inventory = run.inventories.get(rendered.name)
    revision, is_new = next_revision(inventory, rendered.spec_hash)
    latest = inventory.latest if inventory else None
    if latest is not None and not is_new and latest.result is RevisionResult.ROLLED_BACK:
        return run.report(_held(rendered.name, inventory, latest))
    commit = latest.commit if latest is not None and not is_new else run.snapshot.commit
    manifests = stamp_revision(rendered, revision=revision, commit=commit)
    keys = tuple(ObjectKey.of(m) for m in manifests)
    deployed = latest is not None and not is_new and latest.result is RevisionResult.DEPLOYED
    result = UnitResult(rendered.name, SyncState.SYNCED, (), revision, commit, is_new, keys=keys)
    record = partial(_record, run, rendered, revision=revision, is_new=is_new, inventory=inventory)
    applied: list[PlannedObject] = []
    try:
        staged = [(obj.stage, m) for obj, m in zip(rendered.objects, manifests, strict=True)]
        plan = _plan(run, rendered.name, staged, fast=deployed)
        result = replace(result, changes=tuple(p.change() for p in plan))
        unchanged = all(c.action is Action.UNCHANGED for c in result.changes)
        if run.options.dry_run or (deployed and not unchanged and not run.self_heal):
            note = "" if run.options.dry_run else "drift left alone: self-heal is off"
            return run.report(
                replace(result, state=SyncState.SYNCED if unchanged else SyncState.OUT_OF_SYNC, note=note)
            )
        done = apply_plan(
            run.kube,
            run.pool,
            plan,
            options=run.options.apply,
            on_applied=lambda p, live: applied.append(replace(p, live=live)),
        )
    except GitopsAgentError as err:
        _remember(
            run, rendered.name, inventory, applied, record(result=RevisionResult.FAILED, reason=str(err))
        )
        return run.report(replace(result, state=SyncState.FAILED, changes=(), error=str(err)))
    applied_any = not unchanged
    _remember(
        run, rendered.name, inventory, done, record(result=RevisionResult.DEPLOYED, applied_any=applied_any)
    )
    return run.report(result)


def _held(unit: str, inventory: Inventory | None, latest: RevisionRecord) -> UnitResult:
    """A rolled-back revision is not applied again until the deployment's rendered spec changes."""
    live = inventory.last_with(RevisionResult.DEPLOYED) if inventory else None
    keys = tuple(e.key for e in inventory.objects) if inventory else ()
    note = (
        f"held at r{live.revision if live else '?'}: r{latest.revision} was rolled back; waiting for a change"
    )
    return UnitResult(
        unit,
        SyncState.OUT_OF_SYNC,
        (),
        live.revision if live else None,
        live.commit if live else "",
        False,
        keys=keys,
        note=note,
        held=True,
    )


def _plan(
    run: _Run, unit: str, staged: Sequence[tuple[int, dict[str, Any]]], *, fast: bool
) -> list[PlannedObject]:
    """Plan every object of the unit concurrently (the first error fails the unit, nothing written)."""

    def plan_one(stage: int, manifest: dict[str, Any]) -> PlannedObject:
        key = ObjectKey.of(manifest)
        if key.namespace in run.missing_namespaces:
            raise ClusterError(
                f"{key}: namespace {key.namespace!r} does not exist; create it and grant the agent access "
                "(gitops-agent never creates or deletes namespaces)",
                retryable=True,
            )
        known, live = run.live.lookup(key)
        if fast and live is not None:
            quick = unchanged_without_requests(unit, stage, manifest, live)
            if quick is not None:
                return quick
        return plan_object(
            run.kube,
            unit=unit,
            stage=stage,
            desired=manifest,
            options=run.options.apply,
            live=live,
            live_known=known,
        )

    futures = [run.pool.submit(plan_one, stage, manifest) for stage, manifest in staged]
    return [future.result() for future in futures]


def _record(
    run: _Run,
    rendered: RenderedUnit,
    *,
    revision: int,
    is_new: bool,
    result: RevisionResult,
    reason: str = "",
    inventory: Inventory | None,
    applied_any: bool = True,
) -> RevisionRecord | None:
    """The history entry to write, or None when the history does not change.

    A failed re-apply of a deployed revision is reported, not re-labelled; a revision marked Failed
    because it never became healthy stays Failed when a resync finds nothing to apply.
    """
    latest = inventory.latest if inventory else None
    if not is_new and latest is not None:
        if latest.result is RevisionResult.DEPLOYED or latest.result is result:
            return None
        if latest.result is RevisionResult.FAILED and not applied_any:
            return None
        return replace(latest, result=result, reason=reason[:500])
    snap = run.snapshot
    return RevisionRecord(
        revision=revision,
        commit=snap.commit,
        spec_hash=rendered.spec_hash,
        author=snap.author,
        message=snap.message,
        time=snap.time.astimezone(UTC).isoformat(timespec="seconds"),
        result=result,
        reason=reason[:500],
    )


def _remember(
    run: _Run,
    unit: str,
    inventory: Inventory | None,
    applied: Sequence[PlannedObject],
    record: RevisionRecord | None,
) -> None:
    """Queue the unit's new inventory: everything applied now, plus older entries until pruned."""
    previous = {e.key: e for e in (inventory.objects if inventory else ())}
    entries = dict(previous)
    for planned in applied:
        uid = str((planned.live or {}).get("metadata", {}).get("uid", ""))
        entries[planned.key] = InventoryEntry(planned.key, uid or _uid_of(previous.get(planned.key)))
    new = replace(inventory or Inventory(unit), objects=tuple(entries.values()))
    if record is not None:
        new = new.record(record)
    run.pending[unit] = new


def _uid_of(entry: InventoryEntry | None) -> str:
    return entry.uid if entry else ""


# -- prune and save ----------------------------------------------------------------------------


def _prune(run: _Run, load: RepositoryLoad, results: Sequence[UnitResult]) -> tuple[list[ObjectChange], str]:
    """Delete what left the render, behind the guards; returns the changes and a refusal, if any."""
    desired = {r.unit: frozenset(r.keys) for r in results if r.state is not SyncState.FAILED}
    considered = {u: inv for u, inv in run.inventories.items() if run.options.units is None or u in desired}
    has_problems = bool(load.problems) or any(not u.valid for u in load.units)
    plan = plan_prune(
        considered,
        desired,
        repo_units=[u.name for u in load.units],
        allow_teardown=not has_problems and run.options.units is None,
    )
    try:
        check_guards(plan, run.inventories, repo_units=len(load.units), policy=_prune_policy(run, load))
    except PruneRefusedError as err:
        return [], str(err)
    deferred = sorted(set(considered) - run.repo_units - plan.removed_units)
    refusal = f"not tearing down {', '.join(deferred)}: the repository has problems" if deferred else ""
    if run.options.dry_run:
        return [
            ObjectChange(u, e.key, Action.PRUNE) for u, entries in plan.by_unit.items() for e in entries
        ], ""
    changes: list[ObjectChange] = []
    for unit, entries in plan.by_unit.items():
        unit_changes = list(run.pool.map(lambda e, u=unit: prune_entry(run.kube, u, e), entries))
        changes += unit_changes
        _forget(run, unit, {c.key for c in unit_changes})
    return changes, refusal


def _prune_policy(run: _Run, load: RepositoryLoad) -> PrunePolicy:
    """The settings' prune policy, overridden by the command line."""
    assert load.settings is not None
    configured = load.settings.sync.prune
    enabled = configured.enabled if run.options.prune is None else run.options.prune
    return PrunePolicy(enabled, configured.max_share, run.options.allow_mass_prune)


def _forget(run: _Run, unit: str, keys: set[ObjectKey]) -> None:
    base = run.pending.get(unit) or run.inventories[unit]
    run.pending[unit] = replace(base, objects=tuple(e for e in base.objects if e.key not in keys))


def _save_inventories(run: _Run) -> None:
    """Write the inventories that changed; delete those of torn-down deployments once empty."""
    if run.options.dry_run:
        return

    def save(unit: str, inventory: Inventory) -> None:
        if not inventory.objects and unit not in run.repo_units:
            run.store.delete(unit)
        else:
            run.store.save(inventory)

    changed = [(u, inv) for u, inv in run.pending.items() if _changed(run.inventories.get(u), inv)]
    for future in [run.pool.submit(save, unit, inventory) for unit, inventory in changed]:
        future.result()


def _changed(old: Inventory | None, new: Inventory) -> bool:
    return old is None or old.to_json() != new.to_json()
