"""Shared fixtures: one real local cluster per test session, a fresh namespace per test.

The session cluster runs in `full` mode (controller-manager, scheduler, kwok nodes) when any selected
test is marked `full`, else in the faster `api` mode (etcd + kube-apiserver only).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import browser
from kubernetes import client, config
from sync_repo import DeploymentsRepo, make_deployments_repo

from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster, Mode, ensure_binaries
from gitops_agent.localcluster.binaries import default_bin_dir

__all__ = ["browser"]  # the headless Chromium fixture, for every page test

_FULL_MODE_NEEDED = False

# kustomize (for manifests/ folders with a kustomization.yaml) is built by hack/build-k8s.sh beside the
# cluster's binaries; the agent finds it through this variable, in-process and in subprocesses alike.
os.environ.setdefault("GITOPS_AGENT_KUSTOMIZE", str(default_bin_dir() / "kustomize"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Decide the cluster mode from the collected tests (before any fixture runs)."""
    global _FULL_MODE_NEEDED  # noqa: PLW0603 - set once per session, read by the cluster fixture
    _FULL_MODE_NEEDED = any(item.get_closest_marker("full") for item in items)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The session's local cluster (built on first use; started on free loopback ports)."""
    ensure_binaries()
    mode = Mode.FULL if _FULL_MODE_NEEDED or os.environ.get("GITOPS_AGENT_TEST_MODE") == "full" else Mode.API
    work_dir = tmp_path_factory.mktemp(f"cluster-{mode.value}")
    started = time.monotonic()
    with LocalCluster(work_dir, mode=mode) as running:
        print(f"\nlocal cluster ({mode.value}) up in {time.monotonic() - started:.1f}s at {running.server}")
        yield running


@pytest.fixture
def full_cluster(cluster: LocalCluster) -> LocalCluster:
    """The session cluster, asserting it runs in full mode (use with @pytest.mark.full)."""
    assert cluster.mode is Mode.FULL, "mark the test with @pytest.mark.full"
    return cluster


@pytest.fixture(scope="session")
def kube_api(cluster: LocalCluster) -> client.ApiClient:
    """A Python kubernetes ApiClient authenticated as cluster admin."""
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(cluster: LocalCluster, kube_api: client.ApiClient) -> Iterator[str]:
    """A fresh namespace, deleted (without waiting) after the test."""
    name = f"t-{secrets.token_hex(4)}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    if cluster.mode is Mode.FULL:
        _wait_for_default_service_account(core, name)
    yield name
    core.delete_namespace(name)


def _wait_for_default_service_account(core: client.CoreV1Api, namespace: str) -> None:
    """Pods are rejected until the controller-manager created the namespace's default SA."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        accounts = core.list_namespaced_service_account(namespace).items
        if any(sa.metadata.name == "default" for sa in accounts):
            return
        time.sleep(0.1)
    raise AssertionError(f"no default ServiceAccount in {namespace} after 30s")


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> KubeClient:
    """The project's own client (the one door to the API), as cluster admin."""
    return connect(str(cluster.kubeconfig))


@pytest.fixture
def deployments_repo(tmp_path: Path, namespace: str, kube: KubeClient) -> DeploymentsRepo:
    """sample-repo pushed to a bare Git remote, its settings aimed at the test's namespace."""
    return make_deployments_repo(tmp_path, namespace, kube)
