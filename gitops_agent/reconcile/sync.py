"""The reconciler: one straight line from a snapshot of the repository to a converged cluster.

    load/validate → render → plan (dry-run what exists) → apply → prune → inventory + revision history

Each unit (a deployment, or the plain `manifests/` folder) is synced on its own: a unit that fails
to load, render, plan or apply is reported with its reason and leaves its live objects as they were,
while every other unit still syncs. Pruning runs after all units, behind the guards in `prune`.
Nothing is written when nothing changed: not the objects, not the inventories.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitops_agent.core.errors import ClusterError, GitopsAgentError
from gitops_agent.core.labels import APP_POSTGRES, selector_labels
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.apply import (
    ApplyOptions,
    PlannedObject,
    apply_plan,
    owned_by,
    plan_object,
    unchanged_without_requests,
)
from gitops_agent.engine.diff import Action, ObjectChange
from gitops_agent.engine.live import ListedLive, LiveView
from gitops_agent.engine.prune import (
    PruneDisabledError,
    PrunePlan,
    PrunePolicy,
    PruneRefusedError,
    check_guards,
    plan_prune,
    prune_entry,
)
from gitops_agent.engine.volumes import OrphanedVolume, move_volume, orphaned_volumes
from gitops_agent.kube.client import KubeClient, Rules
from gitops_agent.manifests import MANIFESTS_UNIT, RenderedUnit, RepositoryLoad, render_unit
from gitops_agent.manifests.databases import MoveCheck, VolumeMove, check_moves, move_problem
from gitops_agent.manifests.model import DatabaseHome, ManagedPostgres
from gitops_agent.manifests.settings import SETTINGS_FILE
from gitops_agent.source import CommitInfo, Snapshot
from gitops_agent.state.inventory import Inventory, RevisionState, with_applied, without
from gitops_agent.state.loadcache import load_snapshot
from gitops_agent.state.revisions import (
    Restore,
    RevisionLedger,
    RevisionPlan,
    after_attempt,
    plan_revision,
)
from gitops_agent.state.seed import load_or_create_seed

DEFAULT_STATE_NAMESPACE = "gitops-agent"
PER_UNIT_READS = 32
"""A sync of at most this many units reads their inventories one by one, a bigger one lists them all."""
OnDesired = Callable[[ObjectKey, Mapping[str, Any]], None]


class SyncState(enum.StrEnum):
    """Where a unit stands after a sync (or a dry run)."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    """`spec.suspend`: left alone (no apply, self-heal or prune)."""
    UNKNOWN = "Unknown"
    """Not synced yet (status views only)."""


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
    instance: str = ""
    """This agent instance's id ("": its state namespace). Objects and inventories carry it; another
    instance's are never planned, written or pruned."""

    @property
    def owner(self) -> str:
        return self.instance or self.state_namespace

    @property
    def applying(self) -> ApplyOptions:
        """The apply options with this instance as the owner."""
        return replace(self.apply, owner=self.owner)


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
    image: str = ""
    """The image of the unit's agent Deployment as applied ("" when unknown, e.g. held or failed)."""

    @property
    def namespace(self) -> str:
        """Where the unit's Deployment lives (for other units, the first namespaced object's namespace)."""
        own = next((k.namespace for k in self.keys if k.kind == "Deployment" and k.name == self.unit), "")
        return own or next((k.namespace for k in self.keys if k.namespace), "")


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
    prune_blocked: tuple[str, ...] = ()
    """Units whose objects a refused prune left in place: they are not in sync with Git."""
    orphaned_volumes: tuple[OrphanedVolume, ...] = ()
    """Managed Postgres data no database uses any more (a full sync looks; the others say nothing)."""

    @property
    def ok(self) -> bool:
        """True when the repository loaded cleanly, every unit synced and no prune was refused."""
        return (
            not self.problems
            and not self.prune_refused
            and all(u.state is not SyncState.FAILED for u in self.units)
        )

    @property
    def settings_loaded(self) -> bool:
        return self.self_heal is not None

    @property
    def changes(self) -> list[ObjectChange]:
        return [c for u in self.units for c in u.changes] + list(self.prune_changes)


