"""Schema-valid YAML data → typed model, with every default resolved.

Defaults come from three places, in this order: the deployment file, the repository settings
(`defaults`, `sync`, `ingress`), and the `default` keywords of the JSON Schemas (read through
`schema_default`, so documentation and behaviour share one value). Input here has passed the schema,
so shapes are trusted; semantic mistakes (min > max, bad quantities) are kept as written for the
validator to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_agent.manifests.model import (
    AgentDeployment,
    Autoscaling,
    AutoscalingMode,
    DatabaseHome,
    Defaults,
    DeploymentType,
    External,
    GatewayRef,
    Ingress,
    IngressSettings,
    KedaTiming,
    LangSmith,
    ManagedPostgres,
    ManagedRedis,
    ManifestPolicy,
    PrunePolicy,
    Queue,
    Resources,
    Routing,
    Scale,
    SecretEnvVar,
    SecretKeyRef,
    Settings,
    SyncPolicy,
)
from gitops_agent.manifests.schemas import schema_default
from gitops_agent.manifests.syntax import quantity_string

DEFAULT_REPLICAS = {DeploymentType.DEVELOPMENT: 1, DeploymentType.PRODUCTION: 2}
"""API server replicas when a deployment sets neither `replicas` nor `autoscaling` (production: the
minimum of its default autoscaler, `PRODUCTION_MAX_REPLICAS`)."""
PRODUCTION_MAX_REPLICAS = 10
"""LangGraph's production deployments scale up to 10 replicas."""
TYPE_RESOURCES = {
    DeploymentType.DEVELOPMENT: Resources(cpu_request="1", memory_request="1Gi", memory_limit="1Gi"),
    DeploymentType.PRODUCTION: Resources(cpu_request="2", memory_request="2Gi", memory_limit="2Gi"),
}
"""LangGraph's sizes (development 1 CPU / 1 GiB, production 2 CPU / 2 GiB), used when neither the
deployment nor `defaults.resources` sets any: memory limit = request (a pod is never OOM-killed for
memory it was promised, nor evicted first under node pressure), no CPU limit (a busy agent is never
throttled; the request already reserves its share)."""


def _deployment_default(path: str) -> Any:
    return schema_default("agentdeployment", path)


def _settings_default(path: str) -> Any:
    return schema_default("settings", path)


def resources_from(data: Mapping[str, Any] | None) -> Resources | None:
    """`{requests: {cpu, memory}, limits: {...}}` → Resources; None when not given."""
    if data is None:
        return None
    requests, limits = data.get("requests", {}), data.get("limits", {})

    def get(section: Mapping[str, Any], key: str) -> str | None:
        value = section.get(key)
        return None if value is None else quantity_string(value)

    return Resources(get(requests, "cpu"), get(requests, "memory"), get(limits, "cpu"), get(limits, "memory"))


def join_paths(base: str, path: str) -> str:
    """`/agents` + `/support-bot` → `/agents/support-bot`; `/` on either side adds nothing."""
    if base == "/":
        return path
    return base if path == "/" else base + path


def _secret_ref_or_none(data: Mapping[str, Any] | None) -> SecretKeyRef | None:
    return None if data is None else SecretKeyRef(name=data["name"], key=data["key"])


def _langsmith(data: Mapping[str, Any], base: LangSmith) -> LangSmith:
    """`base` with every field `data` sets replaced."""
    return LangSmith(
        enabled=data.get("enabled", base.enabled),
        endpoint=data.get("endpoint", base.endpoint),
        api_key=_secret_ref_or_none(data.get("apiKeySecret")) or base.api_key,
        license_key=_secret_ref_or_none(data.get("licenseKeySecret")) or base.license_key,
        tracing=data.get("tracing", base.tracing),
        project=data.get("project", base.project),
    )


def _gateway(data: Mapping[str, Any] | None) -> GatewayRef | None:
    if data is None:
        return None
    return GatewayRef(data["name"], data.get("namespace"), data.get("sectionName"))


def _keda(data: Mapping[str, Any]) -> KedaTiming:
    prefix = "autoscaling.keda."
    return KedaTiming(
        polling_interval=data.get("pollingInterval", _settings_default(prefix + "pollingInterval")),
        cooldown_period=data.get("cooldownPeriod", _settings_default(prefix + "cooldownPeriod")),
        scale_down_stabilization_seconds=data.get(
            "scaleDownStabilizationWindowSeconds",
            _settings_default(prefix + "scaleDownStabilizationWindowSeconds"),
        ),
    )


