"""`gitops-agent cluster`: build and run the local Kubernetes cluster used by tests and the demo."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from gitops_agent.localcluster import LocalCluster, Mode, ensure_binaries


def register(subparsers: Any) -> None:
    """Add `cluster build` and `cluster up`."""
    parser = subparsers.add_parser(
        "cluster",
        help="build or start the local Kubernetes cluster (real components built from Go modules)",
        description="The local cluster: etcd + kube-apiserver (mode api), plus kube-controller-manager, "
        "kube-scheduler and kwok fake nodes (mode full). Binaries are built once into "
        "${XDG_CACHE_HOME:-~/.cache}/gitops-agent/k8s-<version>/bin.",
    )
    verbs = parser.add_subparsers(dest="cluster_verb", metavar="VERB", required=True)
    build = verbs.add_parser("build", help="build the binaries (skips those already cached)")
    build.set_defaults(handler=_build)
    up = verbs.add_parser("up", help="start a cluster, print its nodes, keep it running until Ctrl-C")
    up.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.FULL.value)
    up.add_argument("--dir", type=Path, default=None, help="cluster data directory (default: a temp dir)")
    up.add_argument("--once", action="store_true", help="stop right after printing the nodes")
    up.set_defaults(handler=_up)


def _build(args: argparse.Namespace) -> int:
    binaries = ensure_binaries()
    print(binaries.bin_dir)
    return 0


def _up(args: argparse.Namespace) -> int:
    ensure_binaries()
    work_dir = args.dir or Path(tempfile.mkdtemp(prefix="gitops-agent-cluster-"))
    started = time.monotonic()
    with LocalCluster(work_dir, mode=Mode(args.mode)) as cluster:
        print(f"cluster ({args.mode}) ready in {time.monotonic() - started:.1f}s: {cluster.server}")
        print(cluster.kubectl("get", "nodes", "-o", "wide"), end="")
        print(f"export KUBECONFIG={cluster.kubeconfig}")
        if not args.once:
            print("running; press Ctrl-C to stop", flush=True)
            try:
                while all(p.alive() for p in cluster.processes):
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    if os.environ.get("GITOPS_AGENT_KEEP_CLUSTER_DIR") is None and args.dir is None:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0
