"""Command-line entry point: one sub-command per module in this package.

Each command module exposes `register(subparsers)`, which adds its parser and sets `handler`
(a function taking the parsed namespace and returning an exit code). Keeping one module per verb
lets verbs grow independently without a single giant CLI file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from gitops_agent import __version__
from gitops_agent.cli import (
    cluster_cmd,
    demo_cmd,
    edit_cmd,
    history_cmd,
    render_cmd,
    run_cmd,
    schema_cmd,
    sync_cmd,
    validate_cmd,
    wait_cmd,
)
from gitops_agent.core.errors import GitopsAgentError

COMMAND_MODULES: list[ModuleType] = [
    demo_cmd,
    run_cmd,
    cluster_cmd,
    validate_cmd,
    render_cmd,
    schema_cmd,
    sync_cmd,
    history_cmd,
    edit_cmd,
    wait_cmd,
]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="gitops-agent",
        description="GitOps control plane for LangGraph agent servers: a Git repository of "
        "AgentDeployment files is rendered to Kubernetes objects and converged with server-side apply.",
    )
    parser.add_argument("--version", action="version", version=f"gitops-agent {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; project errors become a message and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except GitopsAgentError as err:
        print(f"gitops-agent {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