def settings_from(data: Mapping[str, Any], *, file: str) -> Settings:
    """Build Settings from a schema-valid `gitops-agent.yaml`."""
    ingress = data.get("ingress", {})
    defaults = data.get("defaults", {})
    postgres = defaults.get("postgres", {})
    sync = data.get("sync", {})
    prune = sync.get("prune", {})
    autoscaling = data.get("autoscaling", {})
    return Settings(
        namespace=data["namespace"],
        allowed_namespaces=tuple(data.get("allowedNamespaces", _settings_default("allowedNamespaces"))),
        ingress=IngressSettings(
            host=ingress.get("host"),
            class_name=ingress.get("className"),
            tls_secret_name=ingress.get("tlsSecretName"),
            base_path=ingress.get("basePath", _settings_default("ingress.basePath")),
            annotations=tuple(ingress.get("annotations", {}).items()),
        ),
        defaults=Defaults(
            type=DeploymentType(defaults.get("type", _settings_default("defaults.type"))),
            resources=resources_from(defaults.get("resources")),
            postgres_storage=quantity_string(
                postgres.get("storage", _settings_default("defaults.postgres.storage"))
            ),
            postgres_storage_class_name=postgres.get("storageClassName"),
        ),
        sync=SyncPolicy(
            self_heal=sync.get("selfHeal", _settings_default("sync.selfHeal")),
            prune=PrunePolicy(
                enabled=prune.get("enabled", _settings_default("sync.prune.enabled")),
                max_share=float(prune.get("maxShare", _settings_default("sync.prune.maxShare"))),
            ),
            auto_rollback=sync.get("autoRollback", _settings_default("sync.autoRollback")),
        ),
        file=file,
        routing=Routing(data.get("routing", _settings_default("routing"))),
        gateway=_gateway(data.get("gateway")),
        langsmith=_langsmith(
            data.get("langsmith", {}), LangSmith(tracing=_settings_default("langsmith.tracing"))
        ),
        autoscaling_mode=AutoscalingMode(autoscaling.get("mode", _settings_default("autoscaling.mode"))),
        keda=_keda(autoscaling.get("keda", {})),
        manifests=_manifest_policy(data.get("manifests", {})),
    )


def _manifest_policy(data: Mapping[str, Any]) -> ManifestPolicy:
    default = ManifestPolicy()
    return ManifestPolicy(
        allowed_kinds=tuple(data.get("allowedKinds", default.allowed_kinds)),
        allow_plaintext_secrets=data.get(
            "allowPlaintextSecrets", _settings_default("manifests.allowPlaintextSecrets")
        ),
        allow_privileged_pods=data.get(
            "allowPrivilegedPods", _settings_default("manifests.allowPrivilegedPods")
        ),
    )


def _scale(data: Mapping[str, Any], default: Scale, settings: Settings) -> Scale:
    """Fixed replicas, or an autoscaler when max > min (equal bounds mean a fixed count)."""
    block = data.get("autoscaling")
    if block is None:
        return Scale(replicas=data["replicas"]) if "replicas" in data else default
    low = block.get("minReplicas", _deployment_default("spec.autoscaling.minReplicas"))
    high = block["maxReplicas"]
    target = block.get("targetCPUUtilization", _deployment_default("spec.autoscaling.targetCPUUtilization"))
    mode = AutoscalingMode(block.get("mode", settings.autoscaling_mode))
    autoscaling = Autoscaling(low, high, target, mode, block.get("targetMemoryUtilization"), settings.keda)
    return Scale(replicas=low, autoscaling=autoscaling if high > low else None)


def _default_scale(kind: DeploymentType, resources: Resources, settings: Settings) -> Scale:
    """Development: 1 replica. Production: 2 to 10 on an autoscaler, when it has a CPU request to
    scale on (else 2 fixed: an HPA on CPU without a request never scales)."""
    low = DEFAULT_REPLICAS[kind]
    if kind is DeploymentType.DEVELOPMENT or resources.cpu_request is None:
        return Scale(replicas=low)
    target = _deployment_default("spec.autoscaling.targetCPUUtilization")
    mode = settings.autoscaling_mode
    return Scale(low, Autoscaling(low, PRODUCTION_MAX_REPLICAS, target, mode, keda=settings.keda))


def _queue(spec: Mapping[str, Any], api_resources: Resources, settings: Settings) -> Queue:
    block = spec.get("queue", {})
    default = Scale(replicas=_deployment_default("spec.queue.replicas"))
    return Queue(
        enabled=block.get("enabled", _deployment_default("spec.queue.enabled")),
        scale=_scale(block, default, settings),
        jobs_per_worker=block.get("jobsPerWorker", _deployment_default("spec.queue.jobsPerWorker")),
        resources=resources_from(block.get("resources")) or api_resources,
        command=tuple(block.get("command", _deployment_default("spec.queue.command"))),
    )


def _secret_ref(data: Mapping[str, Any]) -> SecretKeyRef:
    return SecretKeyRef(name=data["name"], key=data["key"])


