"""What an AgentDeployment becomes for LangGraph Server: LangSmith wiring, KEDA, Gateway API, pod spec,
sizes — and the problems `validate` reports about them (file:line:column: field)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_agent.manifests import load_repository, render_unit

from .helpers import MINIMAL, SAMPLE_REPO, SETTINGS, write_repo

SEED = b"test-seed"
BARE_SETTINGS = SETTINGS.replace("langsmith:\n  apiKeySecret: {name: langsmith, key: api-key}\n", "")


def _deployment(name: str, spec: str = "") -> str:
    return MINIMAL.format(name=name) + "".join(f"  {line}\n" for line in spec.strip("\n").splitlines())


def _objects(root: Path, unit: str) -> dict[str, dict[str, Any]]:
    loaded = load_repository(root)
    assert loaded.settings is not None
    assert loaded.valid, [str(p) for p in loaded.all_problems()]
    target = loaded.unit(unit)
    assert target is not None
    return {str(o.key): o.manifest for o in render_unit(target, loaded.settings, secret_seed=SEED).objects}


def _problems(root: Path) -> list[str]:
    return [str(p) for p in load_repository(root).all_problems()]


def _env(manifest: dict[str, Any], container: int = 0) -> dict[str, Any]:
    spec = manifest["spec"]["template"]["spec"]["containers"][container]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in spec["env"]}


# -- LangSmith ---------------------------------------------------------------------------------------


def test_the_sample_deployments_without_keys_fail_validate_with_file_and_line(tmp_path: Path) -> None:
    """The issue's acceptance: sample-repo as it was (no `langsmith` block) does not validate."""
    settings = (SAMPLE_REPO / "gitops-agent.yaml").read_text()
    start = settings.index("# The team's self-hosted LangSmith")
    end = settings.index("# Autoscalers for deployments")
    files = {p.relative_to(SAMPLE_REPO).as_posix(): p.read_text() for p in SAMPLE_REPO.rglob("*.yaml")}
    files["gitops-agent.yaml"] = settings[:start] + settings[end:]
    problems = _problems(write_repo(tmp_path, files, settings=None))
    assert len(problems) == 3, problems  # every deployment: none lists a key in its own secretEnv
    assert problems[0].startswith("deployments/billing-agent.yaml:6:1: spec: LangGraph Server would start")
    assert all("LANGSMITH_API_KEY nor LANGGRAPH_CLOUD_LICENSE_KEY" in p for p in problems)


def test_a_key_in_the_deployments_own_secret_env_is_enough(tmp_path: Path) -> None:
    own = "secretEnv:\n  - {name: LANGGRAPH_CLOUD_LICENSE_KEY, secret: lic, key: key}\n"
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", own)}, settings=BARE_SETTINGS)
    assert _problems(root) == []
    env = _env(_objects(root, "a")["Deployment/agents/a"])
    assert env["LANGGRAPH_CLOUD_LICENSE_KEY"] == {"secretKeyRef": {"name": "lic", "key": "key"}}
    assert "LANGSMITH_PROJECT" not in env  # nothing configured, nothing injected


def test_settings_keys_reach_api_server_and_queue_workers_and_the_deployment_wins(tmp_path: Path) -> None:
    settings = SETTINGS.replace(
        "langsmith:\n  apiKeySecret: {name: langsmith, key: api-key}\n",
        "langsmith:\n  endpoint: https://smith.example.com/api/v1\n"
        "  apiKeySecret: {name: langsmith, key: api-key}\n  tracing: false\n",
    )
    spec = (
        "queue: {enabled: true}\n"
        "env: {LANGSMITH_TRACING: 'true'}\n"
        "langsmith:\n  project: a-prod\n  licenseKeySecret: {name: lic, key: key}\n"
    )
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", spec)}, settings=settings)
    objects = _objects(root, "a")
    for name in ("a", "a-queue"):
        env = _env(objects[f"Deployment/agents/{name}"])
        assert env["LANGSMITH_ENDPOINT"] == "https://smith.example.com/api/v1"
        assert env["LANGSMITH_PROJECT"] == "a-prod"
        # Both keys configured: each is optional in its Secret, as either one starts the server.
        assert env["LANGSMITH_API_KEY"] == {
            "secretKeyRef": {"name": "langsmith", "key": "api-key", "optional": True}
        }
        assert env["LANGGRAPH_CLOUD_LICENSE_KEY"]["secretKeyRef"]["optional"] is True
        assert env["LANGSMITH_TRACING"] == "true"  # the deployment's own env, not the settings' false
        names = [
            e["name"]
            for e in objects[f"Deployment/agents/{name}"]["spec"]["template"]["spec"]["containers"][0]["env"]
        ]
        assert names.count("LANGSMITH_TRACING") == 1