def sync(
    kube: KubeClient,
    snapshot: Snapshot,
    options: SyncOptions,
    *,
    live: LiveView | None = None,
    on_unit: Callable[[UnitResult], None] | None = None,
    restore: Restore | None = None,
    on_desired: OnDesired | None = None,
) -> SyncReport:
    """Converge the cluster to `snapshot` (or, with dry_run, report what that would change).

    `on_desired(key, manifest)` hears what each object is made to be, before it is applied (the
    running agent's watch cache tells its own writes from drift by it).

    With `restore`, the one unit in `options.units` is put back on `restore.target` (rendered from
    `snapshot`, checked out at the target's commit) through the same plan, apply, prune and record.
    """
    load = load_snapshot(snapshot)
    problems = tuple(str(p) for p in load.problems)
    if load.settings is None:
        return SyncReport(snapshot, (), problems or ("the settings file is invalid",))
    ledger = RevisionLedger(kube, options.state_namespace, options.owner)
    inventories = _inventories(ledger, load, options.units)
    seed = load_or_create_seed(kube, options.state_namespace, create=not options.dry_run)
    rendered, unrendered = _render_all(load, options, seed, inventories)
    moves = _database_moves(load, options, rendered, inventories, root=snapshot.path)
    unrendered += [moves.refusals[r.name] for r in rendered if r.name in moves.refusals]
    rendered = [r for r in rendered if r.name not in moves.refusals]
    owned = (lambda: inventories) if options.units is None else ledger.load_all
    guard = _guard_prune(load, options, rendered, inventories, all_owned=owned, keep=moves.check.held)
    if guard.holds:  # the units it would prune are held as they are: nothing of them is written
        unrendered += [
            _held_by_guard(r.name, inventories, guard.refused) for r in rendered if r.name in guard.blocked
        ]
        rendered = [r for r in rendered if r.name not in guard.blocked]
    for result in unrendered:
        _report(on_unit, result)
    self_heal = load.settings.sync.self_heal if options.self_heal is None else options.self_heal
    credits = _credits(snapshot, rendered, inventories, _sources(load), restore)
    with ThreadPoolExecutor(options.workers * 2, thread_name_prefix="object") as pool:
        context = _UnitContext(
            kube, snapshot, options, pool, live or ListedLive.prefetch(kube, _keys(rendered, inventories)),
            _namespace_access(kube, rendered), self_heal, restore, on_unit, credits, on_desired,
            moves.check.moves,
        )  # fmt: skip
        with ThreadPoolExecutor(options.workers, thread_name_prefix="unit") as unit_pool:
            synced = list(unit_pool.map(lambda r: sync_unit(context, r, inventories.get(r.name)), rendered))
        results = unrendered + [result for result, _ in synced]
        updated = {**inventories, **_failed_records(unrendered, inventories)}
        updated |= {inv.unit: inv for _, inv in synced if inv is not None}
        pruned = _prune(context, load, results, inventories, updated, guard=guard)
        if not options.dry_run:
            repo_units = frozenset(u.name for u in load.units)
            ledger.save_changed(inventories, pruned.inventories, repo_units=repo_units, pool=pool)
    results.sort(key=lambda r: r.unit)
    orphans = (
        _orphans(kube, rendered, inventories, pruned.inventories, moves) if options.units is None else ()
    )
    return SyncReport(
        snapshot, tuple(results), problems, pruned.changes, pruned.refused, self_heal, pruned.blocked, orphans
    )


def _inventories(
    ledger: RevisionLedger, load: RepositoryLoad, units: frozenset[str] | None
) -> dict[str, Inventory]:
    """All inventories (one LIST), or for a sync of a few units theirs and their rivals' (a GET each:
    a rival's inventory says whether it holds a contested claim live). Past PER_UNIT_READS units one
    LIST is cheaper than the GETs (e.g. the watch cache's first re-list queues every unit)."""
    if units is None or len(units) > PER_UNIT_READS:
        return ledger.load_all()
    rivals = {r for u in load.units if u.name in units for c in u.contests for r in c.rivals}
    loaded = {name: ledger.load(name) for name in sorted(units | rivals)}
    return {name: inventory for name, inventory in loaded.items() if inventory is not None}


