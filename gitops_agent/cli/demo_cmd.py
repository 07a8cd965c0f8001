"""`gitops-agent demo`: the main job on a fresh machine.

Builds (first time) and starts a local Kubernetes cluster from real components, turns sample-repo/
into a local Git repository (a bare "remote" plus a working clone for you to edit and push), runs the
agent against it and prints where the status page and metrics are. Everything lives in a stable
directory, so a second run reuses the binaries, the cluster's state and your clone.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from gitops_agent.agent.config import AgentConfig, UiConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.http.routes import build_router
from gitops_agent.agent.http.server import HttpServer
from gitops_agent.core.errors import LocalClusterError
from gitops_agent.core.logs import setup_logging
from gitops_agent.engine.health import Health, check_unit
from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster, Mode, ensure_binaries
from gitops_agent.reconcile.sync import SyncState
from gitops_agent.state.inventory import InventoryStore

SAMPLE_REPO = Path(__file__).resolve().parents[2] / "sample-repo"
NAMESPACES = ("agents", "agents-staging", "gitops-agent")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitops-agent demo",
    "GIT_AUTHOR_EMAIL": "demo@gitops-agent.dev",
    "GIT_COMMITTER_NAME": "gitops-agent demo",
    "GIT_COMMITTER_EMAIL": "demo@gitops-agent.dev",
}


def default_demo_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gitops-agent" / "demo"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start a local cluster and an agent syncing sample-repo/ into it (the main job)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, default=default_demo_dir(), help="demo state directory")
    parser.add_argument(
        "--port", type=int, default=8080, help="status page / metrics port (a free one if busy)"
    )
    parser.add_argument("--once", action="store_true", help="exit after the first sync and health check")
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for healthy deployments"
    )
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    ensure_binaries()
    started = time.monotonic()
    with LocalCluster(args.dir / "cluster", mode=Mode.FULL) as cluster:
        print(
            f"local cluster (etcd, kube-apiserver, controller-manager, scheduler, 3 kwok nodes) ready "
            f"in {time.monotonic() - started:.1f}s"
        )
        kube = connect(str(cluster.kubeconfig))
        for namespace in NAMESPACES:
            if kube.get("v1", "Namespace", namespace) is None:
                kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        bare, work = prepare_repo(args.dir)
        setup_logging("text", "warning")
        agent, server = _start_agent(args, kube, bare)
        try:
            healthy = _wait_until_synced(agent, kube, args.timeout)
            _print_summary(agent, cluster, server.port, work)
            if args.once:
                return 0 if healthy else 1
            print("\nrunning; press Ctrl-C to stop", flush=True)
            while all(p.alive() for p in cluster.processes):
                time.sleep(1)
            raise LocalClusterError("a cluster component exited; see " + str(args.dir / "cluster" / "logs"))
        except KeyboardInterrupt:
            return 0
        finally:
            agent.stop(timeout=10)
            server.stop()


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_IDENTITY}, check=True, capture_output=True
    )


def prepare_repo(root: Path) -> tuple[Path, Path]:
    """A bare remote holding sample-repo and a clone to edit; kept as they are on later runs."""
    bare, work = root / "remote.git", root / "deployments-repo"
    if bare.exists() and work.exists():
        return bare, work
    shutil.rmtree(bare, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    shutil.copytree(SAMPLE_REPO, work)
    for step in (
        ("init", "-q", "-b", "main"),
        ("remote", "add", "origin", str(bare)),
        ("add", "-A"),
        ("commit", "-q", "-m", "Import sample-repo"),
        ("push", "-q", "-u", "origin", "main"),
    ):
        _git(*step, cwd=work)
    return bare, work


def _free(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_agent(args: argparse.Namespace, kube: KubeClient, bare: Path) -> tuple[Agent, HttpServer]:
    config = AgentConfig(
        repo=str(bare),
        state_namespace="gitops-agent",
        cache_dir=args.dir / "agent-cache",
        listen_host="127.0.0.1",
        listen_port=_free(args.port),
        poll_interval=5.0,
        resync_interval=300.0,
        leader_elect=False,
        identity="demo",
        # The web UI: pages open to all (a local demo), changes after a sign-in with this token.
        ui=UiConfig(token=secrets.token_hex(16), public_read=True),
    )
    agent = Agent(config, kube)
    server = HttpServer(build_router(agent), config.listen_host, config.listen_port)
    server.start()
    agent.start()
    return agent, server


def _wait_until_synced(agent: Agent, kube: KubeClient, timeout: float) -> bool:
    """True once every deployment synced and all its recorded objects are Healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = agent.board.deployments()
        if rows and all(r["sync_state"] in (SyncState.SYNCED, SyncState.FAILED) for r in rows):
            inventories = InventoryStore(kube, agent.config.state_namespace).load_all()
            healths = [
                check_unit(kube, name, [e.key for e in inv.objects]) for name, inv in inventories.items()
            ]
            if healths and all(h.health is Health.HEALTHY for h in healths):
                for health in healths:
                    agent.board.record_health(health)
                # The agent's rollout tracker may still report an earlier poll (Progressing) after
                # this: done once the board, which the summary prints, says Healthy too.
                if all(r["health"] == Health.HEALTHY.value for r in agent.board.deployments()):
                    return True
        time.sleep(1)
    return False


DEMO_DEPLOYMENT = "research-assistant"


def next_image(image: str) -> str:
    """The same image with its version's last number raised (`:0.3.0` → `:0.3.1`), so the demo's
    hint makes a real change whatever an earlier run already rolled out."""
    name = image.split("@", maxsplit=1)[0]
    match = re.match(r"^(?P<head>.*:[^:/]*?)(?P<last>\d+)$", name)
    if match is None:  # a digest or a tag without a number: a tag of the demo's own
        return name.rsplit(":", 1)[0] + ":demo-1" if ":" in name.rsplit("/", 1)[-1] else name + ":demo-1"
    return f"{match['head']}{int(match['last']) + 1}"


def _print_summary(agent: Agent, cluster: LocalCluster, port: int, work: Path) -> None:
    cli = Path(__file__).resolve().parents[2] / ".venv/bin/gitops-agent"
    current = agent.board.deployment(DEMO_DEPLOYMENT) or {}
    next_image_ref = next_image(str(current.get("image") or "ghcr.io/example/research-assistant:0.3.0"))
    next_revision = int(current.get("revision") or 1) + 1
    print(f"\n{'DEPLOYMENT':<22}{'REVISION':<10}{'COMMIT':<14}{'SYNC':<11}HEALTH")
    for row in agent.board.deployments():
        print(
            f"{row['name']:<22}{row['revision'] or '-'!s:<10}{row['commit'][:12]:<14}{row['sync_state']:<11}"
            f"{row['health']}"
        )
    print(f"""
status page   http://127.0.0.1:{port}/
web UI        http://127.0.0.1:{port}/sign-in  token {agent.config.ui_token}
status API    http://127.0.0.1:{port}/api/v1/deployments
metrics       http://127.0.0.1:{port}/metrics
kubectl       export KUBECONFIG={cluster.kubeconfig}
              {cluster.binaries.path("kubectl")} get deploy,sts,svc,ing -n agents

Roll out a new revision: a commit to the clone, pushed (the agent polls every 5 s):
  {cli} set-image research-assistant {next_image_ref} --repo {work}
(or sign in to the web UI and press New revision on research-assistant's page);
then watch its revision go to {next_revision} on the status page or with
  {cli} history research-assistant --kubeconfig {cluster.kubeconfig} --state-namespace gitops-agent""")
