"""Push → converged latency of the running agent, over real git, a real webhook and the real apiserver.

Starts an `api`-mode local cluster, pushes sample-repo to a bare Git remote, runs the agent (polling
off, so only the webhook triggers), then N times: commit + push a one-line change of one deployment,
POST a signed GitHub push webhook, and time until the live Deployment carries the change. Prints the
p50/p95/max table. Usage: `.venv/bin/python bench/push_to_converged.py [--pushes 20]`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.http.routes import build_router
from gitops_agent.agent.http.server import HttpServer
from gitops_agent.cli.demo_cmd import prepare_repo
from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster, Mode

SECRET = b"bench-secret"
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com"}
GIT_ENV = {
    **os.environ,
    **IDENTITY,
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def webhook(port: int) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature,
        "X-GitHub-Delivery": os.urandom(8).hex(),
    }
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


def live_log_level(kube: KubeClient) -> str:
    live = kube.get("apps/v1", "Deployment", "research-assistant", "agents") or {}
    env = live.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("env", [])
    return next((e.get("value", "") for e in env if e["name"] == "LOG_LEVEL"), "")


def measure(kube: KubeClient, work: Path, port: int, pushes: int) -> list[float]:
    target = work / "deployments" / "research-assistant.yaml"
    original = target.read_text()
    timings = []
    for i in range(pushes):
        level = f"debug-{i}"
        target.write_text(original.replace("LOG_LEVEL: debug", f"LOG_LEVEL: {level}"))
        git("commit", "-q", "-am", f"log level {level}", cwd=work)
        started = time.perf_counter()
        git("push", "-q", "origin", "main", cwd=work)
        webhook(port)
        while live_log_level(kube) != level:
            if time.perf_counter() - started > 60:
                raise SystemExit(f"push {i} did not converge within 60 s")
            time.sleep(0.02)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-push-"))
    with LocalCluster(root / "cluster", mode=Mode.API) as cluster:
        kube = connect(str(cluster.kubeconfig))
        for namespace in ("agents", "gitops-agent"):
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        bare, work = prepare_repo(root)  # the demo's: sample-repo on a bare remote
        config = AgentConfig(
            repo=str(bare),
            state_namespace="gitops-agent",
            cache_dir=root / "cache",
            listen_host="127.0.0.1",
            listen_port=0,
            poll_interval=3600,
            resync_interval=3600,
            webhook_secret=SECRET,
            leader_elect=False,
            identity="bench",
        )
        agent = Agent(config, kube)
        server = HttpServer(build_router(agent), "127.0.0.1", 0)
        server.start()
        agent.start()
        while live_log_level(kube) != "debug":
            time.sleep(0.1)
        timings = measure(kube, work, server.port, args.pushes)
        agent.stop()
        server.stop()
    shutil.rmtree(root, ignore_errors=True)
    quantiles = statistics.quantiles(timings, n=20, method="inclusive")  # never beyond the max
    print(f"push → converged over {len(timings)} pushes (git push + signed webhook + sync + apply)\n")
    print("| p50 (s) | p95 (s) | max (s) | min (s) |\n|---:|---:|---:|---:|")
    p50, p95 = statistics.median(timings), quantiles[18]
    print(f"| {p50:.2f} | {p95:.2f} | {max(timings):.2f} | {min(timings):.2f} |")


if __name__ == "__main__":
    main()