@dataclass(frozen=True)
class _UnitContext:
    """What every unit of one sync shares (read-only)."""

    kube: KubeClient
    snapshot: Snapshot
    options: SyncOptions
    pool: ThreadPoolExecutor
    live: LiveView
    namespaces: NamespaceAccess
    self_heal: bool
    restore: Restore | None
    on_unit: Callable[[UnitResult], None] | None
    credits: Mapping[str, CommitInfo]
    """The commit each unit's new revision is credited to (`_credits`)."""
    on_desired: OnDesired | None = None
    moves: Mapping[str, VolumeMove] = field(default_factory=dict)
    """Managed Postgres volumes to move before a unit's objects are applied (`volumeFrom`)."""


def _report(on_unit: Callable[[UnitResult], None] | None, result: UnitResult) -> UnitResult:
    if on_unit:
        on_unit(result)
    return result


# -- render ------------------------------------------------------------------------------------


def _render_all(
    load: RepositoryLoad, options: SyncOptions, seed: bytes, inventories: Mapping[str, Inventory]
) -> tuple[list[RenderedUnit], list[UnitResult]]:
    """Render the selected units; the others become results at once: Failed for invalid ones (they
    keep their live objects), Suspended for suspended ones (left as they are).

    A unit that claims what another also claims (a route, an object name) keeps it only if it
    already holds it live (`live`: the units with an inventory) and the others do not: a newcomer
    never breaks the incumbent.
    """
    assert load.settings is not None
    rendered: list[RenderedUnit] = []
    unrendered: list[UnitResult] = []
    for unit in load.units:
        if options.units is not None and unit.name not in options.units:
            continue
        if unit.deployment is not None and unit.deployment.suspend:
            unrendered.append(_suspended(unit.name, inventories.get(unit.name)))
            continue
        lost = unit.lost_contests(inventories.keys())
        if not unit.valid or lost:
            problems = tuple(str(p) for p in (*unit.problems, *lost))
            unrendered.append(
                UnitResult(unit.name, SyncState.FAILED, error="; ".join(problems), problems=problems)
            )
            continue
        try:
            rendered.append(render_unit(unit, load.settings, secret_seed=seed))
        except GitopsAgentError as err:
            unrendered.append(UnitResult(unit.name, SyncState.FAILED, error=str(err)))
    return rendered, unrendered


def _suspended(unit: str, inventory: Inventory | None) -> UnitResult:
    note = "suspended (spec.suspend): no Git change applied, no drift corrected, nothing pruned"
    return _left_as_live(unit, inventory, SyncState.SUSPENDED, note)


def _left_as_live(unit: str, inventory: Inventory | None, state: SyncState, note: str) -> UnitResult:
    """A unit nothing is written for this time: its last revision and objects, and why."""
    current = inventory.latest if inventory else None
    return UnitResult(
        unit,
        state,
        revision=current.revision if current else None,
        commit=current.commit if current else "",
        keys=tuple(e.key for e in inventory.objects) if inventory else (),
        note=note,
    )


def _failed_records(
    failed: Iterable[UnitResult], inventories: Mapping[str, Inventory]
) -> dict[str, Inventory]:
    """Units that could not even be rendered keep their objects; their record says why."""
    return {
        r.unit: replace(inventories[r.unit], error=r.error)
        for r in failed
        if r.unit in inventories and r.state is SyncState.FAILED
    }


def _sources(load: RepositoryLoad) -> dict[str, tuple[str, ...]]:
    """What each unit renders from: its files (all of `manifests/`, so a deleted file counts too)."""
    return {u.name: (MANIFESTS_UNIT,) if u.name == MANIFESTS_UNIT else u.files for u in load.units}


def _keys(rendered: Iterable[RenderedUnit], inventories: Mapping[str, Inventory]) -> list[ObjectKey]:
    keys = [o.key for r in rendered for o in r.objects]
    return keys + [e.key for inv in inventories.values() for e in inv.objects]


