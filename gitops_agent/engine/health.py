"""The health stage: is what we applied actually running, still rolling out, or stuck?

An apply that the apiserver accepted only means the objects were stored. Whether the rollout worked
is up to the controllers afterwards, so the reconciler asks this module. The rules follow
kstatus (kubernetes-sigs/cli-utils pkg/kstatus): a workload's status is only trusted once its
controller has observed the current generation, every replica count must agree with the desired
count, and a Deployment is finished only when its Progressing condition says NewReplicaSetAvailable.
A rollout whose progress deadline passed is Degraded, which is what triggers an automatic rollback.

`object_health` is pure (live dict in, verdict out) so the rules are tested on YAML fixtures; the
cluster is only touched by `check_unit` (one GET per object, plus EndpointSlices for Services) and
`wait_for_health` (polls `check_unit` until every unit settles or the timeout passes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.kinds import HealthRule, kind_of
from gitops_agent.core.objects import ObjectKey
from gitops_agent.kube.client import NotFoundError, ObjectList

Live = Mapping[str, Any]
Verdict = tuple["Health", str]


class Health(StrEnum):
    """How one object (or a whole unit) is doing."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    MISSING = "Missing"
    ROLLED_BACK = "RolledBack"
    """A unit's health after its revision was rolled back (set by the controller, never by a rule)."""
    UNKNOWN = "Unknown"
    """Not checked yet."""


_SEVERITY = {
    Health.HEALTHY: 0,
    Health.UNKNOWN: 1,
    Health.PROGRESSING: 1,
    Health.MISSING: 2,
    Health.DEGRADED: 3,
    Health.ROLLED_BACK: 3,
}
_SETTLED = frozenset({Health.HEALTHY, Health.DEGRADED})


@dataclass(frozen=True)
class ObjectHealth:
    """The verdict on one object, with a message a human can act on."""

    key: ObjectKey
    health: Health
    message: str


@dataclass(frozen=True)
class UnitHealth:
    """The verdict on everything one unit rendered: the worst of its objects."""

    unit: str
    health: Health
    objects: tuple[ObjectHealth, ...]

    @property
    def culprit(self) -> ObjectHealth | None:
        """The first object *at the unit's health* (None when healthy): a Degraded unit is explained
        by its degraded object, not by a sibling that is merely progressing."""
        if self.health is Health.HEALTHY:
            return None
        return next((o for o in self.objects if o.health is self.health), None)

    @property
    def summary(self) -> str:
        """The culprit's message, or "all N objects healthy"."""
        culprit = self.culprit
        return culprit.message if culprit else f"all {len(self.objects)} objects healthy"


class ClusterReader(Protocol):
    """The two reads health needs; `KubeClient` provides them, tests may pass a small fake."""

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None: ...

    def list(
        self, api_version: str, kind: str, *, namespace: str = "", label_selector: str = ""
    ) -> ObjectList: ...


def worst(healths: Iterable[Health]) -> Health:
    """DEGRADED > MISSING > PROGRESSING > HEALTHY; nothing to judge is HEALTHY."""
    return max(healths, key=_SEVERITY.__getitem__, default=Health.HEALTHY)


# -- the rules (pure) ------------------------------------------------------------------------------


def object_health(live: Live | None, key: ObjectKey, *, ready_endpoints: int | None = None) -> ObjectHealth:
    """Judge one live object; `ready_endpoints` is only used for Services (None: not counted)."""
    health, message = _judge(live, key, ready_endpoints)
    return ObjectHealth(key, health, message)


def _judge(live: Live | None, key: ObjectKey, ready_endpoints: int | None) -> Verdict:
    if live is None:
        return Health.MISSING, "not found in the cluster"
    if _field(live, "metadata", "deletionTimestamp"):
        return Health.PROGRESSING, "being deleted"
    rule = kind_of(key).health
    if rule is HealthRule.SERVICE:
        return _service(live, ready_endpoints)
    judge = _RULES.get(rule)
    return judge(live) if judge else (Health.HEALTHY, "exists")


