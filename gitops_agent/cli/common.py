"""Flags and helpers shared by the commands that talk to a repository and a cluster.

Kubeconfig and context flags behave as kubectl users expect (`--kubeconfig`, `$KUBECONFIG`,
`--context`, in-cluster config inside a pod); repository flags accept a URL or a local folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.reconcile.sync import DEFAULT_STATE_NAMESPACE
from gitops_agent.source import GitAuth, Source, open_source


def default_cache_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gitops-agent" / "repos"


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster config)",
    )
    group.add_argument("--context", default=None, help="kubeconfig context to use")
    group.add_argument(
        "--state-namespace",
        default=os.environ.get("GITOPS_AGENT_STATE_NAMESPACE", DEFAULT_STATE_NAMESPACE),
        help="namespace holding inventories, revision history and the password seed "
        "(env GITOPS_AGENT_STATE_NAMESPACE; default %(default)s)",
    )
    group.add_argument(
        "--instance",
        default=os.environ.get("GITOPS_AGENT_INSTANCE", ""),
        help="this agent instance's id (env GITOPS_AGENT_INSTANCE; default: the state namespace): "
        "objects and inventories carry it, and an instance never touches another's objects. Two "
        "agents sharing one state namespace need different ids",
    )


def add_repo_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("repository")
    group.add_argument(
        "--repo",
        default=os.environ.get("GITOPS_AGENT_REPO", "."),
        help="deployments repository: a Git URL, a bare repository, or a local folder "
        "(env GITOPS_AGENT_REPO; default: the current folder)",
    )
    group.add_argument(
        "--ref",
        default=os.environ.get("GITOPS_AGENT_REF", "main"),
        help="branch, tag or commit of a Git repository (env GITOPS_AGENT_REF; default main)",
    )
    group.add_argument(
        "--repo-path",
        "--path",
        dest="sub_path",
        action=RenamedFlag,
        default=os.environ.get("GITOPS_AGENT_PATH", ""),
        help="sub-folder of the repository holding gitops-agent.yaml (env GITOPS_AGENT_PATH; "
        "--path is the deprecated spelling)",
    )
    group.add_argument(
        "--git",
        dest="use_git",
        action="store_true",
        help="read a local checkout's committed --ref instead of its files on disk",
    )
    group.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where Git clones are cached (default %(default)s)",
    )


def open_repo(args: argparse.Namespace) -> Source:
    """The source the repository flags describe; credentials come from GITOPS_AGENT_GIT_* env vars."""
    return open_source(
        args.repo,
        ref=args.ref,
        sub_path=args.sub_path,
        cache_dir=args.cache_dir,
        auth=GitAuth.from_env(),
        use_git=args.use_git,
    )


def kube_from(args: argparse.Namespace) -> KubeClient:
    return connect(args.kubeconfig, args.context)


def plural(count: int, word: str) -> str:
    """`1 unit`, `0 units`, `2 problems`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class RenamedFlag(argparse.Action):
    """A flag with an older spelling kept as an alias: the first option string is the name, the
    others still work and say so on stderr (`--path` meant two things; each meaning has one name now:
    `--repo-path` for the sub-folder, `--ingress-path` for the URL path of `new`)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string is not None and option_string != self.option_strings[0]:
            print(f"warning: {option_string} is deprecated; use {self.option_strings[0]}", file=sys.stderr)
        setattr(namespace, self.dest, values)
