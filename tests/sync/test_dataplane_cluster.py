"""The LangGraph data plane against the real apiserver with the real KEDA and Gateway API CRDs.

The CRDs come from the projects' own Go modules (hack/build-k8s.sh) and are loaded by the local
cluster at start; nothing here fakes their schemas. No KEDA or Gateway controller runs, so their
status is written here the way those controllers write it (status subresource), to check that
health reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client
from sync_repo import DeploymentsRepo

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, check_unit
from gitops_agent.kube.client import InvalidObjectError
from gitops_agent.localcluster.cluster import LocalCluster, Mode
from gitops_agent.manifests import load_repository, render_unit
from gitops_agent.state.seed import load_or_create_seed

REPO_ROOT = Path(__file__).resolve().parents[2]


def _rendered(repo: DeploymentsRepo) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    load = load_repository(repo.fetch().path)
    assert load.settings is not None and load.valid, load.all_problems()
    seed = load_or_create_seed(repo.kube, repo.namespace, create=True)
    return {
        u.name: [o.manifest for o in render_unit(u, load.settings, secret_seed=seed).objects]
        for u in load.units
    }


def test_every_rendered_object_is_accepted_by_a_server_side_dry_run(
    deployments_repo: DeploymentsRepo,
) -> None:
    kinds: set[str] = set()
    for manifests in _rendered(deployments_repo).values():
        for manifest in manifests:
            deployments_repo.kube.apply(manifest, dry_run=True)  # raises on any schema rejection
            kinds.add(manifest["kind"])
    assert {"ScaledObject", "HTTPRoute", "Ingress", "PodDisruptionBudget"} <= kinds


def test_an_incomplete_custom_resource_is_rejected_by_the_real_crd(
    deployments_repo: DeploymentsRepo,
) -> None:
    """Proof that the CRDs are the real, structural ones (a stub CRD would accept anything)."""
    scaled = next(m for m in _rendered(deployments_repo)["support-bot"] if m["kind"] == "ScaledObject")
    del scaled["spec"]["triggers"][0]["metadata"]  # required by KEDA's CRD
    try:
        deployments_repo.kube.apply(scaled, dry_run=True)
    except InvalidObjectError as err:
        assert "triggers[0].metadata" in str(err)
    else:
        raise AssertionError("the ScaledObject CRD accepted a trigger without metadata")


def test_sync_applies_scaled_objects_and_an_http_route(deployments_repo: DeploymentsRepo) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    report = repo.sync()
    assert report.ok, report
    route = kube.get("gateway.networking.k8s.io/v1", "HTTPRoute", "support-bot", ns)
    assert route is not None
    assert route["spec"]["parentRefs"][0]["name"] == "agents"
    assert route["spec"]["rules"][0]["matches"][0]["path"] == {
        "type": "PathPrefix",
        "value": "/agents/support-bot",
    }
    for name, pending_runs in (("support-bot", False), ("support-bot-queue", True)):
        scaled = kube.get("keda.sh/v1alpha1", "ScaledObject", name, ns)
        assert scaled is not None, name
        triggers = {t["type"] for t in scaled["spec"]["triggers"]}
        assert ("postgresql" in triggers) is pending_runs, triggers
    # KEDA owns the replica counts: neither Deployment sets them, and no HPA of ours competes.
    for name in ("support-bot", "support-bot-queue"):
        live = kube.get("apps/v1", "Deployment", name, ns)
        assert live is not None and live["spec"]["replicas"] == 1  # the apiserver's default, untouched
        assert kube.get("autoscaling/v2", "HorizontalPodAutoscaler", name, ns) is None


PLURALS = {"HTTPRoute": "httproutes", "ScaledObject": "scaledobjects"}


def _set_status(api: client.ApiClient, key: ObjectKey, status: dict) -> None:  # type: ignore[type-arg]
    """Write status the way a controller does: through the status subresource."""
    group, _, version = key.api_version.partition("/")
    custom = client.CustomObjectsApi(api)
    live = custom.get_namespaced_custom_object(group, version, key.namespace, PLURALS[key.kind], key.name)
    live["status"] = status
    custom.replace_namespaced_custom_object_status(
        group, version, key.namespace, PLURALS[key.kind], key.name, live
    )


def test_health_reads_the_route_and_scaled_object_status(
    deployments_repo: DeploymentsRepo, kube_api: client.ApiClient, cluster: LocalCluster
) -> None:
    repo, kube, ns = deployments_repo, deployments_repo.kube, deployments_repo.namespace
    assert repo.sync().ok
    route = ObjectKey("gateway.networking.k8s.io/v1", "HTTPRoute", ns, "support-bot")
    scaled = ObjectKey("keda.sh/v1alpha1", "ScaledObject", ns, "support-bot-queue")

    if cluster.mode is Mode.FULL:  # kwok stands in for KEDA and the Gateway controller
        deadline = time.monotonic() + 20
        while check_unit(kube, "support-bot", [route, scaled]).health is not Health.HEALTHY:
            assert time.monotonic() < deadline, check_unit(kube, "support-bot", [route, scaled]).summary
            time.sleep(0.2)
    else:  # nothing writes their status: both wait for their controllers
        before = {o.key: o for o in check_unit(kube, "support-bot", [route, scaled]).objects}
        assert before[route].health is Health.PROGRESSING
        assert "not accepted by a Gateway" in before[route].message
        assert before[scaled].health is Health.PROGRESSING

    generation = kube.get(route.api_version, route.kind, route.name, ns)["metadata"]["generation"]  # type: ignore[index]
    parent = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "agents",
        "namespace": "gateway-system",
    }

    def condition(kind: str, status: str, reason: str) -> dict:  # type: ignore[type-arg]
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": "",
            "observedGeneration": generation,
            "lastTransitionTime": "2026-11-29T12:00:00Z",
        }

    def parents(accepted: str, reason: str) -> dict:  # type: ignore[type-arg]
        conditions = [
            condition("Accepted", accepted, reason),
            condition("ResolvedRefs", "True", "ResolvedRefs"),
        ]
        return {
            "parents": [
                {"parentRef": parent, "controllerName": "example.com/gateway", "conditions": conditions}
            ]
        }

    _set_status(kube_api, route, parents("False", "NotAllowedByListeners"))
    ready = {"type": "Ready", "status": "True", "reason": "ScaledObjectReady", "message": ""}
    _set_status(kube_api, scaled, {"conditions": [ready]})
    middle = {o.key: o for o in check_unit(kube, "support-bot", [route, scaled]).objects}
    assert middle[route].health is Health.DEGRADED
    assert "NotAllowedByListeners" in middle[route].message
    assert middle[scaled].health is Health.HEALTHY

    _set_status(kube_api, route, parents("True", "Accepted"))
    after = check_unit(kube, "support-bot", [route, scaled])
    assert after.health is Health.HEALTHY, after.summary


def test_the_kubernetes_types_in_the_schema_are_what_the_apiserver_serves(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """spec.volumes, initContainers, affinity, ... are typed from this apiserver's own OpenAPI."""
    openapi = tmp_path / "openapi.json"
    openapi.write_text(cluster.kubectl("get", "--raw", "/openapi/v3/api/v1"))
    assert "io.k8s.api.core.v1.Container" in json.loads(openapi.read_text())["components"]["schemas"]
    check = subprocess.run(
        [sys.executable, str(REPO_ROOT / "hack" / "gen-k8s-defs.py"), "--check", "--openapi", str(openapi)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
