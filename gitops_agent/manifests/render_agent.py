"""The LangGraph Server itself: API server and queue-worker Deployments, Service, route, autoscalers, PDBs.

Follows how LangGraph Platform runs the server: one image for both roles, HTTP on port 8000 with a
health endpoint at `/ok` (kept at the root even under a `MOUNT_PREFIX`), queue workers started with
the image's `/storage/queue_entrypoint.sh` (or `spec.queue.command`), and `N_JOBS_PER_WORKER=0` on
the API server once workers run separately. LangSmith variables, KEDA ScaledObjects and Gateway API
HTTPRoutes follow LangChain's `langgraph-cloud` chart (the README maps each field to it).
"""

from __future__ import annotations

from typing import Any

from gitops_agent.core.labels import (
    ANNOTATION_REDEPLOY,
    APP_API,
    APP_QUEUE,
    COMPONENT_API,
    COMPONENT_QUEUE,
    ENV_DEPLOYMENT,
    selector_labels,
)
from gitops_agent.manifests.model import (
    AgentDeployment,
    AutoscalingMode,
    DeploymentType,
    Resources,
    Routing,
    Scale,
)
from gitops_agent.manifests.render_backing import connection_env, pool_size
from gitops_agent.manifests.render_common import object_meta, pod_meta, pull_secrets, secret_env, selector

PORT = 8000
HEALTH_PATH = "/ok"
QUEUE_LIVENESS_PATH = "/ok?check_db=0"
"""The queue's `/ok` checks the database unless told not to (`check_db` defaults to 1,
langgraph_api/queue_entrypoint.py:83 in langgraph-api 0.16.7; the API server's to 0,
langgraph_api/api/__init__.py:91). Liveness asks without it, so a database blip does not restart
workers mid-run; startup and readiness keep the check."""
POOL_ENV = "LANGGRAPH_POSTGRES_POOL_MAX_SIZE"
PENDING_RUNS_QUERY = "SELECT COUNT(*) FROM run WHERE status = 'pending'"
"""What LangChain's chart has KEDA count: runs waiting for a worker."""
JOB_GRACE_MARGIN_SECONDS = 10
"""Kept past the server's own wait for running jobs (`AgentDeployment.job_grace_seconds`), so the
kubelet's SIGKILL never lands inside that wait (180 + 10 was the fixed 190 s before). The server
asks for a termination grace period above BG_JOB_SHUTDOWN_GRACE_PERIOD_SECS
(langgraph_api/config/__init__.py:369-373, langgraph-api 0.16.7); LangChain's chart leaves it at 30 s
(charts/langgraph-cloud/values.yaml:205, `queue.deployment.terminationGracePeriodSeconds`)."""
API_GRACE_SECONDS = 30
"""An API server that executes no runs (queue workers do) only finishes its requests (LangChain's
chart gives it 30 s too, charts/langgraph-cloud/values.yaml:121)."""
DRAIN_SECONDS = 10
"""The API server keeps serving this long after it is told to stop, before SIGTERM reaches it: the
Service's endpoints (kube-proxy, Ingress controllers, Gateways) drop a terminating pod only as the
EndpointSlice change reaches them, and a server that stopped accepting at once would refuse what
still arrives. A `lifecycle.preStop.sleep` action (Kubernetes >= 1.30), so the image needs no
`sleep` binary; LangChain's chart sets no hook (`apiServer.deployment.lifecycle: {}`,
charts/langgraph-cloud/values.yaml:119). The hook's time counts against the grace period, so it is
added to it."""
REVISION_HISTORY = 5


def _redeployed(meta: dict[str, Any], dep: AgentDeployment) -> dict[str, Any]:
    """Pod-template metadata with `spec.redeploy` as an annotation (a new value restarts the pods)."""
    if dep.redeploy:
        meta.setdefault("annotations", {})[ANNOTATION_REDEPLOY] = dep.redeploy
    return meta


def queue_name(dep: AgentDeployment) -> str:
    return f"{dep.name}-queue"