@dataclass(frozen=True)
class NamespaceAccess:
    """The target namespaces as this sync found them: which do not exist, and what the agent may do
    in the others. An object it could not write fails its unit before anything of it is written,
    saying why, instead of a 403 halfway through an apply."""

    missing: frozenset[str]
    rules: Mapping[str, Rules | None]
    """Per existing namespace; None when the authorizer cannot list rules (then apply finds out)."""

    def refusal(self, kube: KubeClient, key: ObjectKey, manifest: Mapping[str, Any]) -> str | None:
        """Why the agent cannot write this object, or None."""
        namespace = key.namespace
        if namespace in self.missing:
            return (
                f"{key}: namespace {namespace!r} does not exist; create it and grant the agent access "
                "(gitops-agent never creates or deletes namespaces)"
            )
        rules = self.rules.get(namespace)
        if rules is None:
            return None
        try:
            plural = kube.type_of(manifest).plural
        except ClusterError:
            return None  # an unserved kind: apply reports it with the apiserver's words
        if rules.allows("patch", key.group, plural, key.name):
            return None
        return (
            f"{key}: gitops-agent may not write {plural} in namespace {namespace!r} (its identity has no "
            f"permission to patch them there); with the Helm chart, add {namespace} to targetNamespaces "
            "and run `helm upgrade`"
        )


def _namespace_access(kube: KubeClient, rendered: Iterable[RenderedUnit]) -> NamespaceAccess:
    """One GET and one SelfSubjectRulesReview per target namespace."""
    namespaces = sorted({o.key.namespace for r in rendered for o in r.objects if o.key.namespace})
    missing = frozenset(ns for ns in namespaces if kube.get("v1", "Namespace", ns) is None)
    rules: dict[str, Rules | None] = {}
    for namespace in namespaces:
        if namespace not in missing:
            try:
                rules[namespace] = kube.rules_in(namespace)
            except ClusterError:
                rules[namespace] = None
    return NamespaceAccess(missing, rules)


# -- managed Postgres moves ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Moves:
    check: MoveCheck
    refusals: Mapping[str, UnitResult]
    """Units whose change would leave their database behind: failed, live objects kept."""
    rendered: frozenset[DatabaseHome] = frozenset()
    """The homes the render puts a database in."""


def _database_moves(
    load: RepositoryLoad,
    options: SyncOptions,
    rendered: Sequence[RenderedUnit],
    inventories: Mapping[str, Inventory],
    *,
    root: Path,
) -> _Moves:
    """Where each managed Postgres is live (its inventory's StatefulSet) against where the render
    puts it: a move without `volumeFrom` is refused, one with it is carried out by the unit's sync."""
    homes = _database_homes(inventories)
    deployments = {u.name: u.deployment for u in load.units if u.deployment is not None}
    synced = [deployments[r.name] for r in rendered if r.name in deployments]
    vanished = set(inventories) - {u.name for u in load.units} if options.units is None else set()
    check = check_moves(homes, synced, vanished=vanished)
    refusals = {}
    for unit, message in check.refused.items():
        problem = str(move_problem(root, deployments[unit], message))
        refusals[unit] = UnitResult(unit, SyncState.FAILED, error=problem, problems=(problem,))
    rendered_homes = {
        DatabaseHome(d.namespace, d.name) for d in synced if isinstance(d.postgres, ManagedPostgres)
    }
    return _Moves(check, refusals, frozenset(rendered_homes))


def _database_homes(inventories: Mapping[str, Inventory]) -> dict[str, DatabaseHome]:
    """Where each unit's managed Postgres is live: its inventory's `<unit>-postgres` StatefulSet."""
    return {
        unit: DatabaseHome(e.key.namespace, unit)
        for unit, inventory in inventories.items()
        for e in inventory.objects
        if e.key.kind == "StatefulSet" and e.key.name == f"{unit}-postgres"
    }


