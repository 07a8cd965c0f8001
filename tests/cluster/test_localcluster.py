"""The local cluster is real: the apiserver validates objects, SSA records managers, pods roll out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kobjects import deployment
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from gitops_agent.localcluster import LocalCluster
from gitops_agent.localcluster.cluster import NEVER_READY_IMAGE_MARK
from gitops_agent.localcluster.processes import reap_stale, spawn


def test_apiserver_accepts_a_deployment_and_rejects_an_invalid_one(
    kube_api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(kube_api)
    created = apps.create_namespaced_deployment(namespace, deployment("web", "nginx:1.27"))
    assert created.metadata.uid
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2

    invalid = deployment("Bad_Name", "nginx:1.27")
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(namespace, invalid)
    assert err.value.status == 422


def test_server_side_apply_records_the_field_manager(kube_api: client.ApiClient, namespace: str) -> None:
    dyn = dynamic.DynamicClient(kube_api)
    config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": namespace},
        "data": {"a": "1"},
    }
    config_maps.server_side_apply(body=body, field_manager="gitops-agent-test")
    live = config_maps.get(name="cfg", namespace=namespace).to_dict()
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    assert ("gitops-agent-test", "Apply") in managers
    assert live["data"] == {"a": "1"}

    # A second manager claiming the same field conflicts unless it forces.
    body["data"] = {"a": "2"}
    with pytest.raises(ApiException) as err:
        config_maps.server_side_apply(body=body, field_manager="someone-else")
    assert err.value.status == 409


@pytest.mark.full
def test_deployment_pods_become_ready_on_kwok_nodes(
    full_cluster: LocalCluster, kube_api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, deployment("web", "example.test/web:1.0", replicas=3))
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        if status.ready_replicas == 3 and status.available_replicas == 3:
            break
        time.sleep(0.5)
    assert status is not None and status.ready_replicas == 3, status
    pods = client.CoreV1Api(kube_api).list_namespaced_pod(namespace).items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name.startswith("kwok-node-") for p in pods)


@pytest.mark.full
def test_an_image_marked_never_ready_stays_unready(
    full_cluster: LocalCluster, kube_api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(kube_api)
    image = f"example.test/{NEVER_READY_IMAGE_MARK}:1.0"
    apps.create_namespaced_deployment(namespace, deployment("stuck", image, replicas=1))
    core = client.CoreV1Api(kube_api)
    deadline = time.monotonic() + 30
    pods = []
    while time.monotonic() < deadline:  # the pod is created, then scheduled: wait for both
        pods = core.list_namespaced_pod(namespace).items
        if pods and pods[0].spec.node_name:
            break
        time.sleep(0.2)
    assert len(pods) == 1 and pods[0].spec.node_name  # scheduled ...
    time.sleep(3)  # ... and given time kwok would need to mark it Ready (well under a second)
    status = apps.read_namespaced_deployment_status("stuck", namespace).status
    assert not status.ready_replicas


_CRASHING_RUNNER = """
import sys, time, json
from pathlib import Path
from gitops_agent.localcluster import LocalCluster, Mode
cluster = LocalCluster(Path(sys.argv[1]), mode=Mode.API)
cluster.start()
print(json.dumps(cluster.pids()), flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_test_process_leaves_no_cluster_processes(tmp_path: Path) -> None:
    """SIGKILL of the process that started the cluster (no cleanup code runs) kills its components."""
    runner = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_RUNNER, str(tmp_path / "c")], stdout=subprocess.PIPE, text=True
    )
    assert runner.stdout is not None
    pids = json.loads(runner.stdout.readline())
    assert len(pids) == 2 and all(_running(pid) for pid in pids)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)


def test_reap_stale_kills_leftovers_recorded_in_the_pid_file(tmp_path: Path) -> None:
    """A later start reaps what an earlier run left behind, and only processes of that binary."""
    pid_file = tmp_path / "pids"
    leftover = spawn("sleeper", ["sleep", "300"], log_dir=tmp_path, pid_file=pid_file)
    with pid_file.open("a") as pids:
        pids.write(f"{os.getpid()} /not/this/binary\n")  # a recycled pid must not be killed
    assert reap_stale(pid_file) == [leftover.pid]
    leftover.popen.wait(5)
    assert leftover.popen.returncode == -signal.SIGKILL
    assert not pid_file.exists()
