"""`gitops-agent validate`: check a deployments repository without a cluster (CI, pre-commit, editors).

Exit status 0 means every file is valid, 1 that problems were found. `--format github` prints
workflow commands, so problems show up as annotations on the pull request's diff.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from gitops_agent.manifests import Problem, RepositoryLoad, load_repository


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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate and print; the exit status says whether the repository is valid."""
    loaded = load_repository(Path(args.path))
    problems = [display(p, args.path) for p in loaded.all_problems()]
    if args.format == "json":
        print(json.dumps(_as_json(loaded, problems), indent=2, sort_keys=True))
    else:
        for problem in problems:
            print(github_annotation(problem) if args.format == "github" else str(problem))
        print(_summary(loaded, problems))
    return 0 if loaded.valid else 1


def display(problem: Problem, root: str) -> Problem:
    """The problem with its file relative to the current directory (how editors and CI find files)."""
    return Problem(
        os.path.normpath(os.path.join(root, problem.file)),
        problem.line,
        problem.column,
        problem.field,
        problem.message,
    )


def _summary(loaded: RepositoryLoad, problems: list[Problem]) -> str:
    invalid = sum(1 for u in loaded.units if not u.valid or u.contests)
    units = f"{len(loaded.units)} unit{'s' if len(loaded.units) != 1 else ''}"
    if loaded.valid:
        return f"ok: {units}, all valid"
    return (
        f"invalid: {invalid} of {units} invalid, {len(problems)} problem{'s' if len(problems) != 1 else ''}"
    )


def _as_json(loaded: RepositoryLoad, problems: list[Problem]) -> dict[str, Any]:
    return {
        "valid": loaded.valid,
        "problems": [
            {"file": p.file, "line": p.line, "column": p.column, "field": p.field, "message": p.message}
            for p in problems
        ],
        "units": [
            {"name": u.name, "files": list(u.files), "valid": u.valid, "problems": len(u.problems)}
            for u in loaded.units
        ],
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem) -> str:
    """A GitHub Actions `::error` workflow command for one problem."""
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
    return f"::error {properties}::{_escape_data(problem.message)}"
