"""Typed, immutable results of loading a deployments repository.

Everything downstream (render, the sync engine, the CLI) works on these frozen dataclasses rather than
on raw YAML, so defaults are resolved once, here, and an `AgentDeployment` that exists is known to be
valid. Problems are values too: loading never raises for bad input, it reports.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitops_agent.core.kinds import KINDS, WRITE


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the repository, located as precisely as the input allows."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class DeploymentType(StrEnum):
    """LangGraph Platform's two deployment flavours."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True)
class Resources:
    """Container requests and limits as Kubernetes quantity strings (None = not set)."""

    cpu_request: str | None = None
    memory_request: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        """The `resources` block of a container, leaving out what is not set."""
        out: dict[str, dict[str, str]] = {}
        for section, cpu, memory in (
            ("requests", self.cpu_request, self.memory_request),
            ("limits", self.cpu_limit, self.memory_limit),
        ):
            values = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
            if values:
                out[section] = values
        return out


class AutoscalingMode(StrEnum):
    """Which autoscaler owns the replica count."""

    HPA = "hpa"
    """A HorizontalPodAutoscaler on CPU."""
    KEDA = "keda"
    """A KEDA ScaledObject on pending runs, CPU and memory."""


@dataclass(frozen=True)
class KedaTiming:
    """How fast a KEDA ScaledObject reacts (LangChain's chart defaults)."""

    polling_interval: int = 30
    cooldown_period: int = 300
    scale_down_stabilization_seconds: int = 300


@dataclass(frozen=True)
class Autoscaling:
    """An autoscaler between min and max replicas; only built when max > min."""

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int
    mode: AutoscalingMode = AutoscalingMode.HPA
    target_memory_utilization: int | None = None
    keda: KedaTiming = KedaTiming()


@dataclass(frozen=True)
class Scale:
    """How many pods: a fixed count, or a range owned by an autoscaler (then `replicas` is the minimum)."""

    replicas: int
    autoscaling: Autoscaling | None = None

    @property
    def max_pods(self) -> int:
        """Most pods that can run at once (ignoring rollout surge)."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas


@dataclass(frozen=True)
class SecretKeyRef:
    """A key in an existing Secret."""

    name: str
    key: str


@dataclass(frozen=True)
class SecretEnvVar:
    """An environment variable read from a Secret."""

    name: str
    secret: SecretKeyRef


@dataclass(frozen=True)
class Queue:
    """Background run execution: inside the API server, or in separate queue-worker pods."""

    enabled: bool
    scale: Scale
    jobs_per_worker: int
    resources: Resources
    command: tuple[str, ...]
    """The queue-worker container's `command` (`spec.queue.command`)."""


@dataclass(frozen=True, order=True)
class DatabaseHome:
    """Where a managed Postgres keeps its data: the StatefulSet's one claim, `data-<name>-postgres-0`
    in the deployment's namespace. A new namespace or name is a new home, and a new, empty volume."""

    namespace: str
    deployment: str

    @property
    def claim(self) -> str:
        return f"data-{self.deployment}-postgres-0"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.claim}"


@dataclass(frozen=True)
class ManagedPostgres:
    """Postgres run by gitops-agent as a StatefulSet."""

    image: str
    storage: str
    storage_class_name: str | None
    max_connections: int
    keep_volume_on_delete: bool
    resources: Resources
    volume_from: DatabaseHome | None = None
    """`volumeFrom`: the home whose data this database continues (a move or a rename), resolved."""


@dataclass(frozen=True)
class ManagedRedis:
    """Redis run by gitops-agent as a Deployment."""

    image: str
    resources: Resources


@dataclass(frozen=True)
class External:
    """A database run elsewhere; its connection URI lives in a Secret."""

    uri_secret: SecretKeyRef


class Routing(StrEnum):
    """What serves `spec.ingress`: an Ingress, or a Gateway API HTTPRoute."""

    INGRESS = "ingress"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class GatewayRef:
    """The shared Gateway HTTPRoutes attach to (`parentRefs`)."""

    name: str
    namespace: str | None = None
    section_name: str | None = None


