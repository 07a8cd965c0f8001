"""Orchestrates the local control plane: ports, PKI, start order, readiness, kubeconfig, shutdown.

Start order matters: etcd, then kube-apiserver (waits for /readyz) and the CRDs of the custom
resources we render (KEDA ScaledObject, Gateway API; see hack/build-k8s.sh), then - in full mode - the
controller-manager, scheduler and kwok, then fake Nodes, then a wait until they are Ready and the
default ServiceAccount exists (the sign that the controller-manager works).
"""

from __future__ import annotations

import enum
import json
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from gitops_agent.core.errors import LocalClusterError
from gitops_agent.localcluster.binaries import Binaries, find_binaries
from gitops_agent.localcluster.certs import ClusterPki
from gitops_agent.localcluster.processes import PID_FILE_NAME, ManagedProcess, reap_stale, spawn

SERVICE_CIDR = "10.0.0.0/16"  # room for thousands of Services (benchmarks)
POD_CIDR = "10.244.0.0/16"
READY_TIMEOUT_SECONDS = 90.0
NEVER_READY_IMAGE_MARK = "never-ready"
IMAGE_PULL_FAILS_MARK = "no-such-image"
"""Full mode: pods whose image reference contains this wait in ImagePullBackOff, as on a kubelet."""

POD_LOG_LINES = (
    "Starting LangGraph API server (local cluster: every container prints these lines)",
    "Application startup complete.",
    "Uvicorn running on http://0.0.0.0:8000",
)
"""Full mode: what `pods/log` returns for any container (kwok serves it from a file)."""

_Probe = Callable[[], bool]

_NOT_DELETED = {"cel": {"expression": "!has(self.metadata.deletionTimestamp)"}}
_HTTPROUTE_STATUS = """\
parents:
{{- range .spec.parentRefs }}
- parentRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: {{ .name }}
    {{- if .namespace }}
    namespace: {{ .namespace }}
    {{- end }}
    {{- if .sectionName }}
    sectionName: {{ .sectionName }}
    {{- end }}
  controllerName: kwok.x-k8s.io/gateway
  conditions:
  - {type: Accepted, status: "True", reason: Accepted, message: accepted by the local cluster,
     observedGeneration: {{ $.metadata.generation }}, lastTransitionTime: {{ Now | Quote }}}
  - {type: ResolvedRefs, status: "True", reason: ResolvedRefs, message: "",
     observedGeneration: {{ $.metadata.generation }}, lastTransitionTime: {{ Now | Quote }}}
{{- end }}
"""
_IMAGE_PULL_BACKOFF_STATUS = """\
phase: Pending
conditions:
- {type: PodScheduled, status: "True", lastTransitionTime: {{ Now | Quote }}}
- {type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ Now | Quote }},
   message: "containers with unready status: [{{ range .spec.containers }}{{ .name }} {{ end }}]"}
containerStatuses:
{{- range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf "Back-off pulling image %q" .image | Quote }}
{{- end }}
"""


def _status_stage(name: str, api_version: str, kind: str, *, when: str, status: str) -> dict[str, Any]:
    """A kwok Stage that writes `status` (a template) to objects of a kind while `when` (CEL) holds."""
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": api_version, "kind": kind},
            "selector": {"matchExpressions": [_NOT_DELETED, {"cel": {"expression": when}}]},
            "steps": [{"patch": {"root": "status", "subresource": "status", "template": status}}],
        },
    }


