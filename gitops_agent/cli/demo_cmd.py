"""`gitops-agent demo`: the main job on a fresh machine.

Starts the local cluster (real components, built from Go modules on first use) in a stable data
directory, so a second run reuses the binaries and the cluster's state.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from gitops_agent.localcluster import LocalCluster, Mode, ensure_binaries


def default_demo_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gitops-agent" / "demo"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start a local cluster and sync sample-repo/ into it (the main job)",
        description="Builds (first time) and starts a local Kubernetes cluster from real components, "
        "then keeps it running until Ctrl-C. State lives in --dir, so a second run reuses it.",
    )
    parser.add_argument("--dir", type=Path, default=default_demo_dir(), help="demo state directory")
    parser.add_argument("--once", action="store_true", help="print the status and stop (for scripts)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    ensure_binaries()
    started = time.monotonic()
    with LocalCluster(args.dir / "cluster", mode=Mode.FULL) as cluster:
        print(f"local cluster ready in {time.monotonic() - started:.1f}s at {cluster.server}")
        print(cluster.kubectl("get", "nodes"), end="")
        print(f"\nexport KUBECONFIG={cluster.kubeconfig}")
        if args.once:
            return 0
        print("running; press Ctrl-C to stop", flush=True)
        try:
            while all(p.alive() for p in cluster.processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0