JOB_GRACE_ENV = "BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS"
JOB_GRACE_DEFAULT_SECONDS = 180
"""How long LangGraph Server lets running jobs finish on shutdown unless `JOB_GRACE_ENV` says
otherwise (langgraph_api/config/__init__.py:363-367 in langgraph-api 0.16.7)."""

STARTUP_KEYS = ("LANGSMITH_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY")
"""LangGraph Server refuses to start without one of these (`LangSmith.key_refs` injects them)."""


@dataclass(frozen=True)
class LangSmith:
    """How a deployment reaches the team's LangSmith (settings, then the deployment's overrides)."""

    enabled: bool = True
    endpoint: str | None = None
    api_key: SecretKeyRef | None = None
    license_key: SecretKeyRef | None = None
    tracing: bool = True
    project: str | None = None

    @property
    def key_refs(self) -> tuple[tuple[str, SecretKeyRef], ...]:
        """(variable, Secret key) of each start-up key this block injects (none when disabled)."""
        if not self.enabled:
            return ()
        pairs = zip(STARTUP_KEYS, (self.api_key, self.license_key), strict=True)
        return tuple((name, ref) for name, ref in pairs if ref is not None)


@dataclass(frozen=True)
class Ingress:
    """How the API server is reached from outside: the host and the full (composed) path."""

    host: str
    path: str
    shared_host: bool
    tls_secret_name: str | None
    class_name: str | None
    annotations: tuple[tuple[str, str], ...]

    @property
    def mount_prefix(self) -> str | None:
        """What LangGraph Server must be told (`MOUNT_PREFIX`) to serve under this path; None at `/`."""
        return None if self.path == "/" else self.path


@dataclass(frozen=True)
class AgentDeployment:
    """One valid `deployments/<name>.yaml`, with every default resolved."""

    name: str
    namespace: str
    file: str
    image: str
    type: DeploymentType
    scale: Scale
    resources: Resources
    env: tuple[tuple[str, str], ...]
    secret_env: tuple[SecretEnvVar, ...]
    queue: Queue
    postgres: ManagedPostgres | External
    redis: ManagedRedis | External
    ingress: Ingress | None
    auto_rollback: bool
    progress_deadline_seconds: int = 600
    suspend: bool = False
    """Left alone by the agent: no apply, no self-heal, no prune."""
    redeploy: str = ""
    """Changed to roll out the same spec again (a pod-template annotation)."""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    service_account_name: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[dict[str, Any], ...] = ()
    routing: Routing = Routing.INGRESS
    gateway: GatewayRef | None = None
    """The shared Gateway, when `routing` is GATEWAY (None: not configured, a validation problem)."""
    langsmith: LangSmith = LangSmith(enabled=False)
    volumes: tuple[dict[str, Any], ...] = ()
    """Kubernetes `Volume`s (schema-checked) of the API server and queue worker pods."""
    volume_mounts: tuple[dict[str, Any], ...] = ()
    init_containers: tuple[dict[str, Any], ...] = ()
    sidecars: tuple[dict[str, Any], ...] = ()
    affinity: dict[str, Any] | None = None
    topology_spread: tuple[dict[str, Any], ...] = ()

    @property
    def job_grace_seconds(self) -> int:
        """How long the server waits for running jobs on shutdown: `env`'s `JOB_GRACE_ENV` (the
        schema allows only digits there), else the server's default."""
        value = dict(self.env).get(JOB_GRACE_ENV)
        return int(value) if value is not None and value.isdigit() else JOB_GRACE_DEFAULT_SECONDS


@dataclass(frozen=True)
class IngressSettings:
    """The shared entry point all path-routed deployments hang under."""

    host: str | None = None
    class_name: str | None = None
    tls_secret_name: str | None = None
    base_path: str = "/"
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PrunePolicy:
    """Whether and how much the sync engine may delete in one go."""

    enabled: bool = True
    max_share: float = 0.5


@dataclass(frozen=True)
class SyncPolicy:
    """Repository-wide sync behaviour for the in-cluster agent."""

    self_heal: bool = True
    prune: PrunePolicy = PrunePolicy()
    auto_rollback: bool = True