# Full mode stands in for KEDA and a Gateway controller, like kwok does for kubelets: the status those
# controllers would write, so rollouts of deployments using them can become healthy.
CUSTOM_RESOURCE_STAGES: dict[str, dict[str, Any]] = {
    "scaledobject-ready": _status_stage(
        "scaledobject-ready",
        "keda.sh/v1alpha1",
        "ScaledObject",
        when="!has(self.status) || !has(self.status.conditions)",
        status="conditions:\n- {type: Ready, status: 'True', reason: ScaledObjectReady, message: kwok}\n",
    ),
    # A kubelet's answer to an image it cannot pull, for the `sync --wait` diagnostics.
    "pod-image-pull-backoff": _status_stage(
        "pod-image-pull-backoff",
        "v1",
        "Pod",
        when="has(self.spec.nodeName) && !has(self.status.containerStatuses)"
        f" && self.spec.containers.exists(c, c.image.contains('{IMAGE_PULL_FAILS_MARK}'))",
        status=_IMAGE_PULL_BACKOFF_STATUS,
    ),
    "httproute-accepted": _status_stage(
        "httproute-accepted",
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        when="!has(self.status) || !has(self.status.parents) || self.status.parents.exists(p, "
        "p.conditions.exists(c, c.observedGeneration != self.metadata.generation))",
        status=_HTTPROUTE_STATUS,
    ),
}


