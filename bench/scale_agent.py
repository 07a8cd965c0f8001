"""The running agent and the raw-apply limit at scale (rows of `bench/sync_scale.py`).

`running_agent`: the generated repository on a bare Git remote, `gitops-agent run` as a child
process (the real CLI: polling off, a webhook secret, no leader election) on a fresh `api` cluster.
Timed: start → every deployment Synced: /metrics is read every POLL_SECONDS until each deployment's
`gitops_agent_deployment_sync_state` gauge says Synced, and the time is that of the newest
`gitops_agent_deployment_last_synced_timestamp_seconds` (when the last deployment was synced; an
exposition of 1,000 deployments' series costs the agent ~0.4 s of CPU, so reading it every second
would slow what is measured); then `pushes` pushes that each change one deployment's env value (commit,
`git push`, a signed GitHub push webhook) → the live Deployment carries the value (polled every 20 ms);
RSS (`VmRSS` of the agent process) after the first convergence and after `rss_pushes` pushes.

`raw_apply`: the limit of the apiserver for the objects we render: the first N rendered objects
server-side-applied (creates) by a plain loop on the project's client at 1, 4, 8 and 16 requests in
flight, each level into a namespace of its own on one fresh cluster.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster import LocalCluster
from gitops_agent.localcluster.cluster import free_port

SECRET = b"bench-webhook-secret"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
CONVERGE_TIMEOUT = 3600.0
PUSH_TIMEOUT = 120.0
POLL_SECONDS = 5.0
RAW_LEVELS = (1, 4, 8, 16)


@dataclass(frozen=True)
class AgentRun:
    first_convergence: float
    latencies: tuple[float, ...]
    timed: int
    rss_converged_mb: float
    rss_after_mb: float
    pushes: int

    def quantile(self, q: int) -> float:
        """p50/p95 of the first `timed` pushes (inclusive quantiles: never beyond the max)."""
        sample = list(self.latencies[: self.timed])
        return (
            statistics.quantiles(sample, n=100, method="inclusive")[q - 1] if len(sample) > 1 else sample[0]
        )


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout


def publish(work: Path, repo: Path) -> tuple[Path, Path]:
    """The generated repository as a bare remote and a clone to push from."""
    bare, clone = work / "remote.git", work / "clone"
    work.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=work)
    git("clone", "-q", str(bare), str(clone), cwd=work)
    subprocess.run(["cp", "-r", f"{repo}/.", str(clone)], check=True)
    git("add", "-A", cwd=clone)
    git("commit", "-q", "-m", "generated deployments", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    return bare, clone


def running_agent(
    work: Path, cluster: LocalCluster, kube: KubeClient, repo: Path, deployments: int, *,
    changed: str, pushes: int, rss_pushes: int,
) -> AgentRun:  # fmt: skip
    bare, clone = publish(work, repo)
    secret = work / "webhook-secret"
    secret.write_bytes(SECRET)
    port = free_port()
    argv = [
        sys.executable, "-m", "gitops_agent", "run", "--repo", str(bare),
        "--kubeconfig", str(cluster.kubeconfig), "--state-namespace", "gitops-agent",
        "--listen", f"127.0.0.1:{port}", "--webhook-secret-file", str(secret),
        "--poll-interval", "3600", "--resync-interval", "3600", "--no-leader-elect", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "GITOPS_AGENT_CACHE_DIR": str(work / "agent-cache")}
    log = (work / "agent.log").open("w")
    started, wall = time.perf_counter(), time.time()
    agent = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = _wait_all_synced(port, deployments, agent, started) - wall
        rss_converged = _vmrss_mb(agent.pid)
        latencies = [_push(clone, port, kube, changed, i) for i in range(max(pushes, rss_pushes))]
        rss_after = _vmrss_mb(agent.pid)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        log.close()
    return AgentRun(first, tuple(latencies), pushes, rss_converged, rss_after, len(latencies))


def _wait_all_synced(port: int, deployments: int, agent: subprocess.Popen[bytes], started: float) -> float:
    """The Unix time the last deployment was synced, once all are."""
    while time.perf_counter() - started < CONVERGE_TIMEOUT:
        if agent.poll() is not None:
            raise SystemExit(f"gitops-agent run exited with {agent.returncode} before converging")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
                text = response.read().decode()
        except OSError:
            text = ""
        synced = text.count('state="Synced"} 1.0')
        if synced >= deployments:
            return max(
                s.value
                for family in text_string_to_metric_families(text)
                if family.name == "gitops_agent_deployment_last_synced_timestamp_seconds"
                for s in family.samples
            )
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"the agent did not converge within {CONVERGE_TIMEOUT:.0f} s")


def _push(clone: Path, port: int, kube: KubeClient, name: str, index: int) -> float:
    path = clone / "deployments" / f"{name}.yaml"
    text = path.read_text()
    value = f"push-{index}"
    lines = [ln for ln in text.splitlines() if ln.strip().startswith("LOG_LEVEL:")]
    path.write_text(text.replace(lines[0], f"    LOG_LEVEL: {value}", 1))
    git("commit", "-q", "-am", f"{name}: LOG_LEVEL={value}", cwd=clone)
    started = time.perf_counter()
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    _webhook(port)
    namespace = _namespace_of(text)
    while _log_level(kube, name, namespace) != value:
        if time.perf_counter() - started > PUSH_TIMEOUT:
            raise SystemExit(f"push {index} did not reach the cluster within {PUSH_TIMEOUT:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def _namespace_of(text: str) -> str:
    found = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("  namespace:")]
    return found[0] if found else "agents"


def _webhook(port: int) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest(),
        "X-GitHub-Delivery": os.urandom(8).hex(),
        "Content-Type": "application/json",
    }
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 202:
            raise SystemExit(f"webhook answered {response.status}")


def _log_level(kube: KubeClient, name: str, namespace: str) -> str:
    live = kube.get("apps/v1", "Deployment", name, namespace) or {}
    containers = live.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])
    return next((e.get("value", "") for e in containers[0].get("env", []) if e["name"] == "LOG_LEVEL"), "")


def _vmrss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the raw-apply limit ------------------------------------------------------------------------


def raw_apply(
    kube: KubeClient, rendered: Mapping[str, Sequence[Mapping[str, Any]]], count: int
) -> dict[int, float]:
    """Seconds to server-side-apply the first `count` namespaced rendered objects, per concurrency."""
    objects = [m for ms in rendered.values() for m in ms if m.get("metadata", {}).get("namespace")][:count]
    results = {}
    for level in RAW_LEVELS:
        namespace = f"raw-{level}"
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        moved = [{**m, "metadata": {**m["metadata"], "namespace": namespace}} for m in objects]
        started = time.perf_counter()
        with ThreadPoolExecutor(level) as pool:
            list(pool.map(lambda m: kube.apply(m, force=True), moved))
        results[level] = time.perf_counter() - started
    return results
