"""Requests while N revisions roll out: the running agent tracks rollouts from its watch cache.

    .venv/bin/python bench/rollout_requests.py [--deployments 500]

A `full` local cluster (kwok nodes make pods Ready; N/100 + 3 of them, 110 pods each), N minimal
development deployments (the `MINIMAL` template of bench/sync_scale.py, one API-server pod each) on
a bare Git repository, and a running agent (in this process). After its first convergence (every
revision Deployed), one commit changes the image of all N deployments; the agent syncs it (N new
revisions, Deploying) and tracks each rollout until it is Deployed. Requests are read from the
apiserver's own `apiserver_request_total` before the push, when every unit shows its new revision
(the sync is done and tracking starts), and when every revision is Deployed; only the resources the
deployments render to plus configmaps are counted (see bench/sync_scale.py for why filtering by
resource is exact).

The tracking row is the point: object reads while N rollouts progress. For comparison, the polling
monitor this replaced issued one GET per object per rollout per second (plus one EndpointSlice LIST
per Service): the estimate row is that rate times the measured tracking time, not a measurement.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from sync_scale import (
    MINIMAL,
    NAMESPACE,
    NEW_TAG,
    OLD_TAG,
    SETTINGS,
    Requests,
    deployment_name,
    read_counters,
    requests_between,
)

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster, Mode, ensure_binaries
from gitops_agent.reconcile.sync import DEFAULT_STATE_NAMESPACE

RESOURCES = frozenset({"deployments", "services", "ingresses", "configmaps"})
"""What a deployment renders to, and the inventories; pods and EndpointSlices are the controllers'."""
OBJECTS_PER_DEPLOYMENT = 3  # Deployment, Service, Ingress
STATE_NAMESPACE = DEFAULT_STATE_NAMESPACE


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def write_repo(work: Path, count: int, tag: str) -> None:
    (work / "deployments").mkdir(parents=True, exist_ok=True)
    (work / "gitops-agent.yaml").write_text(SETTINGS)
    for index in range(count):
        name = deployment_name(index)
        text = MINIMAL.format(name=name, namespace="", tag=OLD_TAG, team=index % 7)
        (work / "deployments" / f"{name}.yaml").write_text(text.replace(OLD_TAG, tag))


def wait_until(condition: Callable[[], bool], timeout: float, what: str, agent: Agent) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            seen = Counter(states(agent))
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}; (revision, state): {seen}")
        time.sleep(0.5)
    return time.monotonic() - started


def states(agent: Agent) -> list[tuple[int | None, str | None]]:
    rows = [agent.board.deployment(name) or {} for name in agent.board.names()]
    return [(r.get("revision"), r.get("revision_state")) for r in rows]


def all_at(agent: Agent, count: int, revision: int, state: str | None) -> bool:
    seen = states(agent)
    return len(seen) == count and all(r == revision and (state is None or s == state) for r, s in seen)


def recorded(agent: Agent, count: int, revision: int) -> bool:
    """Every unit shows `revision` with a recorded state: the sync saved its inventories."""
    seen = states(agent)
    return len(seen) == count and all(r == revision and s in ("Deploying", "Deployed") for r, s in seen)


def row(phase: str, seconds: float, requests: Requests) -> str:
    """Reads and server-side applies of the deployments' objects (the controllers write with PUT and
    PATCH, never APPLY), dry-runs, and the inventory requests (configmaps)."""
    detail = requests.detail.items()
    objects = [(k.split()[0], n) for k, n in detail if "configmaps" not in k and not k.startswith("dry-run")]
    reads = sum(n for verb, n in objects if verb in ("GET", "LIST"))
    applies = sum(n for verb, n in objects if verb == "APPLY")
    inventory = sum(n for k, n in detail if "configmaps" in k and not k.startswith("dry-run"))
    return f"| {phase} | {seconds:.1f} | {reads} | {applies} | {requests.dry_runs} | {inventory} |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    ensure_binaries()
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as scratch:
        work_dir = Path(scratch)
        # kwok nodes take 110 pods each: enough nodes for one pod per deployment, and headroom
        cluster = LocalCluster(work_dir / "cluster", mode=Mode.FULL, nodes=args.deployments // 100 + 3)
        cluster.start()
        try:
            return run(cluster, connect(str(cluster.kubeconfig)), work_dir, args.deployments, args.timeout)
        finally:
            cluster.stop()


def run(cluster: LocalCluster, kube: KubeClient, work_dir: Path, count: int, timeout: float) -> int:
    for namespace in (NAMESPACE, "agents-staging", STATE_NAMESPACE):
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    bare, work = work_dir / "repo.git", work_dir / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=work_dir)
    work.mkdir()
    write_repo(work, count, OLD_TAG)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "import", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    config = AgentConfig(
        repo=str(bare), state_namespace=STATE_NAMESPACE, cache_dir=work_dir / "cache",
        listen_host="127.0.0.1", listen_port=0, poll_interval=3600.0, resync_interval=3600.0,
        webhook_secret=None, leader_elect=False, identity="bench", lease_name="bench",
    )  # fmt: skip
    agent = Agent(config, kube)
    agent.start()
    try:
        first = wait_until(
            lambda: all_at(agent, count, 1, "Deployed"), timeout, "the first convergence", agent
        )
        print(f"first convergence: {count} deployments Deployed in {first:.1f} s", file=sys.stderr)
        time.sleep(2)  # let the last watch events and writes settle
        write_repo(work, count, NEW_TAG)
        git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qam", "bump", cwd=work)
        git("push", "-q", str(bare), "main", cwd=work)
        before = read_counters(kube, RESOURCES)
        agent.trigger_fetch()
        synced = wait_until(
            lambda: recorded(agent, count, 2), timeout, "the sync of the new revisions", agent
        )
        middle = read_counters(kube, RESOURCES)
        tracked = wait_until(
            lambda: all_at(agent, count, 2, "Deployed"), timeout, "every rollout Deployed", agent
        )
        after = read_counters(kube, RESOURCES)
    finally:
        agent.stop(timeout=10)
    estimate = count * (OBJECTS_PER_DEPLOYMENT + 1) * tracked
    print(f"{count} deployments, {count} new revisions rolling out at once (full local cluster, kwok)\n")
    print("| phase | seconds | object reads | applies | dry-runs | inventory requests |")
    print("|---|---|---|---|---|---|")
    print(row(f"sync: apply {count} revisions", synced, requests_between(before, middle)))
    print(row(f"tracking: {count} rollouts to Deployed", tracked, requests_between(middle, after)))
    print(f"| (replaced polling monitor, estimate) | {tracked:.1f} | ~{estimate:.0f} | 0 | 0 | 0 |")
    print(f"\nsync detail: {requests_between(before, middle).detail}", file=sys.stderr)
    print(f"tracking detail: {requests_between(middle, after).detail}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