def _orphans(
    kube: KubeClient,
    rendered: Iterable[RenderedUnit],
    before: Mapping[str, Inventory],
    after: Mapping[str, Inventory],
    moves: _Moves,
) -> tuple[OrphanedVolume, ...]:
    """The managed Postgres data left in the namespaces this repository deploys to (`before`: the
    sync's inventories as read, `after`: as it leaves them, torn-down deployments emptied)."""
    namespaces = {o.key.namespace for r in rendered for o in r.objects if o.key.namespace}
    namespaces |= {e.key.namespace for inv in before.values() for e in inv.objects if e.key.namespace}
    in_use = moves.rendered | set(_database_homes(after).values())
    try:
        return orphaned_volumes(kube, namespaces, in_use)
    except ClusterError:
        return ()  # not allowed to list claims somewhere, or the apiserver is away: no verdict this time


# -- one unit ----------------------------------------------------------------------------------


def sync_unit(
    context: _UnitContext, rendered: RenderedUnit, inventory: Inventory | None
) -> tuple[UnitResult, Inventory | None]:
    """Plan, apply and record one unit; errors fail this unit only.

    Returns the unit's result and its inventory to keep (None: unchanged, nothing was attempted).
    """
    name = rendered.name
    try:
        credit = context.credits.get(name, context.snapshot.info)
        revision = plan_revision(inventory, rendered.spec_hash, credit, restore=context.restore)
    except GitopsAgentError as err:
        return _report(context.on_unit, UnitResult(name, SyncState.FAILED, error=f"{name}: {err}")), None
    if revision.held:
        return _report(context.on_unit, _held(name, inventory, revision)), None
    manifests = [owned_by(m, context.options.owner) for m in rendered.manifests]
    keys = tuple(ObjectKey.of(m) for m in manifests)
    result = UnitResult(
        name, SyncState.SYNCED, (), revision.revision, revision.commit, revision.is_new, keys=keys,
        image=agent_image(manifests, name),
    )  # fmt: skip
    applied: list[PlannedObject] = []
    known = inventory or Inventory(name)
    try:
        staged = [(obj.stage, m) for obj, m in zip(rendered.objects, manifests, strict=True)]
        plan = plan_unit(context, name, staged, fast=revision.settled)
        result = replace(result, changes=tuple(p.change() for p in plan))
        unchanged = all(c.action is Action.UNCHANGED for c in result.changes)
        move = context.moves.get(name)
        if context.options.dry_run or (revision.settled and not unchanged and not context.self_heal):
            note = "" if context.options.dry_run else "drift left alone: self-heal is off"
            if move is not None and context.options.dry_run:
                note = f"would move the Postgres volume of {move.source} to {move.target}"
            state = SyncState.SYNCED if unchanged else SyncState.OUT_OF_SYNC
            return _report(context.on_unit, replace(result, state=state, note=note)), None
        if move is not None:  # before the new StatefulSet: it must find its claim bound to the data
            moved = move_volume(context.kube, move, claim_labels=selector_labels(APP_POSTGRES, name))
            result = replace(result, note=moved)
        if context.on_desired is not None:  # before the writes: their watch events follow
            for planned in plan:
                context.on_desired(planned.key, planned.desired)
        done = apply_plan(
            context.kube,
            context.pool,
            plan,
            options=context.options.applying,
            on_applied=lambda p, live: applied.append(replace(p, live=live)),
        )
    except GitopsAgentError as err:
        failed = replace(result, state=SyncState.FAILED, changes=(), error=str(err), image="")
        record = replace(with_applied(known, _live(applied)), error=str(err))
        kept = after_attempt(record, revision, error=str(err), retryable=err.retryable, applied_any=True)
        return _report(context.on_unit, failed), kept
    record = replace(with_applied(known, _live(done)), error="")
    kept = after_attempt(record, revision, applied_any=not unchanged)
    return _report(context.on_unit, result), kept