def test_a_single_key_is_required_in_its_secret_and_the_project_defaults_to_the_name(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a")})
    env = _env(_objects(root, "a")["Deployment/agents/a"])
    assert env["LANGSMITH_API_KEY"] == {"secretKeyRef": {"name": "langsmith", "key": "api-key"}}
    assert env["LANGSMITH_PROJECT"] == "a"
    assert "LANGSMITH_ENDPOINT" not in env


def test_opting_out_injects_nothing_and_then_needs_an_own_key(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", "langsmith: {enabled: false}\n")})
    assert _problems(root) == [
        "deployments/a.yaml:7:3: spec.langsmith: LangGraph Server would start with neither LANGSMITH_API_KEY "
        "nor LANGGRAPH_CLOUD_LICENSE_KEY and exit: set langsmith.apiKeySecret or langsmith.licenseKeySecret "
        "in gitops-agent.yaml, or in spec.langsmith, or list one of them in spec.secretEnv"
    ]


# -- autoscaling ---------------------------------------------------------------------------------------


def test_keda_scales_whoever_executes_runs_on_pending_runs(tmp_path: Path) -> None:
    api_only = "autoscaling: {mode: keda, minReplicas: 1, maxReplicas: 5}\nqueue: {jobsPerWorker: 4}\n"
    with_queue = (
        "resources: {requests: {cpu: '1', memory: 1Gi}}\n"
        "autoscaling: {mode: keda, minReplicas: 2, maxReplicas: 4}\n"
        "queue:\n  enabled: true\n  jobsPerWorker: 7\n"
        "  autoscaling: {mode: keda, maxReplicas: 9, targetMemoryUtilization: 75}\n"
    )
    root = write_repo(
        tmp_path,
        {
            "deployments/a.yaml": _deployment("a", api_only),
            "deployments/b.yaml": _deployment("b", with_queue),
        },
    )
    a = _objects(root, "a")
    assert not any(k.startswith("HorizontalPodAutoscaler") for k in a)
    assert "replicas" not in a["Deployment/agents/a"]["spec"]
    spec = a["ScaledObject/agents/a"]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a"}
    counts = (spec["minReplicaCount"], spec["maxReplicaCount"])
    assert (*counts, spec["pollingInterval"], spec["cooldownPeriod"]) == (
        1, 5, 30, 300,
    )  # fmt: skip
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 300
    }
    triggers = {t["type"]: t for t in spec["triggers"]}
    assert triggers["cpu"] == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}}
    assert triggers["postgresql"]["metadata"] == {
        "connectionFromEnv": "POSTGRES_URI",
        "query": "SELECT COUNT(*) FROM run WHERE status = 'pending'",
        "targetQueryValue": "4",
        "activationTargetQueryValue": "4",
    }
    b = _objects(root, "b")
    api = {t["type"] for t in b["ScaledObject/agents/b"]["spec"]["triggers"]}
    assert api == {"cpu"}  # the API server executes no runs once workers do
    queue = {t["type"]: t for t in b["ScaledObject/agents/b-queue"]["spec"]["triggers"]}
    assert set(queue) == {"cpu", "memory", "postgresql"}
    assert queue["memory"]["metadata"] == {"value": "75"}
    assert queue["postgresql"]["metadata"]["targetQueryValue"] == "7"


def test_the_settings_choose_keda_and_its_timing_for_every_deployment(tmp_path: Path) -> None:
    settings = SETTINGS + "autoscaling:\n  mode: keda\n  keda: {pollingInterval: 10, cooldownPeriod: 60}\n"
    spec = "autoscaling: {maxReplicas: 3}\n"
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", spec)}, settings=settings)
    scaled = _objects(root, "a")["ScaledObject/agents/a"]["spec"]
    assert (scaled["pollingInterval"], scaled["cooldownPeriod"]) == (10, 60)
    root = write_repo(
        tmp_path, {"deployments/a.yaml": _deployment("a", "autoscaling: {mode: hpa, maxReplicas: 3}\n")}
    )
    assert "HorizontalPodAutoscaler/agents/a" in _objects(root, "a")


