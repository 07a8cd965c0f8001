"""Managed Postgres and Redis, and how agent containers find their databases.

Generated passwords are derived, not random: HMAC-SHA256(secret_seed, "namespace/name/purpose").
Every render (any replica of the agent, any restart) produces the same password from the same seed,
so the Secret never changes under a running database, yet nothing secret is stored in Git. The
connection URIs contain the password and therefore only ever live in Secrets; agent containers read
them with `secretKeyRef`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any

from gitops_agent.core.labels import (
    APP_POSTGRES,
    APP_REDIS,
    COMPONENT_POSTGRES,
    COMPONENT_REDIS,
    selector_labels,
)
from gitops_agent.manifests.model import (
    AgentDeployment,
    DatabaseHome,
    External,
    ManagedPostgres,
    ManagedRedis,
    SecretKeyRef,
)
from gitops_agent.manifests.render_common import (
    exec_probe,
    object_meta,
    pod_meta,
    pull_secrets,
    secret_env,
    selector,
)
from gitops_agent.manifests.syntax import parse_quantity

POSTGRES_PORT = 5432
REDIS_PORT = 6379
POSTGRES_USER = "postgres"
POSTGRES_DB = "postgres"
PGDATA_MOUNT = "/var/lib/postgresql/data"
PASSWORD_LENGTH = 32
REDIS_MAXMEMORY_SHARE = 0.75
"""Redis's `maxmemory` as a share of its container's memory limit: the rest covers what Redis does not
count against it (client output buffers of pub/sub subscribers, replication, fragmentation), so the
limit is never reached and Redis evicts instead of being OOM-killed."""
REDIS_EVICTION_POLICY = "volatile-ttl"
"""LangGraph Server keeps resumable-stream chunks in Redis with a TTL (minutes); under memory
pressure the ones closest to expiry go first, and keys without a TTL (locks, signals) are never
evicted."""


def derive_password(secret_seed: bytes, *, namespace: str, name: str, purpose: str) -> str:
    """A stable URL-safe password: HMAC-SHA256(seed, f"{namespace}/{name}/{purpose}"), 32 characters."""
    digest = hmac.new(secret_seed, f"{namespace}/{name}/{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:PASSWORD_LENGTH]


def postgres_name(dep: AgentDeployment) -> str:
    return f"{dep.name}-postgres"


def database_home(dep: AgentDeployment) -> DatabaseHome | None:
    """Where `dep`'s managed Postgres keeps its data (None: its Postgres is external)."""
    return DatabaseHome(dep.namespace, dep.name) if isinstance(dep.postgres, ManagedPostgres) else None


def redis_name(dep: AgentDeployment) -> str:
    return f"{dep.name}-redis"


def database_uri_ref(dep: AgentDeployment) -> SecretKeyRef:
    """Where the Postgres URI lives: the generated Secret, or the user's."""
    if isinstance(dep.postgres, External):
        return dep.postgres.uri_secret
    return SecretKeyRef(postgres_name(dep), "uri")


def redis_uri_ref(dep: AgentDeployment) -> SecretKeyRef:
    """Where the Redis URI lives: the generated Secret, or the user's."""
    if isinstance(dep.redis, External):
        return dep.redis.uri_secret
    return SecretKeyRef(redis_name(dep), "uri")