def _credits(
    snapshot: Snapshot,
    rendered: Iterable[RenderedUnit],
    inventories: Mapping[str, Inventory],
    sources: Mapping[str, tuple[str, ...]],
    restore: Restore | None,
) -> dict[str, CommitInfo]:
    """For each unit with a new revision, the newest commit that changed what it renders from since
    its last revision (units with the same last commit are asked together: one walk of the history).
    A restore, or a unit whose spec did not change, has nothing to credit (the snapshot's commit)."""
    if restore is not None:
        return {}
    by_since: dict[str | None, dict[str, tuple[str, ...]]] = {}
    for unit in rendered:
        inventory = inventories.get(unit.name)
        latest = inventory.latest if inventory else None
        if latest is None or latest.spec_hash != unit.spec_hash:
            since = latest.commit if latest else None
            by_since.setdefault(since, {})[unit.name] = (*sources.get(unit.name, ()), SETTINGS_FILE)
    credits: dict[str, CommitInfo] = {}
    for since, paths in by_since.items():
        credits |= snapshot.credits(paths, since=since)
    return credits


def agent_image(manifests: Iterable[Mapping[str, Any]], unit: str) -> str:
    """The image of the unit's own Deployment (its first container), "" when it has none."""
    for manifest in manifests:
        if manifest.get("kind") == "Deployment" and manifest.get("metadata", {}).get("name") == unit:
            containers = manifest["spec"]["template"]["spec"].get("containers") or [{}]
            return str(containers[0].get("image", ""))
    return ""


def _live(planned: Iterable[PlannedObject]) -> list[tuple[ObjectKey, dict[str, Any] | None]]:
    return [(p.key, p.live) for p in planned]


def _held(unit: str, inventory: Inventory | None, revision: RevisionPlan) -> UnitResult:
    """A rolled-back revision is not applied again until the deployment's rendered spec changes."""
    live = inventory.last_with(RevisionState.DEPLOYED) if inventory else None
    keys = tuple(e.key for e in inventory.objects) if inventory else ()
    where = f"r{live.revision}" if live else "the last deployed revision"
    return UnitResult(
        unit,
        SyncState.OUT_OF_SYNC,
        (),
        live.revision if live else None,
        live.commit if live else "",
        False,
        keys=keys,
        note=f"held at {where}: r{revision.revision} was rolled back; waiting for a change",
        held=True,
    )


def plan_unit(
    context: _UnitContext, unit: str, staged: Sequence[tuple[int, dict[str, Any]]], *, fast: bool
) -> list[PlannedObject]:
    """Plan every object of the unit concurrently (the first error fails the unit, nothing written)."""

    def plan_one(stage: int, manifest: dict[str, Any]) -> PlannedObject:
        key = ObjectKey.of(manifest)
        refusal = context.namespaces.refusal(context.kube, key, manifest)
        if refusal:
            raise ClusterError(refusal, retryable=True)
        known, live = context.live.lookup(key)
        if fast and live is not None:
            quick = unchanged_without_requests(unit, stage, manifest, live, owner=context.options.owner)
            if quick is not None:
                return quick
        return plan_object(
            context.kube,
            unit=unit,
            stage=stage,
            desired=manifest,
            options=context.options.applying,
            live=live,
            live_known=known,
            dry_run_absent=context.options.dry_run,  # a create is its own check (see engine.apply)
        )

    futures = [context.pool.submit(plan_one, stage, manifest) for stage, manifest in staged]
    return [future.result() for future in futures]


# -- prune -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pruned:
    changes: tuple[ObjectChange, ...]
    refused: str
    inventories: dict[str, Inventory]
    blocked: tuple[str, ...] = ()
    """Units whose objects the refusal left in place (so they are not in sync with Git)."""


@dataclass(frozen=True)
class _Guard:
    """The guards' verdict on the prune a sync would make, judged before anything is written."""

    refused: str = ""
    blocked: tuple[str, ...] = ()
    """The units the refused prune would have touched: none of their objects is written this time."""
    keep: frozenset[str] = frozenset()
    """Vanished units not torn down yet: a refused or unfinished database move may be about them."""
    holds: bool = False
    """The refusal holds the blocked units as they are (a safety guard); pruning switched off by
    policy does not: their change is applied, only the deletes are left out."""


