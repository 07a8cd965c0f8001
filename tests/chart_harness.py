"""Fixtures for the Helm chart tests: the Go-built `helm`, rendering, applying, extra namespaces."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from gitops_agent.kube.client import KubeClient, NotFoundError
from gitops_agent.localcluster import LocalCluster, ensure_binaries

CHART_DIR = Path(__file__).resolve().parents[1] / "charts" / "gitops-agent"
EVERYTHING_VALUES = Path(__file__).parent / "chart" / "values-everything.yaml"
REPO_URL = "https://git.example.com/platform/agent-deployments.git"


@dataclass(frozen=True)
class Helm:
    """The helm binary, run with its config/cache/data directories in a scratch folder."""

    binary: Path
    home: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        result = subprocess.run(
            [str(self.binary), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def template_args(
        self,
        *,
        namespace: str,
        values_files: Sequence[Path] = (),
        values: dict[str, str] | None = None,
        release: str = "gitops-agent",
    ) -> list[str]:
        """Arguments of `helm template`; repo.url is set unless a values file or `values` sets it."""
        args = ["template", release, str(CHART_DIR), "--namespace", namespace]
        for path in values_files:
            args += ["--values", str(path)]
        defaults = {} if values_files else {"repo.url": REPO_URL}
        for key, value in {**defaults, **(values or {})}.items():
            args += ["--set", f"{key}={value}"]
        return args

    def render(
        self,
        *,
        namespace: str = "gitops-agent",
        values_files: Sequence[Path] = (),
        values: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """`helm template` → the rendered objects."""
        out = self.run(*self.template_args(namespace=namespace, values_files=values_files, values=values))
        return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(ensure_binaries().path("helm"), tmp_path_factory.mktemp("helm-home"))


@pytest.fixture
def make_namespace(kube_api: client.ApiClient) -> Iterator[Callable[[], str]]:
    """Creates fresh namespaces on demand; deletes them (without waiting) after the test."""
    core = client.CoreV1Api(kube_api)
    made: list[str] = []

    def make() -> str:
        name = f"t-{secrets.token_hex(4)}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        made.append(name)
        return name

    yield make
    for name in made:
        core.delete_namespace(name)


@dataclass
class ChartInstall:
    """Server-side applies rendered chart objects, like `helm install` would create them.

    Kinds whose API the cluster does not serve (the Prometheus Operator's CRDs) are skipped and
    listed in `skipped`; cluster-scoped objects are remembered, to be deleted after the test.
    """

    kube: KubeClient
    skipped: list[str]
    cluster_scoped: list[tuple[str, str, str]]

    def apply(self, objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        applied = []
        for obj in objects:
            try:
                rtype = self.kube.type_of(obj)
            except NotFoundError:
                self.skipped.append(obj["kind"])
                continue
            if not rtype.namespaced:
                self.cluster_scoped.append((obj["apiVersion"], obj["kind"], obj["metadata"]["name"]))
            applied.append(self.kube.apply(obj))
        return applied


@pytest.fixture
def chart_install(kube: KubeClient) -> Iterator[ChartInstall]:
    install = ChartInstall(KubeClient(kube.api_client, field_manager="chart-test"), [], [])
    yield install
    for api_version, kind, name in reversed(install.cluster_scoped):  # namespaced ones go with their ns
        install.kube.delete(api_version, kind, name)


def service_account_token(kube_api: client.ApiClient, namespace: str, service_account: str) -> str:
    """A short-lived token of the ServiceAccount, from the TokenRequest API (what a pod is given)."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=900)
    )
    response = client.CoreV1Api(kube_api).create_namespaced_service_account_token(
        service_account, namespace, request
    )
    token: str = response.status.token
    return token


def token_kubeconfig(cluster: LocalCluster, token: str, path: Path) -> Path:
    """A kubeconfig for `cluster` (same server and CA as the admin's) that authenticates with `token`."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
