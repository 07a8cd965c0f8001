"""`gitops-agent schema`: print the JSON Schemas, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gitops_agent.manifests.schemas import SCHEMA_NAMES, schema_text


def register(subparsers: Any) -> None:
    """Add `schema`."""
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of deployment files or of gitops-agent.yaml",
        description="Print a JSON Schema (2020-12). Point your editor at it, e.g. with a "
        "`# yaml-language-server: $schema=...` comment, to get completion and inline errors.",
    )
    parser.add_argument(
        "name",
        nargs="?",
        choices=SCHEMA_NAMES,
        default="agentdeployment",
        help="which schema (default: agentdeployment)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the schema exactly as shipped."""
    sys.stdout.write(schema_text(args.name))
    return 0