def _deployment(live: Live) -> Verdict:
    """kstatus deploymentConditions, plus ProgressDeadlineExceeded → Degraded."""
    conditions = _conditions(live)
    stale = _unobserved(live)
    if stale:
        return Health.PROGRESSING, stale
    progressing = conditions.get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded" and progressing.get("status") == "False":
        return Health.DEGRADED, f"ProgressDeadlineExceeded: {progressing.get('message', '')}".rstrip()
    desired = _desired_replicas(live)
    paused = bool(_field(live, "spec", "paused"))
    waiting = (
        _replica_failure(conditions)
        or _deployment_replicas(live, desired)
        or (None if paused else _rollout_incomplete(live, conditions))
    )
    if waiting:
        return Health.PROGRESSING, waiting
    return Health.HEALTHY, f"{desired}/{desired} replicas ready" + (" (paused)" if paused else "")


def _desired_replicas(live: Live) -> int:
    """spec.replicas; when absent (an HPA owns the field) what the controller is running, else 1."""
    for replicas in (_field(live, "spec", "replicas"), _field(live, "status", "replicas")):
        if isinstance(replicas, int):
            return replicas
    return 1


def _replica_failure(conditions: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Pods refused (e.g. by a quota): still Progressing, the deadline will turn it Degraded."""
    failure = conditions.get("ReplicaFailure", {})
    if failure.get("status") != "True":
        return None
    return f"ReplicaFailure {failure.get('reason', '')}: {failure.get('message', '')}"


def _deployment_replicas(live: Live, desired: int) -> str | None:
    """Why the replica counts do not agree yet, or None when they do."""
    replicas = _count(live, "replicas")
    updated = _count(live, "updatedReplicas")
    ready = _count(live, "readyReplicas")
    available = _count(live, "availableReplicas")
    if updated < desired:
        return f"{updated}/{desired} replicas updated"
    if replicas > updated:
        return f"{replicas - updated} old replicas pending termination"
    if replicas > desired:
        return f"{replicas - desired} extra replicas pending termination"
    if ready < desired:
        return f"{ready}/{desired} replicas ready"
    if available < desired:
        return f"{available}/{desired} replicas available"
    return None


def _rollout_incomplete(live: Live, conditions: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The controller's own word: Progressing=True/NewReplicaSetAvailable and Available=True.

    Without progressDeadlineSeconds the controller never sets Progressing; counts must suffice.
    """
    progressing = conditions.get("Progressing", {})
    done = progressing.get("status") == "True" and progressing.get("reason") == "NewReplicaSetAvailable"
    if not done and _field(live, "spec", "progressDeadlineSeconds") is not None:
        return f"rollout not complete ({progressing.get('reason', 'no Progressing condition yet')})"
    if conditions.get("Available", {}).get("status") != "True":
        return "Deployment not Available"
    return None


def _statefulset(live: Live) -> Verdict:
    """kstatus stsConditions: counts, then partition or revision (OnDelete is user-driven)."""
    spec_replicas = _field(live, "spec", "replicas")
    desired = spec_replicas if isinstance(spec_replicas, int) else 1
    waiting = _unobserved(live) or _statefulset_replicas(live, desired) or _statefulset_update(live, desired)
    if waiting:
        return Health.PROGRESSING, waiting
    on_delete = _field(live, "spec", "updateStrategy", "type") == "OnDelete"
    note = " (OnDelete: pods update only when deleted)" if on_delete else ""
    return Health.HEALTHY, f"{desired}/{desired} replicas ready{note}"


def _statefulset_replicas(live: Live, desired: int) -> str | None:
    replicas, ready = _count(live, "replicas"), _count(live, "readyReplicas")
    if replicas < desired:
        return f"{replicas}/{desired} replicas created"
    if ready < desired:
        return f"{ready}/{desired} replicas ready"
    if replicas > desired:
        return f"{replicas - desired} extra replicas pending termination"
    return None


def _statefulset_update(live: Live, desired: int) -> str | None:
    """Is the rolling update done? A partition only asks for the pods at or above it."""
    if _field(live, "spec", "updateStrategy", "type") == "OnDelete":
        return None
    updated = _count(live, "updatedReplicas")
    partition = _field(live, "spec", "updateStrategy", "rollingUpdate", "partition")
    if isinstance(partition, int) and partition > 0:
        target = max(desired - partition, 0)
        return f"{updated}/{target} replicas updated (partition {partition})" if updated < target else None
    if updated < desired:
        return f"{updated}/{desired} replicas updated"
    update_revision = _field(live, "status", "updateRevision")
    current_revision = _field(live, "status", "currentRevision")
    if update_revision != current_revision:
        return f"waiting for revision {update_revision} (current {current_revision})"
    return None


def _pvc(live: Live) -> Verdict:
    phase = _field(live, "status", "phase") or "Pending"
    volume = _field(live, "spec", "volumeName") or "?"
    if phase == "Bound":
        return Health.HEALTHY, f"Bound to {volume}"
    if phase == "Lost":
        return Health.DEGRADED, f"Lost: its volume {volume} no longer exists"
    return Health.PROGRESSING, f"{phase}: not bound to a volume yet"


def _service(live: Live, ready_endpoints: int | None) -> Verdict:
    """Only a selector-backed Service can be judged, and only by its ready endpoints."""
    if _field(live, "spec", "type") == "ExternalName":
        return Health.HEALTHY, f"ExternalName {_field(live, 'spec', 'externalName') or ''}".rstrip()
    if not _field(live, "spec", "selector"):
        return Health.HEALTHY, "no selector (endpoints managed elsewhere)"
    if ready_endpoints is None:
        return Health.HEALTHY, "endpoints not checked"
    if ready_endpoints == 0:
        return Health.PROGRESSING, "no ready endpoints"
    return Health.HEALTHY, f"{ready_endpoints} ready endpoint{'' if ready_endpoints == 1 else 's'}"


def _ingress(live: Live) -> Verdict:
    """Always Healthy: an ingress controller may be absent, and that must not block a rollout."""
    entries = _field(live, "status", "loadBalancer", "ingress") or []
    addresses = [str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")]
    return Health.HEALTHY, f"address {', '.join(addresses)}" if addresses else "no load-balancer address yet"


def _hpa(live: Live) -> Verdict:
    """Always Healthy, with the autoscaler's complaint (if any) in the message.

    Without metrics-server (the local cluster, many dev clusters) every HPA says ScalingActive=False
    FailedGetResourceMetric and just keeps the current replicas, which the Deployment's own health
    covers; so an HPA never blocks a rollout, it only explains itself.
    """
    conditions = _conditions(live)
    for kind in ("AbleToScale", "ScalingActive"):
        condition = conditions.get(kind, {})
        if condition.get("status") == "False":
            reason, detail = condition.get("reason", ""), condition.get("message", "")
            return Health.HEALTHY, f"{kind}=False ({reason}): {detail}".rstrip(": ")
    current, wanted = _count(live, "currentReplicas"), _count(live, "desiredReplicas")
    return Health.HEALTHY, f"{current} replicas (desired {wanted})"


def _ready_condition(live: Live) -> Verdict:
    """The common custom-resource convention: a current `Ready` condition says it all."""
    stale = _unobserved_if_reported(live)
    if stale:
        return Health.PROGRESSING, stale
    ready = _conditions(live).get("Ready")
    if ready is None:
        return Health.PROGRESSING, "no Ready condition yet"
    detail = f"{ready.get('reason', '')}: {ready.get('message', '')}".strip(": ")
    if ready.get("status") == "True":
        return Health.HEALTHY, f"Ready{f' ({detail})' if detail else ''}"
    if ready.get("status") == "False":
        return Health.DEGRADED, f"not Ready: {detail or 'no reason given'}"
    return Health.PROGRESSING, f"Ready unknown: {detail or 'no reason given'}"


def _route(live: Live) -> Verdict:
    """Gateway API route status: each parent Gateway's controller says Accepted and ResolvedRefs.

    No parent has reported yet: Progressing (no Gateway controller picked it up; at the rollout
    deadline that fails the revision, because nothing serves the route). A parent that refuses it
    (wrong listener, hostname not allowed) or cannot resolve its backend: Degraded.
    """
    parents = [p for p in _field(live, "status", "parents") or [] if isinstance(p, Mapping)]
    if not parents:
        return Health.PROGRESSING, "not accepted by a Gateway yet (no parent status)"
    generation = _field(live, "metadata", "generation")
    for parent in parents:
        name = str((parent.get("parentRef") or {}).get("name", "?"))
        conditions = {str(c.get("type")): c for c in parent.get("conditions") or [] if isinstance(c, Mapping)}
        for kind in ("Accepted", "ResolvedRefs"):
            condition = conditions.get(kind)
            if condition is None:
                return Health.PROGRESSING, f"Gateway {name} has not reported {kind} yet"
            observed = condition.get("observedGeneration")
            if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
                return Health.PROGRESSING, f"Gateway {name} has not observed generation {generation} yet"
            if condition.get("status") != "True":
                detail = f"{condition.get('reason', '')}: {condition.get('message', '')}".strip(": ")
                return Health.DEGRADED, f"{kind}=False on Gateway {name}: {detail or 'no reason given'}"
    names = ", ".join(str((p.get("parentRef") or {}).get("name", "?")) for p in parents)
    return Health.HEALTHY, f"accepted by Gateway {names}"


def _unobserved_if_reported(live: Live) -> str | None:
    """Like `_unobserved`, for resources whose controllers may not report observedGeneration."""
    if _field(live, "status", "observedGeneration") is None:
        return None
    return _unobserved(live)


_RULES: dict[HealthRule, Callable[[Live], Verdict]] = {
    HealthRule.DEPLOYMENT: _deployment,
    HealthRule.STATEFULSET: _statefulset,
    HealthRule.PVC: _pvc,
    HealthRule.INGRESS: _ingress,
    HealthRule.HPA: _hpa,
    HealthRule.READY_CONDITION: _ready_condition,
    HealthRule.ROUTE: _route,
}
"""The rule for each `HealthRule` of the kinds table (SERVICE needs endpoints; EXISTS needs none)."""


def _unobserved(live: Live) -> str | None:
    """Status written for an older spec cannot be trusted: say so, or None when it is current."""
    generation = _field(live, "metadata", "generation")
    observed = _field(live, "status", "observedGeneration")
    if not isinstance(observed, int):
        return "not yet observed by its controller"
    if isinstance(generation, int) and generation > observed:
        return f"waiting for the controller to observe generation {generation} (observed {observed})"
    return None


def _conditions(live: Live) -> dict[str, Mapping[str, Any]]:
    conditions = _field(live, "status", "conditions") or []
    return {str(c.get("type")): c for c in conditions if isinstance(c, Mapping)}


def _count(live: Live, name: str) -> int:
    value = _field(live, "status", name)
    return value if isinstance(value, int) else 0


def _field(live: Live, *path: str) -> Any:
    value: Any = live
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# -- reading the cluster ----------------------------------------------------------------------------


def check_unit(kube: ClusterReader, unit: str, keys: Sequence[ObjectKey]) -> UnitHealth:
    """Judge every object of a unit from the live cluster (ClusterError when the API fails)."""
    objects = tuple(_check_object(kube, key) for key in keys)
    return UnitHealth(unit, worst(o.health for o in objects), objects)


def judge_unit(read: Callable[[ObjectKey], Live | None], unit: str, keys: Sequence[ObjectKey]) -> UnitHealth:
    """Judge a unit from objects someone already holds (the agent's watch cache): no requests.

    Services are judged without their endpoints; the workloads behind them say whether pods are ready.
    """
    objects = tuple(object_health(read(key), key) for key in keys)
    return UnitHealth(unit, worst(o.health for o in objects), objects)


def _check_object(kube: ClusterReader, key: ObjectKey) -> ObjectHealth:
    try:
        live = kube.get(key.api_version, key.kind, key.name, key.namespace)
    except NotFoundError as err:  # the kind itself is not served, e.g. its CRD is not installed
        return ObjectHealth(key, Health.MISSING, str(err))
    endpoints = None
    if live is not None and kind_of(key).health is HealthRule.SERVICE and _field(live, "spec", "selector"):
        endpoints = _ready_endpoints(kube, key)
    return object_health(live, key, ready_endpoints=endpoints)


def _ready_endpoints(kube: ClusterReader, service: ObjectKey) -> int:
    """Ready endpoints across the Service's EndpointSlices, each pod counted once.

    Dual-stack Services get one slice per address family, so endpoints are de-duplicated by the
    pod they point at. A missing `ready` condition means ready (EndpointConditions API docs).
    """
    selector = f"kubernetes.io/service-name={service.name}"
    slices = kube.list(
        "discovery.k8s.io/v1", "EndpointSlice", namespace=service.namespace, label_selector=selector
    )
    ready: set[str] = set()
    for endpoint_slice in slices.items:
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            target = endpoint.get("targetRef") or {}
            ready.add(str(target.get("uid") or ",".join(endpoint.get("addresses") or [])))
    return len(ready)


def wait_for_health(
    kube: ClusterReader,
    units: Mapping[str, Sequence[ObjectKey]],
    *,
    timeout_seconds: float,
    poll_seconds: float = 1.0,
    on_progress: Callable[[UnitHealth], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, UnitHealth]:
    """Poll until every unit is HEALTHY or DEGRADED, or the timeout passes (at least one pass).

    Settled units are not polled again: Degraded means the deadline already passed, and a rollback
    decision belongs to the caller. Retryable API errors keep a unit's last verdict and are retried
    on the next poll; others propagate. `on_progress` hears each change of (health, summary).
    """
    deadline = clock() + timeout_seconds
    results = {name: _unchecked(name, keys, "not checked yet") for name, keys in units.items()}
    checked: set[str] = set()
    reported: dict[str, tuple[Health, str]] = {}
    while True:
        for name, keys in units.items():
            if results[name].health in _SETTLED:
                continue
            polled = _poll(kube, name, keys)
            if isinstance(polled, UnitHealth):
                results[name] = polled
                checked.add(name)
            elif name not in checked:  # otherwise keep the last verdict through a blip
                results[name] = _unchecked(name, keys, f"health unknown: {polled}")
            seen = (results[name].health, results[name].summary)
            if on_progress is not None and reported.get(name) != seen:
                on_progress(results[name])
            reported[name] = seen
        remaining = deadline - clock()  # NaN when a stopping caller's clock says inf from the start
        if not remaining > 0 or all(r.health in _SETTLED for r in results.values()):
            return results
        sleep(min(poll_seconds, remaining))


def _poll(kube: ClusterReader, name: str, keys: Sequence[ObjectKey]) -> UnitHealth | ClusterError:
    """A fresh verdict, or the retryable error that prevented it (others propagate)."""
    try:
        return check_unit(kube, name, keys)
    except ClusterError as err:
        if not err.retryable:
            raise
        return err


def _unchecked(name: str, keys: Sequence[ObjectKey], message: str) -> UnitHealth:
    objects = tuple(ObjectHealth(key, Health.PROGRESSING, message) for key in keys)
    return UnitHealth(name, Health.PROGRESSING if objects else Health.HEALTHY, objects)


# -- rendering --------------------------------------------------------------------------------------


def progress_line(unit: UnitHealth, *, width: int = 13) -> str:
    """One aligned line per unit for `--wait`: name, health, and the object holding it back."""
    culprit = unit.culprit
    detail = f"{culprit.key}: {culprit.message}" if culprit else unit.summary
    return f"{unit.unit:<{width}} {unit.health.value:<12} {detail}"