def _postgres(
    spec: Mapping[str, Any], settings: Settings, *, namespace: str, name: str
) -> ManagedPostgres | External:
    block = spec.get("postgres", {"managed": {}})
    if "external" in block:
        return External(_secret_ref(block["external"]["uriSecret"]))
    managed = block.get("managed", {})
    prefix = "spec.postgres.managed."
    moved = managed.get("volumeFrom")
    return ManagedPostgres(
        image=managed.get("image", _deployment_default(prefix + "image")),
        storage=quantity_string(managed.get("storage", settings.defaults.postgres_storage)),
        storage_class_name=managed.get("storageClassName", settings.defaults.postgres_storage_class_name),
        max_connections=managed.get("maxConnections", _deployment_default(prefix + "maxConnections")),
        keep_volume_on_delete=managed.get(
            "keepVolumeOnDelete", _deployment_default(prefix + "keepVolumeOnDelete")
        ),
        resources=resources_from(managed.get("resources", _deployment_default(prefix + "resources")))
        or Resources(),
        volume_from=DatabaseHome(moved.get("namespace", namespace), moved.get("deployment", name))
        if moved
        else None,
    )


def _redis(spec: Mapping[str, Any]) -> ManagedRedis | External:
    block = spec.get("redis", {"managed": {}})
    if "external" in block:
        return External(_secret_ref(block["external"]["uriSecret"]))
    managed = block.get("managed", {})
    return ManagedRedis(
        image=managed.get("image", _deployment_default("spec.redis.managed.image")),
        resources=resources_from(
            managed.get("resources", _deployment_default("spec.redis.managed.resources"))
        )
        or Resources(),
    )


def _ingress(spec: Mapping[str, Any], name: str, settings: Settings) -> Ingress | None:
    block = spec.get("ingress")
    if block is None:
        return None
    shared = settings.ingress
    annotations = {**dict(shared.annotations), **block.get("annotations", {})}
    if "host" in block:
        host, path, tls = block["host"], block.get("path", "/"), block.get("tls", {}).get("secretName")
    else:
        host, tls = shared.host or "", shared.tls_secret_name
        path = join_paths(shared.base_path, block.get("path", f"/{name}"))
    return Ingress(
        host=host,
        path=path,
        shared_host="host" not in block,
        tls_secret_name=tls,
        class_name=shared.class_name,
        annotations=tuple(annotations.items()),
    )


def deployment_from(data: Mapping[str, Any], settings: Settings, *, file: str) -> AgentDeployment:
    """Build an AgentDeployment from a schema-valid document and the repository settings."""
    spec = data["spec"]
    name = data["metadata"]["name"]
    kind = DeploymentType(spec.get("type", settings.defaults.type))
    resources = resources_from(spec.get("resources")) or settings.defaults.resources or TYPE_RESOURCES[kind]
    routing = Routing(spec.get("routing", settings.routing))
    langsmith = _langsmith(spec.get("langsmith", {}), settings.langsmith)
    namespace = data["metadata"].get("namespace", settings.namespace)
    return AgentDeployment(
        name=name,
        namespace=namespace,
        file=file,
        image=spec["image"],
        type=kind,
        scale=_scale(spec, _default_scale(kind, resources, settings), settings),
        resources=resources,
        env=tuple(spec.get("env", {}).items()),
        secret_env=tuple(
            SecretEnvVar(e["name"], SecretKeyRef(e["secret"], e["key"])) for e in spec.get("secretEnv", [])
        ),
        queue=_queue(spec, resources, settings),
        postgres=_postgres(spec, settings, namespace=namespace, name=name),
        redis=_redis(spec),
        ingress=_ingress(spec, name, settings),
        auto_rollback=spec.get(
            "autoRollback", settings.sync.auto_rollback and kind is DeploymentType.PRODUCTION
        ),
        progress_deadline_seconds=spec.get(
            "progressDeadlineSeconds", _deployment_default("spec.progressDeadlineSeconds")
        ),
        suspend=bool(spec.get("suspend", False)),
        redeploy=str(spec.get("redeploy", "")),
        labels=tuple(spec.get("labels", {}).items()),
        annotations=tuple(spec.get("annotations", {}).items()),
        service_account_name=spec.get("serviceAccountName"),
        image_pull_secrets=tuple(spec.get("imagePullSecrets", [])),
        node_selector=tuple(spec.get("nodeSelector", {}).items()),
        tolerations=tuple(dict(t) for t in spec.get("tolerations", [])),
        routing=routing,
        gateway=settings.gateway if routing is Routing.GATEWAY else None,
        langsmith=langsmith,
        volumes=tuple(spec.get("volumes", [])),
        volume_mounts=tuple(spec.get("volumeMounts", [])),
        init_containers=tuple(spec.get("initContainers", [])),
        sidecars=tuple(spec.get("sidecars", [])),
        affinity=spec.get("affinity"),
        topology_spread=tuple(spec.get("topologySpreadConstraints", [])),
    )
