"""A burst against the running agent's HTTP server: N requests from C concurrent clients.

Starts an `api`-mode local cluster, runs the agent on sample-repo (so the status API and page have
real content), then fires the burst at four real endpoints in turn (`/healthz`, `/api/v1/deployments`,
`/`, `/metrics`), each request on a new connection (the worst case for the server), and prints
errors and latency percentiles. Usage: `.venv/bin/python bench/http_burst.py [--requests 2000]
[--clients 64]`.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.http.routes import build_router
from gitops_agent.agent.http.server import HttpServer
from gitops_agent.cli.demo_cmd import prepare_repo
from gitops_agent.kube.client import connect
from gitops_agent.localcluster import LocalCluster, Mode

PATHS = ("/healthz", "/api/v1/deployments", "/", "/metrics")


def _one(port: int, path: str) -> tuple[float, int | str]:
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        outcome: int | str = response.status
    except OSError as err:
        outcome = type(err).__name__
    return time.perf_counter() - started, outcome


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def burst(port: int, requests: int, clients: int) -> dict[str, float | int]:
    with ThreadPoolExecutor(clients) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda i: _one(port, PATHS[i % len(PATHS)]), range(requests)))
        elapsed = time.perf_counter() - started
    times = [t for t, _ in results]
    errors = sum(1 for _, outcome in results if outcome != 200)
    return {
        "requests": requests,
        "clients": clients,
        "errors": errors,
        "p50_ms": _percentile(times, 0.5) * 1000,
        "p95_ms": _percentile(times, 0.95) * 1000,
        "p99_ms": _percentile(times, 0.99) * 1000,
        "max_ms": max(times) * 1000,
        "per_second": requests / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalCluster(Path(tmp) / "cluster", mode=Mode.API) as cluster:
        kube = connect(str(cluster.kubeconfig))
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "agents"}})
        bare, _ = prepare_repo(Path(tmp))
        config = AgentConfig(
            repo=str(bare), state_namespace="agents", cache_dir=Path(tmp) / "cache", leader_elect=False,
            listen_host="127.0.0.1", listen_port=0, poll_interval=3600.0, resync_interval=3600.0,
        )  # fmt: skip
        agent = Agent(config, kube)
        server = HttpServer(build_router(agent), "127.0.0.1", 0)
        server.start()
        agent.start()
        deadline = time.monotonic() + 120
        while len(agent.board.deployments()) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        threads_before = threading.active_count()
        result = burst(server.port, args.requests, args.clients)
        print("| requests | clients | errors | p50 | p95 | p99 | max | req/s | threads added |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {result['requests']} | {result['clients']} | {result['errors']} | {result['p50_ms']:.0f} ms "
            f"| {result['p95_ms']:.0f} ms | {result['p99_ms']:.0f} ms | {result['max_ms']:.0f} ms "
            f"| {result['per_second']:.0f} | {threading.active_count() - threads_before} |"
        )
        agent.stop(timeout=10)
        server.stop()


if __name__ == "__main__":
    main()