def _guard_prune(
    load: RepositoryLoad,
    options: SyncOptions,
    rendered: Sequence[RenderedUnit],
    inventories: Mapping[str, Inventory],
    *,
    all_owned: Callable[[], Mapping[str, Inventory]],
    keep: frozenset[str],
) -> _Guard:
    """Judge the prune this sync would make if every rendered unit applied, on what the cluster holds
    *now*. Judged after the apply instead, a refused change (e.g. a namespace move of every
    deployment) had already created its new objects, so the retry counted old and new and a full move
    passed the share guard the second time; held before the apply, a retry sees the same numbers."""
    desired = {r.name: frozenset(o.key for o in r.objects) for r in rendered}
    plan = _prune_plan(load, options, desired, inventories, keep=keep)
    owned = {u: inv.objects for u, inv in (all_owned() if plan.count else inventories).items()}
    try:
        check_guards(plan, owned, repo_units=len(load.units), policy=_prune_policy(options, load))
    except PruneRefusedError as err:
        holds = not isinstance(err, PruneDisabledError)
        return _Guard(str(err), tuple(sorted(plan.by_unit)), keep, holds)
    return _Guard(keep=keep)


def _prune_plan(
    load: RepositoryLoad,
    options: SyncOptions,
    desired: Mapping[str, frozenset[ObjectKey]],
    before: Mapping[str, Inventory],
    *,
    keep: frozenset[str],
) -> PrunePlan:
    """Inventory minus render of the units in `desired`; vanished units (but those in `keep`) only
    on a clean full sync."""
    considered = {u: inv.objects for u, inv in before.items() if options.units is None or u in desired}
    has_problems = bool(load.problems) or any(not u.valid for u in load.units)
    return plan_prune(
        considered,
        desired,
        repo_units={u.name for u in load.units} | keep,
        allow_teardown=not has_problems and options.units is None,
    )


def _held_by_guard(unit: str, inventories: Mapping[str, Inventory], refusal: str) -> UnitResult:
    """A unit whose change needs a refused prune: left exactly as it is live."""
    note = f"not applied: the prune this change needs was refused ({refusal})"
    return _left_as_live(unit, inventories.get(unit), SyncState.OUT_OF_SYNC, note)


def _prune(
    context: _UnitContext,
    load: RepositoryLoad,
    results: Sequence[UnitResult],
    before: Mapping[str, Inventory],
    inventories: dict[str, Inventory],
    *,
    guard: _Guard,
) -> _Pruned:
    """Delete what left the render of the units that synced; `guard` already judged the whole prune
    before the apply (a refusal there holds every unit it touches, and nothing is pruned)."""
    options = context.options
    if guard.refused:
        return _Pruned((), guard.refused, inventories, guard.blocked)
    desired = {
        r.unit: frozenset(r.keys) for r in results if r.state not in (SyncState.FAILED, SyncState.SUSPENDED)
    }
    plan = _prune_plan(load, options, desired, before, keep=guard.keep)
    repo_units = {u.name for u in load.units}
    considered = {u for u in before if options.units is None or u in desired}
    deferred = sorted(considered - repo_units - plan.removed_units)
    kept = [u for u in deferred if u in guard.keep]
    reasons = [f"not tearing down {', '.join(kept)}: a database move may be about it"] if kept else []
    if len(kept) < len(deferred):
        others = ", ".join(u for u in deferred if u not in guard.keep)
        reasons.append(f"not tearing down {others}: the repository has problems")
    refusal = "; ".join(reasons)
    if options.dry_run:
        changes = [
            ObjectChange(u, e.key, Action.PRUNE) for u, entries in plan.by_unit.items() for e in entries
        ]
        return _Pruned(tuple(changes), "", inventories)
    all_changes: list[ObjectChange] = []
    for unit, entries in plan.by_unit.items():
        changes = list(
            context.pool.map(lambda e, u=unit: prune_entry(context.kube, u, e, owner=options.owner), entries)
        )
        all_changes += changes
        inventories[unit] = without(inventories[unit], {c.key for c in changes})
    return _Pruned(tuple(all_changes), refusal, inventories, tuple(deferred))


def _prune_policy(options: SyncOptions, load: RepositoryLoad) -> PrunePolicy:
    """The settings' prune policy, overridden by the command line."""
    assert load.settings is not None
    configured = load.settings.sync.prune
    enabled = configured.enabled if options.prune is None else options.prune
    return PrunePolicy(enabled, configured.max_share, options.allow_mass_prune)