@dataclass(frozen=True)
class Defaults:
    """Values for deployments that leave them out."""

    type: DeploymentType = DeploymentType.DEVELOPMENT
    resources: Resources | None = None
    """For every type; None: by type (`TYPE_RESOURCES` in `build`)."""
    postgres_storage: str = "10Gi"
    postgres_storage_class_name: str | None = None


def _default_allowed_kinds() -> tuple[str, ...]:
    """What the chart's RBAC lets the agent write (the kinds table's WRITE kinds), as `[group/]Kind`."""
    return tuple(sorted(f"{k.group}/{k.kind}" if k.group else k.kind for k in KINDS if k.verbs == WRITE))


@dataclass(frozen=True)
class ManifestPolicy:
    """What `manifests/` may hold (see `manifests.policy`)."""

    allowed_kinds: tuple[str, ...] = field(default_factory=_default_allowed_kinds)
    """`Kind` (any group) or `group/Kind` entries."""
    allow_plaintext_secrets: bool = False
    allow_privileged_pods: bool = False

    def allows_kind(self, api_version: str, kind: str) -> bool:
        group = api_version.rpartition("/")[0]
        return kind in self.allowed_kinds or (bool(group) and f"{group}/{kind}" in self.allowed_kinds)


@dataclass(frozen=True)
class Settings:
    """A valid `gitops-agent.yaml`."""

    namespace: str
    allowed_namespaces: tuple[str, ...]
    ingress: IngressSettings
    defaults: Defaults
    sync: SyncPolicy
    file: str = "gitops-agent.yaml"
    routing: Routing = Routing.INGRESS
    gateway: GatewayRef | None = None
    langsmith: LangSmith = LangSmith()
    autoscaling_mode: AutoscalingMode = AutoscalingMode.HPA
    keda: KedaTiming = KedaTiming()
    manifests: ManifestPolicy = field(default_factory=ManifestPolicy)

    def namespace_allowed(self, namespace: str) -> bool:
        """The target namespace and the listed extra namespaces are allowed."""
        return namespace == self.namespace or namespace in self.allowed_namespaces


@dataclass(frozen=True)
class Contest:
    """A claim this unit shares with others (one route, one object name): only one may hold it."""

    problem: Problem
    rivals: tuple[str, ...]
    """The other units making the same claim."""


@dataclass(frozen=True)
class Unit:
    """What the sync engine converges as one piece: a deployment, or the plain `manifests/` folder.

    A unit in a contest stays renderable: who keeps the claim is decided where it is known which
    unit already holds it live (the incumbent keeps it, a newcomer fails; see `lost_contests`).
    """

    name: str
    files: tuple[str, ...]
    deployment: AgentDeployment | None = None
    plain_objects: tuple[dict[str, Any], ...] = ()
    problems: tuple[Problem, ...] = ()
    contests: tuple[Contest, ...] = ()

    def lost_contests(self, live: Collection[str]) -> tuple[Problem, ...]:
        """The contests this unit loses: all, unless it is live and none of its rivals is."""
        incumbent = self.name in live and not any(r in live for c in self.contests for r in c.rivals)
        return () if incumbent else tuple(c.problem for c in self.contests)

    @property
    def valid(self) -> bool:
        """True when the unit can be rendered and applied."""
        return not self.problems


@dataclass(frozen=True)
class RepositoryLoad:
    """Everything `load_repository` found.

    `problems` holds what belongs to no single unit (settings, repository layout) and cross-file
    conflicts (duplicate names, ingress routes, object names); a cross-file conflict is also attached
    to every unit involved, so each of those units is invalid on its own.
    """

    settings: Settings | None
    units: tuple[Unit, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()
    """Things worth fixing that do not make the repository invalid (credential-like plain values)."""

    @property
    def valid(self) -> bool:
        """True when the settings and every unit are valid."""
        return self.settings is not None and not self.problems and all(u.valid for u in self.units)

    def all_problems(self) -> tuple[Problem, ...]:
        """Every problem once, sorted by file and position."""
        seen = set(self.problems)
        for unit in self.units:
            seen.update(unit.problems)
        return tuple(sorted(seen))

    def unit(self, name: str) -> Unit | None:
        """The unit called `name`, if any."""
        return next((u for u in self.units if u.name == name), None)
