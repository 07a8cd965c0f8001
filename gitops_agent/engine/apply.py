"""The `apply` stage: plan each object (GET + server-side-apply dry-run), then write only what changed.

Planning is the safety net: every live object of a unit is dry-run before any of them is written,
so a change the apiserver would reject fails the unit while its live objects stay as they were.
An object known not to exist yet is not dry-run (`dry_run_absent=False`, what a sync does): its
create is its check. That halves the requests of a cold sync; the price is that a new unit whose
later object is rejected keeps what it created before, recorded in its inventory (so it is updated
or pruned like any other object, never orphaned) while the unit is Failed. Writes go stage by stage
(config → data → workloads → services → routing → scaling); objects within a stage are independent
and applied concurrently on a bounded pool, and a stage with a failure still records every object
of it that was written before the unit stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.kinds import Recreate, kind_of
from gitops_agent.core.labels import LABEL_DEPLOYMENT, LABEL_MANAGED_BY, LABEL_OWNER, MANAGED_BY
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action, ObjectChange, describe_change, desired_in_live, same, yaml_diff
from gitops_agent.kube.client import InvalidObjectError, KubeClient

DELETE_WAIT_SECONDS = 60.0


class OwnershipError(ClusterError):
    """The object exists but gitops-agent does not own it for this unit: we never take it over."""


class ImmutableFieldError(ClusterError):
    """An immutable field changed on a kind that is not re-created automatically (e.g. StatefulSet)."""


@dataclass(frozen=True)
class PlannedObject:
    """An object with its live state, dry-run result and the action the sync will take."""

    unit: str
    stage: int
    key: ObjectKey
    desired: dict[str, Any]
    live: dict[str, Any] | None
    action: Action
    diff: str = ""
    recreate: bool = False

    def change(self) -> ObjectChange:
        reason = "re-create: immutable field changed" if self.recreate else ""
        changed = self.action in (Action.CREATE, Action.UPDATE)
        summary = describe_change(self.live, self.desired) if changed else ""
        return ObjectChange(self.unit, self.key, self.action, self.diff, reason, summary)


@dataclass(frozen=True)
class ApplyOptions:
    """How conflicts and immutable fields are handled."""

    force_conflicts: bool = False
    """Take fields another field manager owns (kubectl edits, ...): Git wins. Self-heal needs it."""
    recreate_statefulsets: bool = False
    """Allow delete + re-create of a StatefulSet on an immutable change (its PVCs are kept)."""
    owner: str = ""
    """This agent instance: stamped on what it applies; objects of another instance are never touched."""


def is_owned(live: Mapping[str, Any], unit: str, owner: str = "") -> bool:
    """Our ownership labels with our values: managed by us, for `unit`, by this instance.

    An object without an instance label (applied before instances existed) counts as this instance's.
    """
    labels = live.get("metadata", {}).get("labels") or {}
    ours = labels.get(LABEL_MANAGED_BY) == MANAGED_BY and labels.get(LABEL_DEPLOYMENT) == unit
    return bool(ours) and (not owner or owner_of(live) in ("", owner))


def owner_of(live: Mapping[str, Any]) -> str:
    """The agent instance that owns `live` ("" when it carries no instance label)."""
    return str((live.get("metadata", {}).get("labels") or {}).get(LABEL_OWNER, ""))


def owned_by(manifest: dict[str, Any], owner: str) -> dict[str, Any]:
    """The manifest with this instance's label (a copy of the metadata; the rest is shared)."""
    if not owner:
        return manifest
    metadata = {
        **manifest["metadata"],
        "labels": {**(manifest["metadata"].get("labels") or {}), LABEL_OWNER: owner},
    }
    return {**manifest, "metadata": metadata}


def plan_object(
    kube: KubeClient,
    *,
    unit: str,
    stage: int,
    desired: dict[str, Any],
    options: ApplyOptions,
    live: dict[str, Any] | None = None,
    live_known: bool = False,
    dry_run_absent: bool = True,
) -> PlannedObject:
    """Decide create / update / unchanged for one object (raises for foreign objects and rejects).

    `dry_run_absent=False`: an object known to be absent is planned as a create without a request
    (the diff then shows what we send, not the apiserver's defaults).
    """
    key = ObjectKey.of(desired)
    if not live_known:
        live = kube.get(key.api_version, key.kind, key.name, key.namespace)
    if live is not None and not is_owned(live, unit, options.owner):
        raise OwnershipError(_not_ours(key, live, unit, options.owner))
    if live is None and not dry_run_absent:
        return PlannedObject(unit, stage, key, desired, None, Action.CREATE, yaml_diff(key, None, desired))
    try:
        dry = kube.apply(desired, dry_run=True, force=options.force_conflicts)
    except InvalidObjectError as err:
        if live is None or not _immutable(err):
            raise
        _check_recreate_allowed(key, options, err)
        diff = yaml_diff(key, live, desired)
        return PlannedObject(unit, stage, key, desired, live, Action.UPDATE, diff, recreate=True)
    if live is None:
        return PlannedObject(unit, stage, key, desired, None, Action.CREATE, yaml_diff(key, None, dry))
    if same(dry, live):
        return PlannedObject(unit, stage, key, desired, live, Action.UNCHANGED)
    return PlannedObject(unit, stage, key, desired, live, Action.UPDATE, yaml_diff(key, live, dry))


