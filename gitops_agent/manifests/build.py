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
    Defaults,
    DeploymentType,
    External,
    Ingress,
    IngressSettings,
    ManagedPostgres,
    ManagedRedis,
    PrunePolicy,
    Queue,
    Resources,
    Scale,
    SecretEnvVar,
    SecretKeyRef,
    Settings,
    SyncPolicy,
)
from gitops_agent.manifests.schemas import schema_default
from gitops_agent.manifests.syntax import quantity_string

DEFAULT_REPLICAS = {DeploymentType.DEVELOPMENT: 1, DeploymentType.PRODUCTION: 2}
"""API server replicas when a deployment sets neither `replicas` nor `autoscaling`."""


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


def settings_from(data: Mapping[str, Any], *, file: str) -> Settings:
    """Build Settings from a schema-valid `gitops-agent.yaml`."""
    ingress = data.get("ingress", {})
    defaults = data.get("defaults", {})
    postgres = defaults.get("postgres", {})
    sync = data.get("sync", {})
    prune = sync.get("prune", {})
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
            resources=resources_from(defaults.get("resources", _settings_default("defaults.resources")))
            or Resources(),
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
    )


def _scale(data: Mapping[str, Any], default_replicas: int) -> Scale:
    """Fixed replicas, or an autoscaler when max > min (equal bounds mean a fixed count)."""
    block = data.get("autoscaling")
    if block is None:
        return Scale(replicas=data.get("replicas", default_replicas))
    low = block.get("minReplicas", _deployment_default("spec.autoscaling.minReplicas"))
    high = block["maxReplicas"]
    target = block.get("targetCPUUtilization", _deployment_default("spec.autoscaling.targetCPUUtilization"))
    return Scale(replicas=low, autoscaling=Autoscaling(low, high, target) if high > low else None)


def _queue(spec: Mapping[str, Any], api_resources: Resources) -> Queue:
    block = spec.get("queue", {})
    return Queue(
        enabled=block.get("enabled", _deployment_default("spec.queue.enabled")),
        scale=_scale(block, _deployment_default("spec.queue.replicas")),
        jobs_per_worker=block.get("jobsPerWorker", _deployment_default("spec.queue.jobsPerWorker")),
        resources=resources_from(block.get("resources")) or api_resources,
    )


def _secret_ref(data: Mapping[str, Any]) -> SecretKeyRef:
    return SecretKeyRef(name=data["name"], key=data["key"])


def _postgres(spec: Mapping[str, Any], settings: Settings) -> ManagedPostgres | External:
    block = spec.get("postgres", {"managed": {}})
    if "external" in block:
        return External(_secret_ref(block["external"]["uriSecret"]))
    managed = block.get("managed", {})
    prefix = "spec.postgres.managed."
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
    resources = resources_from(spec.get("resources")) or settings.defaults.resources
    return AgentDeployment(
        name=name,
        namespace=data["metadata"].get("namespace", settings.namespace),
        file=file,
        image=spec["image"],
        type=kind,
        scale=_scale(spec, DEFAULT_REPLICAS[kind]),
        resources=resources,
        env=tuple(spec.get("env", {}).items()),
        secret_env=tuple(
            SecretEnvVar(e["name"], SecretKeyRef(e["secret"], e["key"])) for e in spec.get("secretEnv", [])
        ),
        queue=_queue(spec, resources),
        postgres=_postgres(spec, settings),
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
    )