def test_memory_scaling_needs_keda_and_a_memory_request(tmp_path: Path) -> None:
    hpa = "autoscaling: {maxReplicas: 3, targetMemoryUtilization: 70}\n"
    no_request = (
        "resources: {requests: {cpu: '1'}}\n"
        "autoscaling: {mode: keda, maxReplicas: 3, targetMemoryUtilization: 70}\n"
    )
    root = write_repo(
        tmp_path,
        {"deployments/a.yaml": _deployment("a", hpa), "deployments/b.yaml": _deployment("b", no_request)},
    )
    assert _problems(root) == [
        "deployments/a.yaml:7:33: spec.autoscaling.targetMemoryUtilization: scaling on memory needs mode: "
        "keda",
        "deployments/b.yaml:8:70: spec.autoscaling.targetMemoryUtilization: autoscaling on memory needs a "
        "memory "
        "request: set resources.requests.memory",
    ]


# -- sizes ------------------------------------------------------------------------------------------------


def test_sizes_follow_the_deployment_type_like_langgraph(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "deployments/dev.yaml": _deployment("dev"),
            "deployments/prod.yaml": _deployment("prod", "type: production\n"),
        },
    )
    dev = _objects(root, "dev")["Deployment/agents/dev"]
    assert dev["spec"]["replicas"] == 1
    assert dev["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }
    prod = _objects(root, "prod")
    assert prod["Deployment/agents/prod"]["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {"memory": "2Gi"},
    }
    hpa = prod["HorizontalPodAutoscaler/agents/prod"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)


def test_redis_maxmemory_fits_its_memory_limit(tmp_path: Path) -> None:
    spec = "redis:\n  managed:\n    resources: {limits: {memory: 1Gi}}\n"
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", spec)})
    args = _objects(root, "a")["Deployment/agents/a-redis"]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert args[args.index("--maxmemory") + 1] == str(768 * 2**20)  # 75% of 1Gi
    assert args[args.index("--maxmemory-policy") + 1] == "volatile-ttl"
    unlimited = "redis:\n  managed:\n    resources: {requests: {memory: 1Gi}}\n"
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", unlimited)})
    args = _objects(root, "a")["Deployment/agents/a-redis"]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert "--maxmemory" not in args


# -- routing --------------------------------------------------------------------------------------------


GATEWAY_SETTINGS = SETTINGS + "gateway: {name: shared, namespace: gw, sectionName: https}\n"


def test_gateway_routing_renders_an_http_route_for_the_same_host_and_path(tmp_path: Path) -> None:
    files = {
        "deployments/a.yaml": _deployment("a", "routing: gateway\ningress: {path: /a}\n"),
        "deployments/b.yaml": _deployment("b", "routing: gateway\ningress: {host: b.example.com}\n"),
    }
    root = write_repo(tmp_path, files, settings=GATEWAY_SETTINGS)
    a = _objects(root, "a")
    assert not any(k.startswith("Ingress/") for k in a)
    route = a["HTTPRoute/agents/a"]["spec"]
    assert route["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "shared",
            "namespace": "gw",
            "sectionName": "https",
        }
    ]
    assert route["hostnames"] == ["agents.example.com"]
    assert route["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/agents/a"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": "a", "port": 8000, "weight": 1}],
        }
    ]
    assert (
        _env(a["Deployment/agents/a"])["MOUNT_PREFIX"] == "/agents/a"
    )  # served under the prefix: no rewrite
    b = _objects(root, "b")["HTTPRoute/agents/b"]["spec"]
    assert (b["hostnames"], b["rules"][0]["matches"][0]["path"]["value"]) == (["b.example.com"], "/")


def test_gateway_routing_needs_the_shared_gateway_and_leaves_tls_to_it(tmp_path: Path) -> None:
    files = {
        "deployments/a.yaml": _deployment("a", "routing: gateway\ningress: {path: /a}\n"),
        "deployments/b.yaml": _deployment(
            "b", "routing: gateway\ningress:\n  host: b.example.com\n  tls: {secretName: b-tls}\n"
        ),
    }
    problems = _problems(write_repo(tmp_path, files))
    assert problems == [
        "deployments/a.yaml:7:12: spec.routing: routing through a Gateway needs the shared Gateway: set "
        "gateway.name "
        "in gitops-agent.yaml",
        "deployments/b.yaml:7:12: spec.routing: routing through a Gateway needs the shared Gateway: set "
        "gateway.name "
        "in gitops-agent.yaml",
        "deployments/b.yaml:10:5: spec.ingress.tls: with routing: gateway, TLS is configured on the "
        "Gateway's "
        "listener, not here",
    ]
    only_settings = {"deployments/c.yaml": _deployment("c")}
    settings_problems = _problems(
        write_repo(tmp_path / "s", only_settings, settings=SETTINGS + "routing: gateway\n")
    )
    assert (
        "gitops-agent.yaml:12:10: routing: routing: gateway needs the shared Gateway: set gateway.name"
        in (settings_problems)
    )


