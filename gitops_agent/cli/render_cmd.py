"""`gitops-agent render`: show the Kubernetes objects a repository turns into, without a cluster.

The output is what the in-cluster agent applies, except for two things it cannot know offline: the
revision/commit stamps, and generated passwords (derived from a seed the agent keeps in a cluster
Secret; here a fixed placeholder seed is used). Secret values are masked unless asked for.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gitops_agent.cli.validate_cmd import display
from gitops_agent.core.errors import ConfigError
from gitops_agent.manifests import (
    MANIFESTS_UNIT,
    PLACEHOLDER_SEED,
    Unit,
    dump_yaml,
    load_repository,
    masked,
    render_unit,
)
from gitops_agent.manifests.plain import load_plain, object_identity


def register(subparsers: Any) -> None:
    """Add `render`."""
    parser = subparsers.add_parser(
        "render",
        help="print the Kubernetes objects the repository renders to (multi-document YAML)",
        description="Render every deployment (or the chosen ones) and manifests/ to Kubernetes objects, in "
        "apply order. Generated passwords use a fixed placeholder seed, so they differ from the ones the "
        "in-cluster agent generates (it keeps its seed in a cluster Secret): never apply this output's "
        "Secrets. Exit status: 0 rendered, 1 the repository (or a chosen deployment) is invalid.",
    )
    parser.add_argument("path", nargs="?", default=".", help="repository root (default: current directory)")
    parser.add_argument(
        "--deployment",
        "-d",
        action="append",
        metavar="NAME",
        help=f"render only this deployment (repeatable; {MANIFESTS_UNIT!r} selects manifests/)",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="print Secret data instead of *** (placeholder-seed passwords)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Render and print, or print the problems that prevent it."""
    loaded = load_repository(Path(args.path))
    units = _selected(loaded.units, args.deployment)
    # Only the chosen units must be valid; offline nothing is live, so every contest counts.
    problems = {p for u in units for p in (*u.problems, *u.lost_contests(()))}
    if loaded.settings is None:
        problems.update(loaded.all_problems())
    if problems or loaded.settings is None:
        for problem in sorted(problems):
            print(display(problem, args.path), file=sys.stderr)
        print(
            f"render: {len(problems)} problems; fix them first (see `gitops-agent validate`)", file=sys.stderr
        )
        return 1
    sources = _plain_sources(Path(args.path), loaded.settings, units)
    documents = []
    for unit in units:
        for obj in render_unit(unit, loaded.settings, secret_seed=PLACEHOLDER_SEED).objects:
            manifest = obj.manifest if args.show_secrets else masked(obj.manifest)
            source = sources.get(object_identity(obj.manifest), unit.files[0] if unit.files else unit.name)
            documents.append((source, manifest))
    sys.stdout.write(dump_yaml(documents))
    return 0


def _selected(units: tuple[Unit, ...], names: list[str] | None) -> list[Unit]:
    if not names:
        return list(units)
    known = {u.name: u for u in units}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"no deployment named {', '.join(missing)}; known: {', '.join(known) or 'none'}")
    return [known[n] for n in dict.fromkeys(names)]


def _plain_sources(root: Path, settings: Any, units: list[Unit]) -> dict[tuple[str, str, str, str], str]:
    """Which file each manifests/ object came from, for the `# Source:` comments."""
    if not any(u.name == MANIFESTS_UNIT for u in units):
        return {}
    objects = load_plain(root, settings).objects
    return {object_identity(o.manifest): o.file for o in objects}