def _http_probe(*, period: int, failures: int, path: str = HEALTH_PATH) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _env(dep: AgentDeployment, *, jobs: int, mount_prefix: str | None) -> list[dict[str, Any]]:
    """Injected variables first (in a fixed order), then the user's plain and Secret variables."""
    env: list[dict[str, Any]] = [{"name": "PORT", "value": str(PORT)}]
    if mount_prefix:
        env.append({"name": "MOUNT_PREFIX", "value": mount_prefix})
    env.append({"name": "N_JOBS_PER_WORKER", "value": str(jobs)})
    env.extend(connection_env(dep))
    env.append({"name": ENV_DEPLOYMENT, "value": dep.name})
    pool = pool_size(dep)
    if pool is not None and POOL_ENV not in dict(dep.env):
        env.append({"name": POOL_ENV, "value": str(pool)})
    own = {name for name, _ in dep.env} | {var.name for var in dep.secret_env}
    env.extend(e for e in langsmith_env(dep) if e["name"] not in own)
    env.extend({"name": name, "value": value} for name, value in dep.env)
    env.extend(secret_env(var.name, var.secret) for var in dep.secret_env)
    return env


def langsmith_env(dep: AgentDeployment) -> list[dict[str, Any]]:
    """The team's LangSmith, as LangChain's chart wires it: keys from Secrets (each optional in its
    Secret when both are configured, since either one starts the server), endpoint, tracing, project."""
    smith = dep.langsmith
    if not smith.enabled or not (smith.endpoint or smith.api_key or smith.license_key):
        return []  # no LangSmith configured: nothing to trace to
    env: list[dict[str, Any]] = []
    if smith.endpoint:
        env.append({"name": "LANGSMITH_ENDPOINT", "value": smith.endpoint})
    keys = smith.key_refs
    for name, ref in keys:
        entry = secret_env(name, ref)
        if len(keys) > 1:
            entry["valueFrom"]["secretKeyRef"]["optional"] = True
        env.append(entry)
    env.append({"name": "LANGSMITH_TRACING", "value": "true" if smith.tracing and _traces(dep) else "false"})
    env.append({"name": "LANGSMITH_PROJECT", "value": smith.project or dep.name})
    return env


API_KEY_ENV = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
"""The key the server traces with (`LANGCHAIN_API_KEY` its legacy alias,
langgraph_api/config/__init__.py:546-549 in langgraph-api 0.16.7)."""


def _traces(dep: AgentDeployment) -> bool:
    """Whether an API key reaches the server (from `langsmith` or the file's own variables).

    Tracing needs one; a license key only lets the server start. The server takes
    `LANGSMITH_TRACING` as given (config/__init__.py:577-582) and turns tracing on by itself only
    when it has a key (583-585), so `true` with a license key alone had it trace without a key (it
    runs, with warnings). Without an API key the variable is rendered `false`.
    """
    own = {name for name, _ in dep.env} | {var.name for var in dep.secret_env}
    wired = {name for name, _ in dep.langsmith.key_refs} | own
    return any(name in wired for name in API_KEY_ENV)


def _container(
    dep: AgentDeployment,
    name: str,
    *,
    env: list[dict[str, Any]],
    resources: Resources,
    liveness_path: str = HEALTH_PATH,
    lifecycle: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": dep.image,
        "env": env,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # Startup covers database migrations on first boot; liveness only starts after it passes.
        "startupProbe": _http_probe(period=5, failures=60),
        "readinessProbe": _http_probe(period=10, failures=3),
        "livenessProbe": _http_probe(period=15, failures=4, path=liveness_path),
        "resources": resources.to_kubernetes(),
        "securityContext": {"allowPrivilegeEscalation": False},
        **({"lifecycle": lifecycle} if lifecycle else {}),
        **({"volumeMounts": [dict(m) for m in dep.volume_mounts]} if dep.volume_mounts else {}),
    }


