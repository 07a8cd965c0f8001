"""Rendering: golden output of sample-repo, determinism, secrets hygiene, and the object shapes."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gitops_agent.cli import main
from gitops_agent.core.errors import ManifestError
from gitops_agent.manifests import (
    ANNOTATION_SPEC_HASH,
    LABEL_DEPLOYMENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    PLACEHOLDER_SEED,
    ObjectKey,
    RenderedUnit,
    Stage,
    load_repository,
    render_unit,
)
from gitops_agent.manifests.render_backing import derive_password

from .helpers import REPO_ROOT, SAMPLE_REPO, deployment, write_repo

GOLDEN = REPO_ROOT / "tests" / "golden"
SEED = b"test-seed-0123456789"


def _render_cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["render", *args]) == 0
    return out.getvalue()


def _render_repo(root: Path, seed: bytes = SEED) -> dict[str, RenderedUnit]:
    loaded = load_repository(root)
    assert loaded.settings is not None
    assert loaded.valid, [str(p) for p in loaded.all_problems()]
    return {u.name: render_unit(u, loaded.settings, secret_seed=seed) for u in loaded.units}


def _by_key(rendered: RenderedUnit) -> dict[str, dict[str, Any]]:
    return {str(o.key): o.manifest for o in rendered.objects}


SAMPLE_UNITS = ["billing-agent", "manifests", "research-assistant", "support-bot"]


@pytest.mark.parametrize("unit", SAMPLE_UNITS)
def test_golden_render_of_sample_repo(unit: str) -> None:
    """What users get; regenerate with UPDATE_GOLDEN=1 and review the diff by eye."""
    rendered = _render_cli(str(SAMPLE_REPO), "--deployment", unit)
    golden = GOLDEN / f"{unit}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_golden_files_cover_every_sample_unit() -> None:
    assert sorted(u.name for u in load_repository(SAMPLE_REPO).units) == SAMPLE_UNITS
    assert sorted(p.stem for p in GOLDEN.glob("*.yaml")) == SAMPLE_UNITS


def test_render_is_deterministic() -> None:
    first = _render_cli(str(SAMPLE_REPO), "--show-secrets")
    second = _render_cli(str(SAMPLE_REPO), "--show-secrets")
    assert first == second
    assert (
        _render_repo(SAMPLE_REPO)["support-bot"].spec_hash
        == _render_repo(SAMPLE_REPO)["support-bot"].spec_hash
    )


def test_objects_are_ordered_by_stage_kind_name() -> None:
    for rendered in _render_repo(SAMPLE_REPO).values():
        keys = [o.sort_key() for o in rendered.objects]
        assert keys == sorted(keys)
    support = _render_repo(SAMPLE_REPO)["support-bot"]
    stages = {str(o.key): o.stage for o in support.objects}
    assert stages["Secret/agents/support-bot-postgres"] == Stage.CONFIG
    assert stages["StatefulSet/agents/support-bot-postgres"] == Stage.DATA
    assert stages["Deployment/agents/support-bot"] == Stage.WORKLOAD
    assert stages["HTTPRoute/agents/support-bot"] == Stage.ROUTING
    assert stages["ScaledObject/agents/support-bot-queue"] == Stage.SCALING
    research = {str(o.key): o.stage for o in _render_repo(SAMPLE_REPO)["research-assistant"].objects}
    assert research["Ingress/agents/research-assistant"] == Stage.ROUTING


def test_postgres_password_is_only_in_secrets() -> None:
    rendered = _render_repo(SAMPLE_REPO)
    for name in ("support-bot", "research-assistant"):
        password = derive_password(SEED, namespace="agents", name=name, purpose="postgres")
        encoded = base64.b64encode(password.encode()).decode()
        for obj in rendered[name].objects:
            text = json.dumps(obj.manifest)
            if obj.manifest["kind"] == "Secret":
                continue
            assert password not in text, obj.key
            assert encoded not in text, obj.key
        secret = _by_key(rendered[name])[f"Secret/agents/{name}-postgres"]
        uri = base64.b64decode(secret["data"]["uri"]).decode()
        assert uri == f"postgres://postgres:{password}@{name}-postgres:5432/postgres?sslmode=disable"


def test_passwords_are_stable_per_seed_and_differ_between_deployments() -> None:
    a = derive_password(SEED, namespace="agents", name="x", purpose="postgres")
    assert a == derive_password(SEED, namespace="agents", name="x", purpose="postgres")
    assert len(a) == 32
    assert a != derive_password(SEED, namespace="agents", name="y", purpose="postgres")
    assert a != derive_password(SEED, namespace="other", name="x", purpose="postgres")
    assert a != derive_password(b"another seed", namespace="agents", name="x", purpose="postgres")
    first = _render_repo(SAMPLE_REPO, seed=SEED)["support-bot"]
    other = _render_repo(SAMPLE_REPO, seed=b"other")["support-bot"]
    assert first.spec_hash != other.spec_hash


def test_agent_env_reads_connection_uris_from_secrets() -> None:
    support = _by_key(_render_repo(SAMPLE_REPO)["support-bot"])
    for name in ("Deployment/agents/support-bot", "Deployment/agents/support-bot-queue"):
        env = {e["name"]: e for e in support[name]["spec"]["template"]["spec"]["containers"][0]["env"]}
        expected = {"DATABASE_URI": "support-bot-postgres", "POSTGRES_URI": "support-bot-postgres"}
        for var, secret in {**expected, "REDIS_URI": "support-bot-redis"}.items():
            assert "value" not in env[var]
            assert env[var]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "uri"}
        assert env["PORT"]["value"] == "8000"
        assert env["GITOPS_AGENT_DEPLOYMENT"]["value"] == "support-bot"
    api_env = {
        e["name"]: e.get("value")
        for e in support["Deployment/agents/support-bot"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    queue_container = support["Deployment/agents/support-bot-queue"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    queue_env = {e["name"]: e.get("value") for e in queue_container["env"]}
    assert api_env["N_JOBS_PER_WORKER"] == "0"
    assert api_env["MOUNT_PREFIX"] == "/agents/support-bot"
    assert queue_env["N_JOBS_PER_WORKER"] == "10"
    assert "MOUNT_PREFIX" not in queue_env
    assert queue_container["command"] == ["/storage/queue_entrypoint.sh"]


def test_external_databases_use_the_given_secret_refs_and_render_no_backing_objects() -> None:
    billing = _by_key(_render_repo(SAMPLE_REPO)["billing-agent"])
    assert sorted(billing) == [
        "Deployment/agents/billing-agent",
        "Ingress/agents/billing-agent",
        "PodDisruptionBudget/agents/billing-agent",
        "Service/agents/billing-agent",
    ]
    container = billing["Deployment/agents/billing-agent"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URI"]["valueFrom"]["secretKeyRef"] == {"name": "billing-agent-db", "key": "uri"}
    assert env["REDIS_URI"]["valueFrom"]["secretKeyRef"] == {"name": "billing-agent-redis", "key": "uri"}
    assert "LANGGRAPH_POSTGRES_POOL_MAX_SIZE" not in env
    assert env["N_JOBS_PER_WORKER"]["value"] == "5"


def test_hpa_owns_replicas_and_fixed_deployments_set_them(tmp_path: Path) -> None:
    spec = "autoscaling: {minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70}\n"
    rendered = _by_key(_render_repo(write_repo(tmp_path, {"deployments/x.yaml": deployment("x", spec)}))["x"])
    assert "replicas" not in rendered["Deployment/agents/x"]["spec"]
    hpa = rendered["HorizontalPodAutoscaler/agents/x"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}
    billing = _by_key(_render_repo(SAMPLE_REPO)["billing-agent"])
    assert billing["Deployment/agents/billing-agent"]["spec"]["replicas"] == 3


def test_equal_autoscaling_bounds_mean_fixed_replicas(tmp_path: Path) -> None:
    spec = "autoscaling: {minReplicas: 3, maxReplicas: 3}\n"
    rendered = _by_key(_render_repo(write_repo(tmp_path, {"deployments/x.yaml": deployment("x", spec)}))["x"])
    assert rendered["Deployment/agents/x"]["spec"]["replicas"] == 3
    assert not any(k.startswith("HorizontalPodAutoscaler") for k in rendered)


def test_selectors_use_only_name_and_instance(tmp_path: Path) -> None:
    spec = "labels: {team: a}\nqueue: {enabled: true}\n"
    repo = write_repo(tmp_path, {"deployments/x.yaml": deployment("x", spec)})
    before = _by_key(_render_repo(repo)["x"])
    write_repo(tmp_path, {"deployments/x.yaml": deployment("x", spec.replace("team: a", "team: b"))})
    after = _by_key(_render_repo(repo)["x"])
    for key, manifest in before.items():
        selector = manifest.get("spec", {}).get("selector")
        if manifest["kind"] in ("Deployment", "StatefulSet", "PodDisruptionBudget"):
            assert set(selector["matchLabels"]) == {LABEL_NAME, LABEL_INSTANCE}, key
            assert selector == after[key]["spec"]["selector"]
            assert manifest["metadata"]["labels"]["team"] == "a"
        if manifest["kind"] == "Service":
            assert set(selector) == {LABEL_NAME, LABEL_INSTANCE}, key
    api = before["Service/agents/x"]["spec"]["selector"]
    queue = before["Deployment/agents/x-queue"]["spec"]["selector"]["matchLabels"]
    assert api != queue, "the API Service must not select queue workers"


def test_every_object_is_labelled_and_hashed() -> None:
    for name, rendered in _render_repo(SAMPLE_REPO).items():
        for obj in rendered.objects:
            meta = obj.manifest["metadata"]
            assert meta["labels"][LABEL_MANAGED_BY] == "gitops-agent"
            assert meta["labels"][LABEL_DEPLOYMENT] == name
            assert len(meta["annotations"][ANNOTATION_SPEC_HASH]) == 64
            assert meta["namespace"] == "agents"


def test_spec_hash_changes_with_content_only(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, {"deployments/x.yaml": deployment("x")})
    first = _render_repo(repo)["x"]
    assert _render_repo(repo)["x"].spec_hash == first.spec_hash
    write_repo(tmp_path, {"deployments/x.yaml": deployment("x").replace("1.0.0", "1.0.1")})
    second = _render_repo(repo)["x"]
    assert second.spec_hash != first.spec_hash
    hashes = {str(o.key): o.manifest["metadata"]["annotations"][ANNOTATION_SPEC_HASH] for o in first.objects}
    changed = [
        str(o.key)
        for o in second.objects
        if hashes[str(o.key)] != o.manifest["metadata"]["annotations"][ANNOTATION_SPEC_HASH]
    ]
    assert changed == ["Deployment/agents/x"]


def test_objects_carry_no_revision_or_commit() -> None:
    """A new revision writes only objects whose spec changed: nothing per-revision is rendered in."""
    rendered = _render_repo(SAMPLE_REPO)["support-bot"]
    for obj in rendered.objects:
        annotations = obj.manifest["metadata"].get("annotations", {})
        assert [a for a in annotations if a.startswith("gitops-agent.dev/")] == [ANNOTATION_SPEC_HASH]
        if obj.key.kind == "Deployment":
            env = obj.manifest["spec"]["template"]["spec"]["containers"][0].get("env", [])
            assert not [e["name"] for e in env if e["name"].startswith("GITOPS_AGENT_REVISION")]


def test_render_unit_refuses_invalid_units(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path, {"deployments/x.yaml": deployment("x").replace("1.0.0", "latest") + "  type: production\n"}
    )
    loaded = load_repository(repo)
    assert loaded.settings is not None
    (unit,) = loaded.units
    with pytest.raises(ManifestError, match=r"cannot render x: deployments/x\.yaml:6:10: spec\.image"):
        render_unit(unit, loaded.settings, secret_seed=PLACEHOLDER_SEED)


def test_production_gets_pdbs_and_development_none() -> None:
    rendered = _render_repo(SAMPLE_REPO)
    support = _by_key(rendered["support-bot"])
    assert support["PodDisruptionBudget/agents/support-bot"]["spec"]["maxUnavailable"] == 1
    assert "PodDisruptionBudget/agents/support-bot-queue" in support
    assert not any("PodDisruptionBudget" in k for k in _by_key(rendered["research-assistant"]))


def test_postgres_statefulset_keeps_volume_and_claim_is_not_owned() -> None:
    research = _by_key(_render_repo(SAMPLE_REPO)["research-assistant"])
    sts = research["StatefulSet/agents/research-assistant-postgres"]["spec"]
    assert sts["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    claim = sts["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert LABEL_MANAGED_BY not in claim["metadata"]["labels"]
    assert sts["template"]["spec"]["containers"][0]["image"] == "pgvector/pgvector:pg16"
    assert research["Service/agents/research-assistant-postgres"]["spec"]["clusterIP"] == "None"


def test_ingress_paths_compose_and_share_host_class_tls() -> None:
    rendered = _render_repo(SAMPLE_REPO)
    research = _by_key(rendered["research-assistant"])["Ingress/agents/research-assistant"]["spec"]
    assert research["rules"][0]["host"] == "agents.example.com"
    assert research["rules"][0]["http"]["paths"][0]["path"] == "/agents/research"
    assert research["ingressClassName"] == "nginx"
    assert research["tls"] == [{"hosts": ["agents.example.com"], "secretName": "agents-example-com-tls"}]
    billing = _by_key(rendered["billing-agent"])["Ingress/agents/billing-agent"]["spec"]
    assert billing["rules"][0]["host"] == "billing.example.com"
    assert billing["rules"][0]["http"]["paths"][0]["path"] == "/"
    assert billing["tls"][0]["secretName"] == "billing-example-com-tls"


def test_default_ingress_path_is_the_deployment_name(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, {"deployments/x.yaml": deployment("x", "ingress: {}\n")})
    ingress = _by_key(_render_repo(repo)["x"])["Ingress/agents/x"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/agents/x"


def test_plain_manifests_get_namespace_and_ownership(tmp_path: Path) -> None:
    files = {
        "manifests/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {team: x}\n",
        "manifests/sub/np.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
        "  name: n\n  namespace: agents-staging\nspec: {podSelector: {}}\n",
    }
    rendered = _render_repo(write_repo(tmp_path, files))["manifests"]
    objects = _by_key(rendered)
    assert sorted(objects) == ["ConfigMap/agents/c", "NetworkPolicy/agents-staging/n"]
    assert objects["ConfigMap/agents/c"]["metadata"]["labels"] == {
        "team": "x", LABEL_MANAGED_BY: "gitops-agent", LABEL_DEPLOYMENT: "manifests",
    }  # fmt: skip
    assert all(o.stage == Stage.CONFIG for o in rendered.objects)


def test_object_key() -> None:
    key = ObjectKey("apps/v1", "Deployment", "agents", "x")
    assert str(key) == "Deployment/agents/x"
    assert key.group == "apps"
    assert ObjectKey("v1", "Namespace", "", "n").group == ""
    assert str(ObjectKey("v1", "Namespace", "", "n")) == "Namespace/n"
    assert len({key, ObjectKey("apps/v1", "Deployment", "agents", "x")}) == 1
    assert sorted([key, ObjectKey("apps/v1", "Deployment", "agents", "a")])[0].name == "a"


def test_pool_size_fits_max_connections(tmp_path: Path) -> None:
    spec = "autoscaling: {minReplicas: 1, maxReplicas: 4, targetCPUUtilization: 50}\n"
    spec += "postgres: {managed: {maxConnections: 100}}\n"
    spec += "resources: {requests: {cpu: 100m}}\n"
    container = _by_key(
        _render_repo(write_repo(tmp_path, {"deployments/x.yaml": deployment("x", spec)}))["x"]
    )["Deployment/agents/x"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LANGGRAPH_POSTGRES_POOL_MAX_SIZE"] == str((100 - 10) // 5)
