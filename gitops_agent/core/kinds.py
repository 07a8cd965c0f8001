"""What we know about each Kubernetes kind, in one table.

Every stage that treats kinds differently reads this table and nothing else: the renderer (the
stage a plain manifest is applied in), apply (re-create on an immutable-field change), prune (delete
order: the reverse of the apply stages), health (which rule judges it), the watch cache (which kinds
are watched for self-heal), the chart test (the RBAC verbs the chart must grant in each target
namespace) and the `manifests/` policy (where a workload keeps its pod spec). Adding a rendered kind
is one `Kind(...)` line here plus its rule where one is needed.

A kind that is not in the table (a custom resource, a plain workload of another kind) is applied in
the WORKLOAD stage, deleted with the workloads, never re-created, judged healthy once it exists, not
watched, and needs RBAC beyond what the chart grants.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gitops_agent.core.objects import ObjectKey


class Stage(enum.IntEnum):
    """Apply order: what others depend on goes first (prune deletes in the reverse order)."""

    CONFIG = 0
    """Secrets, ConfigMaps, ServiceAccounts, RBAC, NetworkPolicies, PVCs."""
    DATA = 1
    """Managed Postgres and Redis."""
    WORKLOAD = 2
    """Agent API server and queue workers (and other workloads)."""
    SERVICE = 3
    ROUTING = 4
    """Ingress, Gateway API HTTPRoutes."""
    SCALING = 5
    """HorizontalPodAutoscalers, KEDA ScaledObjects, PodDisruptionBudgets."""


class HealthRule(enum.StrEnum):
    """Which rule in `engine.health` judges a kind (EXISTS: healthy once it exists)."""

    EXISTS = "exists"
    DEPLOYMENT = "deployment"
    STATEFULSET = "statefulset"
    PVC = "pvc"
    SERVICE = "service"
    INGRESS = "ingress"
    HPA = "hpa"
    READY_CONDITION = "ready-condition"
    """Custom resources with a `Ready` condition (KEDA, cert-manager, Flux, ...)."""
    ROUTE = "route"
    """Gateway API routes: accepted by every parent Gateway, with their backends resolved."""


class Recreate(enum.Enum):
    """What an immutable-field change does to an object of this kind."""

    NEVER = "never"
    """The sync fails and says why (the default for unknown kinds)."""
    ALWAYS = "always"
    """Delete and re-create: the kind holds no data."""
    ON_REQUEST = "on-request"
    """Delete and re-create only when asked (`--recreate-statefulsets`; PVCs are kept)."""


WRITE = ("get", "list", "watch", "create", "update", "patch", "delete")
READ = ("get", "list", "watch")
EMIT = ("create", "patch")


@dataclass(frozen=True)
class Kind:
    """One kind and how every stage treats it."""

    api_version: str
    """The version we render, watch and read."""
    kind: str
    resource: str
    """The plural resource name (RBAC rules)."""
    stage: Stage | None = None
    """Default apply stage; None for kinds the agent only reads or emits (never in a render)."""
    recreate: Recreate = Recreate.NEVER
    watched: bool = False
    """Watched by the running agent: a change outside Git triggers self-heal."""
    health: HealthRule = HealthRule.EXISTS
    verbs: tuple[str, ...] = ()
    """What the chart grants the agent in each target namespace (empty: nothing, bring your own RBAC)."""
    pod_spec: tuple[str, ...] = ()
    """Where a workload keeps its pod spec (the `manifests/` policy checks it); empty: not a workload."""
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Subresources the chart grants too, with their verbs (the UI reads `pods/log`)."""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def delete_rank(self) -> int:
        """Prune order: dependents first, the reverse of the apply stages."""
        return max(Stage) - (self.stage if self.stage is not None else Stage.WORKLOAD)