# -- pod spec -----------------------------------------------------------------------------------------


POD_SPEC = """\
queue: {enabled: true}
volumes:
  - {name: prompts, configMap: {name: prompts}}
  - {name: models, emptyDir: {sizeLimit: 1Gi}}
volumeMounts:
  - {name: prompts, mountPath: /prompts, readOnly: true}
initContainers:
  - name: fetch-models
    image: busybox:1.36
    command: [sh, -c, "echo fetched > /models/ok"]
    volumeMounts: [{name: models, mountPath: /models}]
sidecars:
  - {name: proxy, image: ghcr.io/example/proxy:1.0, ports: [{containerPort: 5432}]}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: pool, operator: In, values: [agents]}]
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}
"""


def test_pod_spec_fields_reach_the_api_server_and_the_queue_workers(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", POD_SPEC)})
    objects = _objects(root, "a")
    for name in ("a", "a-queue"):
        pod = objects[f"Deployment/agents/{name}"]["spec"]["template"]["spec"]
        assert [v["name"] for v in pod["volumes"]] == ["prompts", "models"]
        assert [c["name"] for c in pod["containers"]][1:] == ["proxy"]
        assert pod["containers"][0]["volumeMounts"] == [
            {"name": "prompts", "mountPath": "/prompts", "readOnly": True}
        ]
        assert pod["initContainers"][0]["name"] == "fetch-models"
        assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    redis = objects["Deployment/agents/a-redis"]["spec"]["template"]["spec"]
    assert "volumes" not in redis and len(redis["containers"]) == 1  # only the agent's own pods


def test_pod_spec_typos_and_unsafe_volumes_are_schema_errors_at_their_line(tmp_path: Path) -> None:
    spec = (
        "volumes:\n  - {name: root, hostPath: {path: /}}\n"
        "volumeMounts:\n  - {name: root, mountpath: /host}\n"
        "affinity:\n  nodeAfinity: {}\n"
    )
    problems = _problems(write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", spec)}))
    assert problems == [
        "deployments/a.yaml:8:20: spec.volumes[0].hostPath: unknown field 'hostPath'; known fields: "
        "configMap, csi, "
        "downwardAPI, emptyDir, ephemeral, image, name, persistentVolumeClaim, projected, secret",
        "deployments/a.yaml:10:7: spec.volumeMounts[0].mountPath: missing required field 'mountPath'",
        "deployments/a.yaml:10:20: spec.volumeMounts[0].mountpath: unknown field 'mountpath'; did you mean "
        "'mountPath'?",
        "deployments/a.yaml:12:5: spec.affinity.nodeAfinity: unknown field 'nodeAfinity'; did you mean "
        "'nodeAffinity'?",
    ]


def test_pod_spec_names_must_fit_together(tmp_path: Path) -> None:
    spec = (
        "volumes:\n  - {name: a, emptyDir: {}}\n  - {name: a, emptyDir: {}}\n"
        "volumeMounts:\n  - {name: missing, mountPath: /m}\n"
        "initContainers:\n  - {name: api-server, image: busybox:1.36}\n"
        "sidecars:\n  - {name: log, image: busybox:1.36, volumeMounts: [{name: nope, mountPath: /n}]}\n"
        "  - {name: log, image: busybox:1.36}\n"
    )
    problems = _problems(write_repo(tmp_path, {"deployments/a.yaml": _deployment("a", spec)}))
    assert [p.split(": ")[1] for p in problems] == [
        "spec.volumes[1].name",
        "spec.volumeMounts[0].name",
        "spec.initContainers[0].name",
        "spec.sidecars[0].volumeMounts[0].name",
        "spec.sidecars[1].name",
    ]
    assert "volume 'a' is listed twice" in problems[0]
    assert "no volume 'missing' in spec.volumes (declared: a)" in problems[1]
    assert "gitops-agent's own container" in problems[2]
    assert "container name 'log' is used twice" in problems[4]
