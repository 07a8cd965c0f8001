"""`gitops-agent validate`: check a deployments repository without a cluster (CI, pre-commit, editors).

Exit status 0 means every file is valid, 1 that problems were found. `--format github` prints
workflow commands, so problems show up as annotations on the pull request's diff.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gitops_agent.cli.common import plural
from gitops_agent.controlplane.gitcmd import load_at
from gitops_agent.manifests import Problem, RepositoryLoad, load_repository
from gitops_agent.manifests.databases import moves_since


def register(subparsers: Any) -> None:
    """Add `validate`."""
    parser = subparsers.add_parser(
        "validate",
        help="check a deployments repository (schema and semantic checks, no cluster needed)",
        description="Load gitops-agent.yaml, deployments/*.yaml and manifests/ like the in-cluster agent "
        "does and report every problem as file:line:column: field: message. Exit status: 0 valid, 1 invalid.",
    )
    parser.add_argument("path", nargs="?", default=".", help="repository root (default: current directory)")
    parser.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text (default), json, or github (GitHub Actions ::error annotations)",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help="also check the change since this Git commit or branch (e.g. origin/main in a pull "
        "request): a deployment with managed Postgres that moves to another namespace or name without "
        "spec.postgres.managed.volumeFrom is a problem (its data would stay behind)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate and print; the exit status says whether the repository is valid."""
    loaded = load_repository(Path(args.path))
    moved = _moves_since(args.base, Path(args.path), loaded) if args.base else []
    problems = [display(p, args.path) for p in (*loaded.all_problems(), *moved)]
    warnings = [display(w, args.path) for w in loaded.warnings]
    if args.format == "json":
        print(json.dumps(_as_json(loaded, problems, warnings, valid=not moved), indent=2, sort_keys=True))
    else:
        for problem in problems:
            print(github_annotation(problem) if args.format == "github" else str(problem))
        for warning in warnings:  # worth fixing, but they do not make the repository invalid
            print(github_annotation(warning, "warning") if args.format == "github" else f"warning: {warning}")
        print(_summary(loaded, problems, warnings, moved=len(moved)))
    return 0 if loaded.valid and not moved else 1


def _moves_since(base: str, root: Path, loaded: RepositoryLoad) -> list[Problem]:
    """What `loaded` does to the managed databases of the repository as it is at `base`."""
    with tempfile.TemporaryDirectory(prefix="gitops-agent-base-") as tmp:
        before = load_repository(load_at(root, base, Path(tmp)))
    return moves_since(before, loaded, root=root)


def display(problem: Problem, root: str) -> Problem:
    """The problem with its file relative to the current directory (how editors and CI find files)."""
    return Problem(
        os.path.normpath(os.path.join(root, problem.file)),
        problem.line,
        problem.column,
        problem.field,
        problem.message,
    )


def _summary(
    loaded: RepositoryLoad, problems: list[Problem], warnings: list[Problem], *, moved: int = 0
) -> str:
    """One line that agrees with the exit status: `ok: …` only when it is 0."""
    invalid = sum(1 for u in loaded.units if not u.valid or u.contests)
    units = plural(len(loaded.units), "unit")
    if loaded.valid and moved:
        return f"invalid: {plural(moved, 'deployment')} would leave managed Postgres data behind; {units}"
    if loaded.valid:
        noted = f" ({plural(len(warnings), 'warning')})" if warnings else ""
        return f"ok: {units}, all valid{noted}"
    if not invalid:  # nothing wrong in any unit: the settings file, the layout, a conflict
        where = "settings, layout or conflicts between files"
        return f"invalid: {plural(len(loaded.problems), 'repository problem')} ({where}); {units}"
    return f"invalid: {invalid} of {units} invalid, {plural(len(problems), 'problem')}"


def _as_json(
    loaded: RepositoryLoad, problems: list[Problem], warnings: list[Problem], *, valid: bool
) -> dict[str, Any]:
    def entry(p: Problem) -> dict[str, Any]:
        return {"file": p.file, "line": p.line, "column": p.column, "field": p.field, "message": p.message}

    return {
        "valid": loaded.valid and valid,
        "problems": [entry(p) for p in problems],
        "warnings": [entry(w) for w in warnings],
        "units": [
            {"name": u.name, "files": list(u.files), "valid": u.valid, "problems": len(u.problems)}
            for u in loaded.units
        ],
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, level: str = "error") -> str:
    """A GitHub Actions `::error` (or `::warning`) workflow command for one problem."""
    title = problem.field or "gitops-agent"
    properties = ",".join(
        f"{key}={_escape_property(str(value))}"
        for key, value in (
            ("file", problem.file),
            ("line", problem.line),
            ("col", problem.column),
            ("title", title),
        )
    )
    return f"::{level} {properties}::{_escape_data(problem.message)}"