def _not_ours(key: ObjectKey, live: Mapping[str, Any], unit: str, owner: str) -> str:
    other = owner_of(live)
    if other and owner and other != owner:
        return (
            f"{key} belongs to gitops-agent instance {other!r}, not to this one ({owner!r}); "
            "an instance never touches another's objects (rename it, or sync it from that instance)"
        )
    return (
        f"{key} already exists and is not managed by gitops-agent for {unit!r}; "
        "refusing to take it over (delete it or label it to adopt it)"
    )


def unchanged_without_requests(
    unit: str, stage: int, desired: dict[str, Any], live: dict[str, Any], *, owner: str = ""
) -> PlannedObject | None:
    """The fast path: an owned live object that already holds every desired field needs no request."""
    if is_owned(live, unit, owner) and desired_in_live(desired, live):
        return PlannedObject(unit, stage, ObjectKey.of(desired), desired, live, Action.UNCHANGED)
    return None


def _immutable(err: ClusterError) -> bool:
    text = str(err)
    return "immutable" in text or "updates to statefulset spec for fields other than" in text


def _check_recreate_allowed(key: ObjectKey, options: ApplyOptions, err: ClusterError) -> None:
    kind = kind_of(key)
    allowed = kind.recreate is Recreate.ALWAYS or (
        kind.recreate is Recreate.ON_REQUEST and options.recreate_statefulsets
    )
    if not allowed:
        raise ImmutableFieldError(
            f"{key}: an immutable field changed and {key.kind} is not re-created automatically "
            f"(its data would go with it): {err}"
        ) from err


def apply_plan(
    kube: KubeClient,
    executor: Executor,
    plan: Sequence[PlannedObject],
    *,
    options: ApplyOptions,
    on_applied: Callable[[PlannedObject, dict[str, Any]], None] | None = None,
) -> list[PlannedObject]:
    """Write the changed objects stage by stage; returns the plan with live objects updated.

    A failure stops the unit at that stage (later stages are not applied) and propagates, after
    every other write of the stage has finished and been reported to `on_applied`.
    """
    done: list[PlannedObject] = []
    for _, stage_objects in groupby(sorted(plan, key=lambda p: p.stage), key=lambda p: p.stage):
        batch = list(stage_objects)
        futures = [executor.submit(_write, kube, p, options) for p in batch]
        failure: Exception | None = None
        for planned, future in zip(batch, futures, strict=True):
            try:
                live = future.result()
            except Exception as err:  # the first one is raised once the stage has settled
                failure = failure or err
                continue
            if on_applied and live is not None and planned.action is not Action.UNCHANGED:
                on_applied(planned, live)
            done.append(replace(planned, live=live) if live is not None else planned)
        if failure is not None:
            raise failure
    return done


def _write(kube: KubeClient, planned: PlannedObject, options: ApplyOptions) -> dict[str, Any] | None:
    if planned.action is Action.UNCHANGED:
        return planned.live
    if planned.recreate and planned.live is not None:
        _delete_and_wait(kube, planned.key, str(planned.live["metadata"].get("uid", "")))
    return kube.apply(planned.desired, force=options.force_conflicts)


def _delete_and_wait(kube: KubeClient, key: ObjectKey, uid: str) -> None:
    kube.delete(key.api_version, key.kind, key.name, key.namespace, uid=uid or None)
    deadline = time.monotonic() + DELETE_WAIT_SECONDS
    while time.monotonic() < deadline:
        live = kube.get(key.api_version, key.kind, key.name, key.namespace)
        if live is None or live["metadata"].get("uid") != uid:
            return
        time.sleep(0.2)
    raise ClusterError(
        f"{key}: still present {DELETE_WAIT_SECONDS:.0f}s after delete (finalizers?)", retryable=True
    )