def _workload(
    dep: AgentDeployment,
    name: str,
    *,
    app: str,
    component: str,
    scale: Scale,
    container: dict[str, Any],
    grace: int,
) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        **pull_secrets(dep),
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": grace,
        "containers": [container, *(dict(c) for c in dep.sidecars)],
    }
    optional: tuple[tuple[str, Any], ...] = (
        ("serviceAccountName", dep.service_account_name),
        ("nodeSelector", dict(dep.node_selector)),
        ("tolerations", [dict(t) for t in dep.tolerations]),
        ("affinity", dep.affinity),
        ("topologySpreadConstraints", [dict(c) for c in dep.topology_spread]),
        ("initContainers", [dict(c) for c in dep.init_containers]),
        ("volumes", [dict(v) for v in dep.volumes]),
    )
    pod_spec.update((key, value) for key, value in optional if value)
    spec: dict[str, Any] = {
        "revisionHistoryLimit": REVISION_HISTORY,
        "progressDeadlineSeconds": dep.progress_deadline_seconds,
        # A new pod first, and an old one goes only once the new one is ready (readiness on `/ok`):
        # a rollout never has fewer serving pods than replicas. (The chart leaves the default 25 %.)
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "selector": selector(dep, app),
        "template": {
            "metadata": _redeployed(pod_meta(dep, app=app, component=component), dep),
            "spec": pod_spec,
        },
    }
    if scale.autoscaling is None:
        spec["replicas"] = scale.replicas  # with an HPA the field is left out: the HPA owns it
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(dep, name, app=app, component=component),
        "spec": spec,
    }


