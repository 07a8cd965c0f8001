"""The rendered chart on the real local apiserver, and its RBAC put to work by a real sync.

The RBAC test is the proof that the least-privilege Roles are enough: it syncs sample-repo with a
token of the chart's ServiceAccount, then checks that the same token is refused everything else.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chart_harness import (
    CHART_DIR,
    EVERYTHING_VALUES,
    REPO_URL,
    ChartInstall,
    Helm,
    service_account_token,
    token_kubeconfig,
)
from kubernetes import client
from sync_repo import DeploymentsRepo

from gitops_agent.agent.workload import read_events, read_pods
from gitops_agent.core.errors import ClusterError
from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster
from gitops_agent.reconcile.sync import SyncOptions, SyncState, sync
from gitops_agent.state.inventory import InventoryStore
from gitops_agent.state.seed import SEED_SECRET

MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs of the Prometheus Operator


def _kinds(objects: list[dict[str, Any]]) -> set[str]:
    return {o["kind"] for o in objects}


@pytest.mark.parametrize("everything", [False, True], ids=["defaults", "everything-enabled"])
def test_the_rendered_chart_applies_to_a_real_apiserver(
    helm: Helm,
    kube: KubeClient,
    *,
    chart_install: ChartInstall,
    namespace: str,
    make_namespace: Callable[[], str],
    everything: bool,
) -> None:
    targets = [make_namespace(), make_namespace()]
    objects = helm.render(
        namespace=namespace,
        values_files=[EVERYTHING_VALUES] if everything else [],
        values={"targetNamespaces": "{" + ",".join(targets) + "}"},
    )
    applied = chart_install.apply(objects)

    if everything:
        assert _kinds(objects) >= MONITORING_KINDS, "enabled but not rendered"
    # Only the kinds whose CRDs this cluster lacks were skipped; everything else was accepted.
    assert set(chart_install.skipped) <= MONITORING_KINDS
    assert len(applied) + len(chart_install.skipped) == len(objects)
    for obj in objects:
        if obj["kind"] in chart_install.skipped:
            continue
        meta = obj["metadata"]
        live = kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
        assert live is not None, f"{obj['kind']}/{meta['name']} not found after apply"
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in applied if r["kind"] == "Role"}
    assert {ns for ns, _ in roles} == {namespace, *targets}


def test_install_notes_tell_how_to_see_the_sync_status(helm: Helm, cluster: LocalCluster) -> None:
    # `helm install --dry-run=client` still asks the cluster for its version: hence a cluster test.
    result = helm.run(
        "install", "gitops-agent", str(CHART_DIR), "--dry-run=client", "--namespace", "platform",
        "--set", f"repo.url={REPO_URL}", "--kubeconfig", str(cluster.kubeconfig),
    )  # fmt: skip
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl -n platform port-forward svc/gitops-agent 8080" in notes
    assert "/api/v1/deployments" in notes
    assert "gitops-agent status --state-namespace platform" in notes
    assert "pipx install gitops_agent-0.1.0-py3-none-any.whl" in notes


def _status_of(action: Callable[[], object]) -> int | None:
    with pytest.raises(ClusterError) as caught:
        action()
    return caught.value.status


def _lease(namespace: str, holder: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "gitops-agent", "namespace": namespace},  # run's default --lease-name
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "acquireTime": now, "renewTime": now},
    }


def test_the_chart_rbac_is_enough_for_a_real_sync_and_nothing_more(
    helm: Helm,
    kube: KubeClient,
    *,
    kube_api: client.ApiClient,
    cluster: LocalCluster,
    chart_install: ChartInstall,
    deployments_repo: DeploymentsRepo,
    make_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    release_ns, target_ns, other_ns = make_namespace(), deployments_repo.namespace, make_namespace()
    chart_install.apply(helm.render(namespace=release_ns, values={"targetNamespaces": "{" + target_ns + "}"}))
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "someone-elses", "namespace": other_ns},
            "stringData": {"password": "not for the agent"},
        }
    )
    kubeconfig = token_kubeconfig(
        cluster, service_account_token(kube_api, release_ns, "gitops-agent"), tmp_path / "agent.kubeconfig"
    )
    agent = connect(str(kubeconfig))

    # A full sync of sample-repo into the target namespace, state in the release namespace.
    options = SyncOptions(state_namespace=release_ns)
    report = sync(agent, deployments_repo.fetch(), options)
    assert report.ok, [(u.unit, u.error) for u in report.units if u.error] or report.problems
    assert {u.unit for u in report.units} == {
        "billing-agent",
        "manifests",
        "research-assistant",
        "support-bot",
    }
    assert kube.get("apps/v1", "Deployment", "support-bot", target_ns) is not None
    assert kube.get("v1", "Secret", SEED_SECRET, release_ns) is not None
    assert set(InventoryStore(kube, release_ns).load_all()) == {u.unit for u in report.units}

    # Resync (reads, no writes), then remove a deployment: prune deletes with the same token.
    assert sync(agent, deployments_repo.fetch(), options).ok
    deployments_repo.push({"deployments/billing-agent.yaml": None}, "Retire billing-agent")
    pruned = sync(agent, deployments_repo.fetch(), options)
    assert pruned.ok and not pruned.prune_refused, pruned
    assert pruned.prune_changes, "nothing was pruned"
    assert kube.get("apps/v1", "Deployment", "billing-agent", target_ns) is None

    # The UI's workload view: pods, their Events and pods/log in the target namespace, and no more.
    assert isinstance(read_pods(agent, target_ns, "support-bot"), list)
    assert isinstance(read_events(agent, target_ns, {"Deployment/support-bot"}), list)
    rules = agent.rules_in(target_ns)
    assert (
        rules is not None
        and rules.allows("get", "", "pods/log")
        and not rules.allows("create", "", "pods/exec")
    )
    assert _status_of(lambda: read_pods(agent, other_ns, "support-bot")) == 403

    # Leader election: create and renew a Lease in the release namespace; not elsewhere.
    lease = agent.create(_lease(release_ns, "gitops-agent-0"))
    lease["spec"]["renewTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert agent.replace(lease)["spec"]["holderIdentity"] == "gitops-agent-0"
    assert _status_of(lambda: agent.create(_lease(target_ns, "gitops-agent-0"))) == 403

    # Nothing beyond the Roles: other namespaces' Secrets, cluster-wide reads, cluster-scoped writes.
    assert _status_of(lambda: agent.get("v1", "Secret", "someone-elses", other_ns)) == 403
    assert _status_of(lambda: agent.list("v1", "Secret", namespace=other_ns)) == 403
    assert _status_of(lambda: agent.list("v1", "Secret")) == 403
    assert _status_of(lambda: agent.list("v1", "Namespace")) == 403
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"escalate-{release_ns}"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }
    assert _status_of(lambda: agent.create(cluster_role)) == 403
    role_in_target = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "escalate", "namespace": target_ns},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}],
    }
    assert _status_of(lambda: agent.create(role_in_target)) == 403


def test_a_namespace_the_chart_does_not_cover_fails_its_units_saying_how_to_fix_it(
    helm: Helm,
    kube: KubeClient,
    *,
    kube_api: client.ApiClient,
    cluster: LocalCluster,
    chart_install: ChartInstall,
    deployments_repo: DeploymentsRepo,
    make_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    """The repository allows a namespace the chart's targetNamespaces leave out: the units aimed at
    it fail before anything of them is written, naming the namespace and the fix; others sync."""
    release_ns, target_ns, uncovered_ns = make_namespace(), deployments_repo.namespace, make_namespace()
    chart_install.apply(helm.render(namespace=release_ns, values={"targetNamespaces": "{" + target_ns + "}"}))
    settings = deployments_repo.read("gitops-agent.yaml").replace("  - agents-staging", f"  - {uncovered_ns}")
    billing = deployments_repo.read("deployments/billing-agent.yaml").replace(
        "  name: billing-agent\n", f"  name: billing-agent\n  namespace: {uncovered_ns}\n"
    )
    deployments_repo.push(
        {"gitops-agent.yaml": settings, "deployments/billing-agent.yaml": billing}, "billing-agent elsewhere"
    )
    token = service_account_token(kube_api, release_ns, "gitops-agent")
    agent = connect(str(token_kubeconfig(cluster, token, tmp_path / "agent.kubeconfig")))

    report = sync(agent, deployments_repo.fetch(), SyncOptions(state_namespace=release_ns))
    results = {u.unit: u for u in report.units}
    assert results["billing-agent"].state is SyncState.FAILED
    error = results["billing-agent"].error
    assert re.search(rf"may not write [a-z.]+ in namespace '{uncovered_ns}'", error), error
    assert f"add {uncovered_ns} to targetNamespaces" in error
    assert results["support-bot"].state is SyncState.SYNCED
    assert kube.get("apps/v1", "Deployment", "billing-agent", uncovered_ns) is None
    assert kube.get("apps/v1", "Deployment", "support-bot", target_ns) is not None


def test_helm_install_refuses_a_missing_target_namespace_before_creating_anything(
    helm: Helm, kube: KubeClient, cluster: LocalCluster, make_namespace: Callable[[], str]
) -> None:
    release_ns, present = make_namespace(), make_namespace()
    missing = f"{present}-missing"

    def install(*extra: str, targets: str) -> subprocess.CompletedProcess[str]:
        return helm.run(
            "install", "gitops-agent", str(CHART_DIR), "--namespace", release_ns, *extra,
            "--set", f"repo.url={REPO_URL}", "--set", f"targetNamespaces={{{targets}}}",
            "--kubeconfig", str(cluster.kubeconfig), check=False,
        )  # fmt: skip

    refused = install(targets=f"{present},{missing}")
    assert refused.returncode != 0
    assert f"namespace {missing} does not exist; create it first (kubectl create namespace {missing})" in (
        refused.stderr
    )
    assert kube.get("v1", "ServiceAccount", "gitops-agent", release_ns) is None
    assert not kube.list("v1", "Secret", namespace=release_ns).items, "not even a release record"
    assert kube.get("rbac.authorization.k8s.io/v1", "Role", "gitops-agent-workloads", present) is None

    # All present: the same install passes the check (a server-side dry run: it looks the
    # namespaces up like a real install, and creates nothing).
    assert install("--dry-run=server", targets=present).returncode == 0