def _secret(
    dep: AgentDeployment, name: str, *, app: str, component: str, values: dict[str, str]
) -> dict[str, Any]:
    """An Opaque Secret with base64 `data` (never `stringData`: it is write-only and would always diff)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(dep, name, app=app, component=component),
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in sorted(values.items())},
    }


def _service(
    dep: AgentDeployment, name: str, *, app: str, component: str, port: int, headless: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": selector_labels(app, dep.name),
        "ports": [{"name": app, "port": port, "targetPort": app, "protocol": "TCP"}],
    }
    if headless:
        spec["clusterIP"] = "None"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(dep, name, app=app, component=component),
        "spec": spec,
    }


def postgres_objects(
    dep: AgentDeployment, pg: ManagedPostgres, *, secret_seed: bytes
) -> list[dict[str, Any]]:
    """Secret (password, URI), headless Service and StatefulSet of a managed Postgres."""
    name = postgres_name(dep)
    # The database keeps the password it was created with (initdb reads it once): a moved one
    # (`volumeFrom`) derives it from the home it came from.
    origin = pg.volume_from or DatabaseHome(dep.namespace, dep.name)
    password = derive_password(
        secret_seed, namespace=origin.namespace, name=origin.deployment, purpose="postgres"
    )
    uri = f"postgres://{POSTGRES_USER}:{password}@{name}:{POSTGRES_PORT}/{POSTGRES_DB}?sslmode=disable"
    values = {"username": POSTGRES_USER, "password": password, "database": POSTGRES_DB, "uri": uri}
    labels = {"app": APP_POSTGRES, "component": COMPONENT_POSTGRES}
    return [
        _secret(dep, name, values=values, **labels),
        _service(dep, name, port=POSTGRES_PORT, headless=True, **labels),
        _postgres_statefulset(dep, pg, name),
    ]


def _postgres_container(pg: ManagedPostgres, name: str) -> dict[str, Any]:
    """The database container; credentials come from the generated Secret, data lives in a subdirectory.

    PGDATA is a subdirectory of the mount because some volume types put `lost+found` at their root,
    which initdb refuses.
    """
    ready = ["sh", "-c", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']
    return {
        "name": "postgres",
        "image": pg.image,
        "args": ["-c", f"max_connections={pg.max_connections}"],
        "env": [
            secret_env("POSTGRES_USER", SecretKeyRef(name, "username")),
            secret_env("POSTGRES_PASSWORD", SecretKeyRef(name, "password")),
            secret_env("POSTGRES_DB", SecretKeyRef(name, "database")),
            {"name": "PGDATA", "value": f"{PGDATA_MOUNT}/pgdata"},
        ],
        "ports": [{"name": APP_POSTGRES, "containerPort": POSTGRES_PORT, "protocol": "TCP"}],
        "readinessProbe": exec_probe(ready, period=10, failures=3),
        "livenessProbe": exec_probe(ready, period=20, failures=6, delay=30),
        "resources": pg.resources.to_kubernetes(),
        "volumeMounts": [{"name": "data", "mountPath": PGDATA_MOUNT}],
    }


def _postgres_statefulset(dep: AgentDeployment, pg: ManagedPostgres, name: str) -> dict[str, Any]:
    container = _postgres_container(pg, name)
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": pg.storage}},
    }
    if pg.storage_class_name:
        claim_spec["storageClassName"] = pg.storage_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(dep, name, app=APP_POSTGRES, component=COMPONENT_POSTGRES),
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": selector(dep, APP_POSTGRES),
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain" if pg.keep_volume_on_delete else "Delete",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": pod_meta(dep, app=APP_POSTGRES, component=COMPONENT_POSTGRES),
                "spec": {
                    **pull_secrets(dep),
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 60,
                    "containers": [container],
                },
            },
            # Only selector labels on the claim: the volume is never applied or pruned by gitops-agent
            # itself, so it must not carry the ownership labels a label-based sweep would match.
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": selector_labels(APP_POSTGRES, dep.name)},
                    "spec": claim_spec,
                }
            ],
        },
    }


def redis_objects(dep: AgentDeployment, redis: ManagedRedis, *, secret_seed: bytes) -> list[dict[str, Any]]:
    """Secret (password, URI), Service and Deployment of a managed, password-protected Redis."""
    name = redis_name(dep)
    password = derive_password(secret_seed, namespace=dep.namespace, name=dep.name, purpose="redis")
    values = {"password": password, "uri": f"redis://:{password}@{name}:{REDIS_PORT}/0"}
    labels = {"app": APP_REDIS, "component": COMPONENT_REDIS}
    ping = ["redis-cli", "ping"]
    container = {
        "name": "redis",
        "image": redis.image,
        # No persistence: LangGraph Server keeps only ephemeral signals and streams in Redis.
        "args": [
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "$(REDIS_PASSWORD)",
            *redis_memory_args(redis),
        ],
        "env": [
            secret_env("REDIS_PASSWORD", SecretKeyRef(name, "password")),
            secret_env("REDISCLI_AUTH", SecretKeyRef(name, "password")),
        ],
        "ports": [{"name": APP_REDIS, "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "readinessProbe": exec_probe(ping, period=10, failures=3),
        "livenessProbe": exec_probe(ping, period=20, failures=6, delay=10),
        "resources": redis.resources.to_kubernetes(),
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(dep, name, **labels),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "strategy": {"type": "Recreate"},
            "selector": selector(dep, APP_REDIS),
            "template": {
                "metadata": pod_meta(dep, **labels),
                "spec": {**pull_secrets(dep), "enableServiceLinks": False, "containers": [container]},
            },
        },
    }
    return [
        _secret(dep, name, values=values, **labels),
        _service(dep, name, port=REDIS_PORT, headless=False, **labels),
        deployment,
    ]


def redis_memory_args(redis: ManagedRedis) -> list[str]:
    """`--maxmemory` (a share of the memory limit) and its eviction policy; none without a limit."""
    limit = parse_quantity(redis.resources.memory_limit) if redis.resources.memory_limit else None
    if limit is None:
        return []
    return [
        "--maxmemory",
        str(int(limit * Decimal(REDIS_MAXMEMORY_SHARE))),
        "--maxmemory-policy",
        REDIS_EVICTION_POLICY,
    ]


def connection_env(dep: AgentDeployment) -> list[dict[str, Any]]:
    """DATABASE_URI / POSTGRES_URI / REDIS_URI for agent containers, all read from Secrets."""
    database = database_uri_ref(dep)
    return [
        secret_env("DATABASE_URI", database),
        secret_env("POSTGRES_URI", database),
        secret_env("REDIS_URI", redis_uri_ref(dep)),
    ]


def pool_size(dep: AgentDeployment) -> int | None:
    """Per-pod Postgres pool that keeps all pods (at full scale, plus rollout surge) under max_connections.

    LangGraph Server defaults to a pool of 150 per pod, which a default managed Postgres
    (max_connections 100) cannot serve even for one pod. Only managed databases are sized: the
    capacity of an external one is unknown here.
    """
    if not isinstance(dep.postgres, ManagedPostgres):
        return None
    pods = dep.scale.max_pods + 1
    if dep.queue.enabled:
        pods += dep.queue.scale.max_pods + 1
    return max(2, (dep.postgres.max_connections - 10) // max(pods, 1))