_ALWAYS, _ON_REQUEST = Recreate.ALWAYS, Recreate.ON_REQUEST
_NET, _APPS = "networking.k8s.io/v1", "apps/v1"
_TEMPLATE = ("spec", "template", "spec")
KINDS: tuple[Kind, ...] = (
    Kind("v1", "ConfigMap", "configmaps", Stage.CONFIG, _ALWAYS, watched=True, verbs=WRITE),
    Kind("v1", "Secret", "secrets", Stage.CONFIG, _ALWAYS, watched=True, verbs=WRITE),
    Kind("v1", "ServiceAccount", "serviceaccounts", Stage.CONFIG, watched=True, verbs=WRITE),
    Kind(_NET, "NetworkPolicy", "networkpolicies", Stage.CONFIG, _ALWAYS, watched=True, verbs=WRITE),
    Kind("rbac.authorization.k8s.io/v1", "Role", "roles", Stage.CONFIG),
    Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", Stage.CONFIG),
    Kind("v1", "ResourceQuota", "resourcequotas", Stage.CONFIG),
    Kind("v1", "LimitRange", "limitranges", Stage.CONFIG),
    # Created and deleted only to move a managed Postgres's volume (`volumeFrom`, engine.volumes).
    Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims", Stage.CONFIG, health=HealthRule.PVC,
         verbs=(*READ, "create", "delete")),
    Kind(_APPS, "StatefulSet", "statefulsets", Stage.DATA, _ON_REQUEST, watched=True,
         health=HealthRule.STATEFULSET, verbs=WRITE, pod_spec=_TEMPLATE),
    Kind(_APPS, "Deployment", "deployments", Stage.WORKLOAD, _ALWAYS, watched=True,
         health=HealthRule.DEPLOYMENT, verbs=WRITE, pod_spec=_TEMPLATE),
    Kind("batch/v1", "Job", "jobs", Stage.WORKLOAD, _ALWAYS, pod_spec=_TEMPLATE),
    # Other workloads: only plain manifests hold them (applied like unknown kinds).
    Kind(_APPS, "DaemonSet", "daemonsets", Stage.WORKLOAD, pod_spec=_TEMPLATE),
    Kind(_APPS, "ReplicaSet", "replicasets", Stage.WORKLOAD, pod_spec=_TEMPLATE),
    Kind("v1", "ReplicationController", "replicationcontrollers", Stage.WORKLOAD, pod_spec=_TEMPLATE),
    Kind("batch/v1", "CronJob", "cronjobs", Stage.WORKLOAD, pod_spec=("spec", "jobTemplate", *_TEMPLATE)),
    Kind("v1", "Service", "services", Stage.SERVICE, _ALWAYS, watched=True, health=HealthRule.SERVICE,
         verbs=WRITE),
    Kind(_NET, "Ingress", "ingresses", Stage.ROUTING, _ALWAYS, watched=True, health=HealthRule.INGRESS,
         verbs=WRITE),
    Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", Stage.SCALING, _ALWAYS,
         watched=True, health=HealthRule.HPA, verbs=WRITE),
    # Custom resources we render (their CRDs may be missing: the watch cache then waits for them).
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", Stage.ROUTING, _ALWAYS, watched=True,
         health=HealthRule.ROUTE, verbs=WRITE),
    Kind("keda.sh/v1alpha1", "ScaledObject", "scaledobjects", Stage.SCALING, _ALWAYS, watched=True,
         health=HealthRule.READY_CONDITION, verbs=WRITE),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", Stage.SCALING, _ALWAYS, watched=True,
         verbs=WRITE),
    # Read only: Service health counts EndpointSlices; the workload view reads Pods.
    Kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", verbs=READ),
    Kind("v1", "Pod", "pods", verbs=READ, pod_spec=("spec",), subresources=(("log", ("get",)),)),
    # Emitted: what the agent did, on the objects it did it to (listed too: the UI's workload view).
    Kind("v1", "Event", "events", verbs=(*EMIT, "list")),
    Kind("events.k8s.io/v1", "Event", "events", verbs=EMIT),
)  # fmt: skip

_BY_GROUP_KIND = {(k.group, k.kind): k for k in KINDS}


def kind_of(key: ObjectKey) -> Kind:
    """The table's record for `key`'s kind (any version of its group), or the default for unknown kinds."""
    return _BY_GROUP_KIND.get((key.group, key.kind)) or Kind(key.api_version, key.kind, "", Stage.WORKLOAD)


def target_rules() -> dict[tuple[str, str], tuple[str, ...]]:
    """(apiGroup, resource or resource/subresource) → the verbs the chart grants in a target namespace."""
    rules = {(k.group, k.resource): k.verbs for k in KINDS if k.verbs}
    for k in KINDS:
        rules.update({(k.group, f"{k.resource}/{sub}"): verbs for sub, verbs in k.subresources})
    return rules


def watched_kinds() -> tuple[Kind, ...]:
    """The kinds the running agent keeps watch streams for."""
    return tuple(k for k in KINDS if k.watched)