def api_deployment(dep: AgentDeployment) -> dict[str, Any]:
    """The API server Deployment (it also executes runs unless queue workers are enabled)."""
    jobs = 0 if dep.queue.enabled else dep.queue.jobs_per_worker
    mount_prefix = dep.ingress.mount_prefix if dep.ingress else None
    container = _container(
        dep,
        COMPONENT_API,
        env=_env(dep, jobs=jobs, mount_prefix=mount_prefix),
        resources=dep.resources,
        lifecycle={"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}},
    )
    stop = API_GRACE_SECONDS if dep.queue.enabled else dep.job_grace_seconds + JOB_GRACE_MARGIN_SECONDS
    grace = DRAIN_SECONDS + stop
    return _workload(
        dep, dep.name, app=APP_API, component=COMPONENT_API, scale=dep.scale, container=container, grace=grace
    )


def queue_deployment(dep: AgentDeployment) -> dict[str, Any]:
    """The queue-worker Deployment (only rendered with `queue.enabled`)."""
    env = _env(dep, jobs=dep.queue.jobs_per_worker, mount_prefix=None)
    # The licensed image's script, as LangChain's chart runs it since chart 0.2.2
    # (charts/langgraph-cloud/templates/queue/deployment.yaml:55-56, helm commit d678d6f1): it starts
    # the Go core, then execs Python (langgraph_api/grpc/client.py:361 in langgraph-api 0.16.7).
    # `python -m langgraph_api.queue_entrypoint` alone would run a worker without its core.
    container = {
        "command": list(dep.queue.command),
        **_container(
            dep, COMPONENT_QUEUE, env=env, resources=dep.queue.resources, liveness_path=QUEUE_LIVENESS_PATH
        ),
    }
    return _workload(
        dep, queue_name(dep), app=APP_QUEUE, component=COMPONENT_QUEUE, scale=dep.queue.scale,
        container=container, grace=dep.job_grace_seconds + JOB_GRACE_MARGIN_SECONDS,
    )  # fmt: skip


def service(dep: AgentDeployment) -> dict[str, Any]:
    """ClusterIP Service `<name>:8000` in front of the API server pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(dep, dep.name, app=APP_API, component=COMPONENT_API),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(APP_API, dep.name),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def route(dep: AgentDeployment) -> dict[str, Any] | None:
    """How the deployment is reached from outside: an Ingress or an HTTPRoute (None: in-cluster only)."""
    if dep.ingress is None:
        return None
    return http_route(dep) if dep.routing is Routing.GATEWAY else ingress(dep)


def http_route(dep: AgentDeployment) -> dict[str, Any] | None:
    """A Gateway API HTTPRoute on the shared Gateway, for the same host and path prefix as the Ingress.

    Unlike LangChain's chart no URLRewrite filter is needed: the server is told its prefix
    (`MOUNT_PREFIX`) and serves under it.
    """
    route, gateway = dep.ingress, dep.gateway
    if route is None or gateway is None:
        return None
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.name}
    if gateway.namespace:
        parent["namespace"] = gateway.namespace
    if gateway.section_name:
        parent["sectionName"] = gateway.section_name
    backend = {"group": "", "kind": "Service", "name": dep.name, "port": PORT, "weight": 1}
    rule = {"matches": [{"path": {"type": "PathPrefix", "value": route.path}}], "backendRefs": [backend]}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": object_meta(dep, dep.name, app=APP_API, component=COMPONENT_API),
        "spec": {"parentRefs": [parent], "hostnames": [route.host], "rules": [rule]},
    }


def ingress(dep: AgentDeployment) -> dict[str, Any] | None:
    """One Ingress per deployment; path-routed ones share host, class and TLS secret."""
    route = dep.ingress
    if route is None:
        return None
    meta = object_meta(dep, dep.name, app=APP_API, component=COMPONENT_API)
    if route.annotations:
        meta["annotations"] = {**meta.get("annotations", {}), **dict(route.annotations)}
    backend = {"service": {"name": dep.name, "port": {"name": "http"}}}
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": route.host,
                "http": {"paths": [{"path": route.path, "pathType": "Prefix", "backend": backend}]},
            }
        ]
    }
    if route.class_name:
        spec["ingressClassName"] = route.class_name
    if route.tls_secret_name:
        spec["tls"] = [{"hosts": [route.host], "secretName": route.tls_secret_name}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def _hpa(dep: AgentDeployment, name: str, *, app: str, component: str, scale: Scale) -> dict[str, Any] | None:
    if scale.autoscaling is None:
        return None
    target = {"type": "Utilization", "averageUtilization": scale.autoscaling.target_cpu_utilization}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_meta(dep, name, app=app, component=component),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scale.autoscaling.min_replicas,
            "maxReplicas": scale.autoscaling.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }


def _scaled_object(
    dep: AgentDeployment, name: str, *, app: str, component: str, scale: Scale, pending_runs: bool
) -> dict[str, Any] | None:
    """A KEDA ScaledObject like LangChain's chart: cpu/memory triggers, and pending runs per worker.

    The `postgresql` trigger reads the connection string from the target container's
    `POSTGRES_URI` (KEDA resolves its Secret reference), so no credential is copied anywhere.
    """
    auto = scale.autoscaling
    if auto is None:
        return None
    triggers: list[dict[str, Any]] = [
        {"type": kind, "metricType": "Utilization", "metadata": {"value": str(value)}}
        for kind, value in (("cpu", auto.target_cpu_utilization), ("memory", auto.target_memory_utilization))
        if value is not None
    ]
    if pending_runs:
        jobs = str(dep.queue.jobs_per_worker)
        query = {"connectionFromEnv": "POSTGRES_URI", "query": PENDING_RUNS_QUERY}
        triggers.append(
            {
                "type": "postgresql",
                "metadata": {**query, "targetQueryValue": jobs, "activationTargetQueryValue": jobs},
            }
        )
    behavior = {"scaleDown": {"stabilizationWindowSeconds": auto.keda.scale_down_stabilization_seconds}}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": object_meta(dep, name, app=app, component=component),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": auto.min_replicas,
            "maxReplicaCount": auto.max_replicas,
            "pollingInterval": auto.keda.polling_interval,
            "cooldownPeriod": auto.keda.cooldown_period,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": triggers,
        },
    }


def _pdb(dep: AgentDeployment, name: str, *, app: str, component: str) -> dict[str, Any]:
    """At most one pod down at a time through voluntary disruptions (node drains)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(dep, name, app=app, component=component),
        "spec": {"maxUnavailable": 1, "selector": selector(dep, app)},
    }


def scaling_objects(dep: AgentDeployment) -> list[dict[str, Any]]:
    """Autoscalers (an HPA or a KEDA ScaledObject, where autoscaling applies) and, for production,
    PodDisruptionBudgets. Pending runs scale whoever executes them: the queue workers when enabled,
    else the API server."""
    roles = [(dep.name, APP_API, COMPONENT_API, dep.scale, not dep.queue.enabled)]
    if dep.queue.enabled:
        roles.append((queue_name(dep), APP_QUEUE, COMPONENT_QUEUE, dep.queue.scale, True))
    out: list[dict[str, Any]] = []
    for name, app, component, scale, runs in roles:
        keda = scale.autoscaling is not None and scale.autoscaling.mode is AutoscalingMode.KEDA
        scaler = (
            _scaled_object(dep, name, app=app, component=component, scale=scale, pending_runs=runs)
            if keda
            else _hpa(dep, name, app=app, component=component, scale=scale)
        )
        if scaler is not None:
            out.append(scaler)
        if dep.type is DeploymentType.PRODUCTION:
            out.append(_pdb(dep, name, app=app, component=component))
    return out
