"""The agent image, built from the repository's Dockerfile and run as the chart runs it.

Built with Debian's podman from a Debian bookworm base (mmdebstrap) and a wheelhouse (see
install_harness), then started the way the chart's Deployment says — its env, args, user, read-only
root filesystem, dropped capabilities and writable mounts are read from `helm template`, not
restated here — with the chart's ServiceAccount token mounted where a kubelet mounts it. It syncs
a bare repository of sample-repo (plus Argo CD's kustomize-guestbook, built by the image's
kustomize) into the local cluster.

Differences from a pod, each forced by running beside the apiserver rather than in it: host
networking (the apiserver listens on loopback), so the agent listens on a free loopback port
instead of :8080; KUBERNETES_SERVICE_HOST/PORT point at that apiserver; emptyDirs are tmpfs mounts
owned by the container's user.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chart_harness import ChartInstall, Helm, service_account_token
from install_harness import Podman, run
from kubernetes import client
from sync_repo import DeploymentsRepo

from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster import LocalCluster
from gitops_agent.localcluster.cluster import free_port

GUESTBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "kustomize-guestbook"
SERVED_REPO = "/srv/deployments.git"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
POD_NAME = "gitops-agent-7d9f8-abcde"


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return Podman(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="session")
def agent_image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    started = time.monotonic()
    image = podman.agent_image(tmp_path_factory.mktemp("image-build"))
    print(f"\nagent image {image} ready in {time.monotonic() - started:.1f}s")
    return image


def test_the_image_has_the_agent_kustomize_and_git_and_runs_as_non_root(
    podman: Podman, agent_image: str
) -> None:
    def inside(*command: str) -> str:
        return podman("run", "--rm", "--entrypoint", command[0], agent_image, *command[1:]).stdout.strip()

    assert inside("gitops-agent", "--version") == "gitops-agent 0.1.0"
    assert inside("kustomize", "version") == "v5.8.2"
    assert inside("git", "--version").startswith("git version")
    assert inside("sh", "-c", "command -v ssh") == "/usr/bin/ssh"
    assert inside("sh", "-c", "command -v ssh-keygen") == "/usr/bin/ssh-keygen"  # signed commits
    assert inside("sh", "-c", "command -v gpg") == "/usr/bin/gpg"
    assert inside("id", "-u") == "10001"
    config = json.loads(podman("image", "inspect", agent_image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["gitops-agent"] and config["Cmd"] == ["run"]
    # Only the virtualenv reached the image: no wheels, no pip, no source tree.
    missing = inside("sh", "-c", "ls /wheels /src /opt/gitops-agent/bin/pip 2>&1 | grep -c 'No such file'")
    assert missing == "3"


def test_the_image_syncs_a_repository_as_the_chart_runs_it(
    podman: Podman,
    agent_image: str,
    helm: Helm,
    chart_install: ChartInstall,
    make_namespace: Callable[[], str],
    deployments_repo: DeploymentsRepo,
    cluster: LocalCluster,
    kube: KubeClient,
    kube_api: client.ApiClient,
    tmp_path: Path,
) -> None:
    release_ns, target_ns = make_namespace(), deployments_repo.namespace
    guestbook = {f"manifests/guestbook/{p.name}": p.read_text() for p in GUESTBOOK.glob("*.yaml")}
    head = deployments_repo.push(guestbook, "Add Argo CD's kustomize-guestbook")

    # The chart, as `helm install` would create it, minus the Deployment the container stands in for.
    objects = helm.render(
        namespace=release_ns, values={"repo.url": SERVED_REPO, "targetNamespaces": "{" + target_ns + "}"}
    )
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    chart_install.apply([o for o in objects if o["kind"] != "Deployment"])

    # What the kubelet would mount: the ServiceAccount's token, the cluster CA, the namespace.
    account = tmp_path / "serviceaccount"
    account.mkdir()
    pod_spec = deployment["spec"]["template"]["spec"]
    token = service_account_token(kube_api, release_ns, pod_spec["serviceAccountName"])
    (account / "token").write_text(token)
    shutil.copy2(cluster.work_dir / "pki" / "ca.crt", account / "ca.crt")
    (account / "namespace").write_text(release_ns)
    # The repository, readable by the image's user (git refuses repositories of other owners).
    served = tmp_path / "served.git"
    shutil.copytree(deployments_repo.upstream.bare, served)
    run("chown", "-R", "10001:10001", str(served), str(account))

    port = free_port()
    name = f"gitops-agent-test-{secrets.token_hex(4)}"
    args = _podman_run_args(pod_spec, release_ns=release_ns, port=port, server=cluster.server)
    args += ["--name", name, "--volume", f"{served}:{SERVED_REPO}:ro"]
    args += ["--volume", f"{account}:{SERVICE_ACCOUNT_DIR}:ro"]
    podman("run", "--detach", *args, agent_image, *pod_spec["containers"][0]["args"])
    try:
        _wait_until(lambda: _synced(kube, target_ns), f"objects in {target_ns}", podman, name)
        what = f"commit {head[:12]} in /api/v1/status"
        status = _wait_until(lambda: _status(port, head), what, podman, name)
        assert status["leader"]["leading"] is True
        state = json.loads(podman("inspect", name).stdout)[0]["State"]
        assert state["Running"], state  # no restart policy: a crash would have stopped it
        logs = podman("logs", name).stderr + podman("logs", name).stdout
        assert "Traceback" not in logs and "Read-only file system" not in logs, logs[-4000:]
    finally:
        podman("rm", "--force", name)


def _podman_run_args(pod_spec: dict[str, Any], *, release_ns: str, port: int, server: str) -> list[str]:
    """`podman run` flags for the chart's agent container: its security settings, env and mounts."""
    [container] = pod_spec["containers"]
    pod_security, security = pod_spec.get("securityContext", {}), container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"]["drop"] == ["ALL"]
    assert not security["allowPrivilegeEscalation"] and pod_security["runAsNonRoot"]
    args = [
        "--network", "host",
        "--user", f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
        "--group-add", str(pod_security["fsGroup"]),
        "--read-only", "--read-only-tmpfs=false",
        "--cap-drop", "all",
        "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        assert "emptyDir" in volume, f"the default chart mounts only emptyDirs, not {volume}"
        # An emptyDir is writable by the pod's fsGroup; a tmpfs owned by the container's user (`U`) is
        # the nearest podman has (its `mode=` is not applied over a directory the image holds).
        args += ["--tmpfs", f"{mount['mountPath']}:rw,U"]
    host, _, api_port = server.removeprefix("https://").partition(":")
    env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": api_port}
    fields = {"metadata.namespace": release_ns, "metadata.name": POD_NAME}
    for var in container["env"]:
        source = var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        env[var["name"]] = fields[source] if source else var["value"]
    assert env.pop("GITOPS_AGENT_LISTEN") == "0.0.0.0:8080"
    env["GITOPS_AGENT_LISTEN"] = f"127.0.0.1:{port}"  # host network: a free port, not the pod's :8080
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    return args


def _synced(kube: KubeClient, namespace: str) -> bool:
    wanted = [("apps/v1", "Deployment", "support-bot"), ("apps/v1", "Deployment", "kustomize-guestbook-ui")]
    return all(kube.get(api, kind, name, namespace) is not None for api, kind, name in wanted)


def _status(port: int, head: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as response:
            status: dict[str, Any] = json.load(response)
    except OSError:
        return None
    return status if status["source"]["commit"] == head else None


def _wait_until(
    condition: Callable[[], Any], what: str, podman: Podman, name: str, timeout: float = 90
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    logs = podman("logs", name)
    output = (logs.stdout + logs.stderr)[-6000:]
    raise AssertionError(f"no {what} after {timeout:.0f}s; agent logs:\n{output}")