class Mode(enum.Enum):
    """`api`: etcd + kube-apiserver. `full`: plus controller-manager, scheduler and kwok nodes."""

    API = "api"
    FULL = "full"


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the component binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalCluster:
    """A running local cluster; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        work_dir: Path,
        *,
        mode: Mode = Mode.API,
        nodes: int = 3,
        binaries: Binaries | None = None,
        apiserver_flags: Sequence[str] = (),
    ) -> None:
        """`apiserver_flags`: more kube-apiserver flags, after (and so winning over) the defaults,
        e.g. low priority-and-fairness limits for throttling tests."""
        self.work_dir = work_dir
        self.apiserver_flags = tuple(apiserver_flags)
        self.mode = mode
        self.node_count = nodes
        self.binaries = binaries or find_binaries()
        self.processes: list[ManagedProcess] = []
        self.api_port = 0
        self.admin_token = ""
        self.kubeconfig = work_dir / "kubeconfig"
        self._pid_file = work_dir / PID_FILE_NAME
        self._apiserver_argv: list[str] = []
        self._log_dir = work_dir / "logs"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def apiserver_metrics_url(self) -> str:
        return f"{self.server}/metrics"

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start every component of the mode and wait until the cluster serves requests."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        reap_stale(self._pid_file)
        pki = self._pki()
        self.admin_token = self._admin_token()
        try:
            etcd_url = self._start_etcd()
            self._start_apiserver(pki, etcd_url)
            self._write_kubeconfig(pki)
            self._load_crds()
            if self.mode is Mode.FULL:
                self._start_full_components(pki)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop components in reverse start order; idempotent."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self._pid_file.unlink(missing_ok=True)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    # -- components --------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = spawn(name, argv, log_dir=self._log_dir, pid_file=self._pid_file)
        self.processes.append(process)
        return process

    def _pki(self) -> ClusterPki:
        pki_dir = self.work_dir / "pki"
        if not (pki_dir / "sa.pub").exists():
            from gitops_agent.localcluster.pki import generate_pki  # needs the `local` extra (cryptography)

            return generate_pki(pki_dir)
        return ClusterPki(
            ca_cert=pki_dir / "ca.crt",
            ca_key=pki_dir / "ca.key",
            serving_cert=pki_dir / "apiserver.crt",
            serving_key=pki_dir / "apiserver.key",
            service_account_key=pki_dir / "sa.key",
            service_account_pub=pki_dir / "sa.pub",
        )

    def _admin_token(self) -> str:
        """A static bearer token in group system:masters, kept with the cluster's data."""
        tokens = self.work_dir / "tokens.csv"
        if not tokens.exists():
            tokens.write_text(f'{secrets.token_hex(24)},admin,admin,"system:masters"\n')
            tokens.chmod(0o600)
        return tokens.read_text().split(",", 1)[0]

    def _start_etcd(self) -> str:
        client_port, peer_port = free_port(), free_port()
        client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        process = self._spawn(
            "etcd",
            [
                str(self.binaries.path("etcd")),
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )
        self._wait(process, lambda: _http_ok(f"{client_url}/health", None, None), "etcd /health")
        return client_url

    def _start_apiserver(self, pki: ClusterPki, etcd_url: str) -> None:
        self.api_port = free_port()
        self._apiserver_argv = [
            str(self.binaries.path("kube-apiserver")),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={self.work_dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cert-dir={self.work_dir / 'apiserver-certs'}",
            "--allow-privileged=true",
            "--profiling=false",
            "--kubelet-preferred-address-types=InternalIP",  # full mode: kwok's kubelets (pods/log)
            "--v=0",
            *self.apiserver_flags,
        ]
        self._run_apiserver()

    def _run_apiserver(self) -> None:
        process = self._spawn("kube-apiserver", self._apiserver_argv)
        ca_cert = self.work_dir / "pki" / "ca.crt"
        self._wait(
            process,
            lambda: _http_ok(f"{self.server}/readyz", self.admin_token, ca_cert),
            "kube-apiserver /readyz",
        )

    def stop_apiserver(self) -> None:
        """Stop only the apiserver (fault tests); `start_apiserver` brings it back on the same port."""
        for process in [p for p in self.processes if p.name == "kube-apiserver"]:
            process.stop()
            self.processes.remove(process)

    def start_apiserver(self) -> None:
        self._run_apiserver()

    def _load_crds(self) -> None:
        """The CRDs of the custom resources we render, as their projects publish them (see build-k8s.sh)."""
        self.kubectl("apply", "--server-side", "-f", str(self.binaries.crds_dir))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        # Established comes before the OpenAPI v3 document lists the groups; kwok's stage controllers
        # (and `kubectl explain`) read that document and fail on a group it does not have yet.
        groups = {stage["spec"]["resourceRef"]["apiGroup"] for stage in CUSTOM_RESOURCE_STAGES.values()}
        paths = tuple(f"apis/{group}" for group in sorted(groups) if "/" in group)  # not core v1

        def published() -> bool:
            listed = json.loads(self.kubectl("get", "--raw", "/openapi/v3", check=False) or "{}").get(
                "paths", {}
            )
            return all(path in listed for path in paths)

        self._wait(None, published, "the CRDs' OpenAPI documents")

    def _start_full_components(self, pki: ClusterPki) -> None:
        kubeconfig = str(self.kubeconfig)
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.path("kube-controller-manager")),
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries.path("kube-scheduler")),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
            ],
        )
        self._spawn("kwok", self._kwok_argv())
        self._create_nodes()
        self._wait_full_ready()

    def _kwok_argv(self) -> list[str]:
        port = free_port()
        argv = [
            str(self.binaries.path("kwok")),
            f"--kubeconfig={self.kubeconfig}",
            "--manage-all-nodes=true",
            "--node-lease-duration-seconds=40",
            f"--cidr={POD_CIDR}",
            # The fake kubelets answer `pods/log` on this port (the apiserver dials the node's
            # InternalIP at its daemon endpoint, not verifying kwok's self-signed certificate).
            "--node-ip=127.0.0.1",
            f"--node-port={port}",
            f"--server-address=127.0.0.1:{port}",
        ]
        for stage in (*self._kwok_stage_files(), self._kwok_logs_file()):
            argv.append(f"--config={stage}")
        return argv

    def _kwok_logs_file(self) -> Path:
        """kwok config: every container's log is POD_LOG_LINES (CRI format), for `kubectl logs`."""
        logs_dir = self.work_dir / "kwok-logs"
        logs_dir.mkdir(exist_ok=True)
        log_file = logs_dir / "container.log"
        stamp = "2026-01-01T00:00:00.000000000Z"
        log_file.write_text("".join(f"{stamp} stdout F {line}\n" for line in POD_LOG_LINES))
        config = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "all-containers"},
            "spec": {"selector": {}, "logs": [{"logsFile": str(log_file), "follow": False}]},
        }
        target = self.work_dir / "kwok-logs.yaml"
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def _kwok_stage_files(self) -> list[Path]:
        """kwok's own stage files, with pod-ready taught to skip images marked never-ready, and ours.

        Health and auto-rollback tests need a rollout that never becomes Ready; an image whose
        reference contains NEVER_READY_IMAGE_MARK stays Pending/unready on the fake nodes, one with
        IMAGE_PULL_FAILS_MARK waits in ImagePullBackOff.
        """
        stage_dir = self.work_dir / "kwok-stages"
        stage_dir.mkdir(exist_ok=True)
        files = []
        for source in sorted(self.binaries.kwok_stages_dir.glob("*.yaml")):
            stage = yaml.safe_load(source.read_text())
            if not isinstance(stage, dict) or stage.get("kind") != "Stage":
                continue  # e.g. the kwok-volume StorageClass, applied by _create_nodes
            if stage["metadata"]["name"] == "pod-ready":
                selector = stage["spec"]["selector"]["matchExpressions"]
                for mark in (NEVER_READY_IMAGE_MARK, IMAGE_PULL_FAILS_MARK):
                    marked = f"self.spec.containers.exists(c, c.image.contains('{mark}'))"
                    selector.append({"cel": {"expression": f"!{marked}"}})
            target = stage_dir / source.name
            target.write_text(yaml.safe_dump(stage, sort_keys=False))
            files.append(target)
        if not files:
            raise LocalClusterError(f"no kwok stage files in {self.binaries.kwok_stages_dir}")
        for name, stage in CUSTOM_RESOURCE_STAGES.items():
            target = stage_dir / f"{name}.yaml"
            target.write_text(yaml.safe_dump(stage, sort_keys=False))
            files.append(target)
        return files

    def _create_nodes(self) -> None:
        """Fake Nodes for kwok to manage, and the default StorageClass its volume stages serve."""
        nodes = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"kwok-node-{index}",
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {"type": "kwok", "kubernetes.io/hostname": f"kwok-node-{index}"},
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
            for index in range(self.node_count)
        ]
        # kwok's stage folder also holds its default StorageClass (provisioned by the volume stages).
        extras = [yaml.safe_load(p.read_text()) for p in sorted(self.binaries.kwok_stages_dir.glob("*.yaml"))]
        objects = nodes + [o for o in extras if isinstance(o, dict) and o.get("kind") != "Stage"]
        self.kubectl(
            "apply", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        )

    def _wait_full_ready(self) -> None:
        def ready() -> bool:
            nodes = self.kubectl("get", "nodes", "-o", "json", check=False)
            sa = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
            if not nodes or not sa:
                return False
            items = json.loads(nodes).get("items", [])
            return len(items) >= self.node_count and all(_node_ready(n) for n in items)

        self._wait(None, ready, "kwok nodes Ready and default ServiceAccount")

    # -- helpers -----------------------------------------------------------------------------

    def kubectl(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        """Run the Go-built kubectl against this cluster; returns stdout ('' on failure if not check)."""
        result = subprocess.run(
            [str(self.binaries.path("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            if check:
                raise LocalClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
            return ""
        return result.stdout

    def _write_kubeconfig(self, pki: ClusterPki) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": self.server, "certificate-authority": str(pki.ca_cert)},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.admin_token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    def _wait(self, process: ManagedProcess | None, ready: _Probe, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for component in self.processes:
                if not component.alive():
                    raise LocalClusterError(
                        f"{component.name} exited with code {component.popen.returncode} while waiting "
                        f"for {what}; log {component.log_path}:\n{component.log_tail()}"
                    )
            if ready():
                return
            time.sleep(0.2)
        tail = process.log_tail() if process else ""
        raise LocalClusterError(f"timed out after {READY_TIMEOUT_SECONDS:.0f}s waiting for {what}\n{tail}")


def _node_ready(node: dict[str, Any]) -> bool:
    """Ready and untainted (the node-lifecycle controller lifts the not-ready taint)."""
    if node.get("spec", {}).get("taints"):
        return False
    conditions = node.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _http_ok(url: str, token: str | None, ca_file: Path | None) -> bool:
    """True when GET url answers 200 (used for readiness probes)."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
