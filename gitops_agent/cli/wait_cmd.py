"""`gitops-agent wait NAME`: block until a revision is deployed and healthy (CI's last step).

Reads the revision history the agent keeps in the state namespace, so it needs cluster access but
no repository. Exit 0: the revision is Deployed and Healthy (or was deployed before a newer one
superseded it); 1: it Failed, was RolledBack, turned Degraded, or the timeout passed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gitops_agent.cli.common import add_cluster_flags, kube_from
from gitops_agent.controlplane.wait import Observation, Phase, Wanted, wait_for_revision
from gitops_agent.core.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add `wait`."""
    parser = subparsers.add_parser(
        "wait",
        help="wait until a deployment's revision is deployed and healthy",
        description="Poll the agent's revision history and the live objects until the revision is "
        "Deployed and Healthy (exit 0), or Failed / RolledBack / Degraded / timed out (exit 1). "
        "Without --revision or --commit: the newest revision.",
    )
    parser.add_argument("name", help="deployment name")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--revision", type=int, help="revision number")
    which.add_argument(
        "--commit", metavar="SHA", help="the revision this commit introduced (full or 7+ chars)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between checks (default 2)")
    add_cluster_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.timeout <= 0 or args.poll <= 0:
        raise ConfigError("--timeout and --poll must be positive")
    if args.commit is not None and len(args.commit.strip()) < 4:
        raise ConfigError(f"--commit {args.commit!r} is too short to name a commit")
    wanted = Wanted(args.name, revision=args.revision, commit=(args.commit or "").strip() or None)
    print(f"waiting for {wanted.describe()} (timeout {args.timeout:g}s)", flush=True)
    result = wait_for_revision(
        kube_from(args),
        state_namespace=args.state_namespace,
        wanted=wanted,
        timeout_seconds=args.timeout,
        poll_seconds=args.poll,
        on_change=_print_progress,
    )
    if result.phase is Phase.READY:
        print(f"ready: {result.message}")
        return 0
    print(f"gitops-agent wait: {result.message}", file=sys.stderr)
    return 1


def _print_progress(seen: Observation) -> None:
    print(f"  {seen.progress()}", flush=True)
