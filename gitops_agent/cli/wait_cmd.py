"""`gitops-agent wait NAME`: block until a revision is Deployed (CI's last step).

Reads the revision history the agent keeps in the state namespace. With `--repo` it also reads Git,
so `--commit X` waits for a revision that *contains* X (X, or a later commit, whatever X changed or
not), and no flag waits for the newest commit of `--ref`. Exit 0: such a revision is Deployed (or
was, before a newer one superseded it); 1: it is DeployFailed, RolledBack, Skipped, or the timeout
passed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from gitops_agent.cli.common import add_cluster_flags, default_cache_dir, kube_from
from gitops_agent.controlplane.wait import Observation, Phase, Wanted, wait_for_revision
from gitops_agent.core.errors import ConfigError, GitopsAgentError
from gitops_agent.manifests.settings import SETTINGS_FILE
from gitops_agent.source import GitSource, open_source


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
    parser.add_argument(
        "--repo",
        help="the deployments repository (URL or path): --commit then matches any revision that "
        "contains the commit, and no flag follows the newest commit of --ref",
    )
    parser.add_argument("--ref", default="main", help="the branch the agent follows (with --repo)")
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
    if args.repo and args.revision is None:
        wanted = _with_history(wanted, args)
    print(f"waiting for {wanted.describe()} (timeout {args.timeout:g}s)", flush=True)
    result = wait_for_revision(
        kube_from(args),
        state_namespace=args.state_namespace,
        wanted=wanted,
        instance=args.instance,
        timeout_seconds=args.timeout,
        poll_seconds=args.poll,
        on_change=_print_progress,
    )
    if result.phase is Phase.READY:
        print(f"ready: {result.message}")
        return 0
    print(f"gitops-agent wait: {result.message}", file=sys.stderr)
    return 1


def _with_history(wanted: Wanted, args: argparse.Namespace) -> Wanted:
    """The commit that last changed the deployment up to the asked one (or the ref's newest), and a
    test whether a recorded revision's commit descends from it."""
    source = open_source(args.repo, ref=args.ref, cache_dir=default_cache_dir(), use_git=True)
    if not isinstance(source, GitSource):
        raise ConfigError(f"--repo {args.repo!r} is not a Git repository")
    head = source.fetch()
    asked = source.log_at(wanted.commit or head.commit)
    paths = (f"deployments/{wanted.deployment}.yaml", SETTINGS_FILE)
    changed = asked.last_change(paths, since=None)
    target = changed.commit if changed else asked.until
    if target != asked.until:
        print(f"{asked.until[:12]} does not change {wanted.deployment}; it runs as of {target[:12]}")

    def contains(commit: str) -> bool:
        return commit == target or _safe_includes(source, commit, target)

    return replace(wanted, commit=target, contains=contains)


def _safe_includes(source: GitSource, commit: str, target: str) -> bool:
    try:
        return source.log_at(commit).includes(target)
    except GitopsAgentError:
        return False  # a commit this clone does not know (pushed since): not known to contain it


def _print_progress(seen: Observation) -> None:
    print(f"  {seen.progress()}", flush=True)
