"""The control-plane verbs: create a deployment or a new revision by writing a commit.

In LangGraph's hosted control plane a user creates a deployment, or a new revision of one, from a UI
or an API. Here Git stays the source of truth, so the same verbs write commits to the deployments
repository, the path a merged pull request takes, and the agent rolls them out. The CLI
(`gitops-agent new / set-image / set-env / scale / delete`) and the HTTP API call these functions.

Each verb computes its change on the repository as it is now (pure YAML edits from `edit` and
`scaffold`), and `repo_writer` validates it with `load_repository` before anything is written: an
edit is refused when the repository would get a problem it does not have now (compared without
line numbers, which move when lines are added), so a repository that is already broken elsewhere
can still be edited, but never made worse.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gitops_agent.controlplane.edit import (
    DeploymentExistsError,
    EditError,
    PushConflictError,
    ScaleSpec,
    UnknownDeploymentError,
    ValidationFailedError,
    describe_scale,
)
from gitops_agent.controlplane.edit import set_env as edit_env
from gitops_agent.controlplane.edit import set_image as edit_image
from gitops_agent.controlplane.edit import set_redeploy as edit_redeploy
from gitops_agent.controlplane.edit import set_scale as edit_scale
from gitops_agent.controlplane.edit import set_suspend as edit_suspend
from gitops_agent.controlplane.repo_writer import Change, EditResult, Planner, RepoTarget, publish
from gitops_agent.controlplane.scaffold import NewDeployment, render_new
from gitops_agent.manifests import MANIFESTS_UNIT, Problem, load_repository

DEPLOYMENTS_DIR = "deployments"
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "DeploymentExistsError",
    "EditError",
    "EditResult",
    "NewDeployment",
    "PushConflictError",
    "RepoTarget",
    "ScaleSpec",
    "UnknownDeploymentError",
    "ValidationFailedError",
    "create_deployment",
    "delete_deployment",
    "redeploy",
    "rollback",
    "scale",
    "set_env",
    "set_image",
    "suspend",
]


def create_deployment(repo: RepoTarget, spec: NewDeployment) -> EditResult:
    """Add `deployments/<name>.yaml` (commented, valid by schema); the name must be new."""
    if not _NAME.match(spec.name) or len(spec.name) > 40:
        raise EditError(
            f"invalid deployment name {spec.name!r}: lowercase letters, digits and '-', "
            "starting with a letter, at most 40 characters"
        )
    text = render_new(spec)

    def plan(root: Path) -> Change:
        if any((root / DEPLOYMENTS_DIR / f"{spec.name}{suffix}").exists() for suffix in (".yaml", ".yml")):
            raise DeploymentExistsError(f"deployment {spec.name!r} already exists")
        path = f"{DEPLOYMENTS_DIR}/{spec.name}.yaml"
        return Change(spec.name, f"{spec.name}: new deployment ({spec.image})", ((path, text),))

    return publish(repo, plan, check=check_no_new_problems)


def set_image(repo: RepoTarget, name: str, image: str) -> EditResult:
    """A new revision running `image`."""

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        return Change(name, f"{name}: image → {image}", ((path, edit_image(_read(root, path), image)),))

    return publish(repo, plan, check=check_no_new_problems)


def set_env(
    repo: RepoTarget, name: str, *, set: Mapping[str, str] | None = None, unset: Sequence[str] = ()
) -> EditResult:
    """A new revision with plain environment variables set and/or removed (never secrets: `secretEnv`)."""
    values = dict(set or {})
    if not values and not unset:
        raise EditError("nothing to change: give KEY=VALUE pairs and/or --unset KEY")
    for key in [*values, *unset]:
        if not _ENV_NAME.match(key):
            raise EditError(f"invalid environment variable name {key!r}")

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        text = edit_env(_read(root, path), set_vars=values, unset=unset)
        return Change(name, f"{name}: {_env_words(values, unset)}", ((path, text),))

    return publish(repo, plan, check=check_no_new_problems)


def scale(
    repo: RepoTarget,
    name: str,
    *,
    min: int | None = None,
    max: int | None = None,
    target_cpu: int | None = None,
    replicas: int | None = None,
    queue: bool = False,
) -> EditResult:
    """A new revision with a fixed `replicas` count or an autoscaling range (`min..max`)."""
    if replicas is not None and (min is not None or max is not None or target_cpu is not None):
        raise EditError("give a fixed replica count or an autoscaling range (--min/--max), not both")
    if replicas is None and min is None and max is None and target_cpu is None:
        raise EditError("nothing to change: give --replicas, or --min/--max/--target-cpu")
    request = ScaleSpec(
        replicas=replicas, min_replicas=min, max_replicas=max, target_cpu=target_cpu, queue=queue
    )

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        text = edit_scale(_read(root, path), request)
        return Change(
            name, f"{name}: {describe_scale(text, queue=queue, cpu=target_cpu is not None)}", ((path, text),)
        )

    return publish(repo, plan, check=check_no_new_problems)


def delete_deployment(repo: RepoTarget, name: str) -> EditResult:
    """Remove the deployment's file: the agent tears the deployment down (prune rules apply)."""

    def plan(root: Path) -> Change:
        return Change(name, f"{name}: delete", ((deployment_file(root, name), None),))

    return publish(repo, plan, check=check_no_new_problems)


def suspend(repo: RepoTarget, name: str, *, suspended: bool = True) -> EditResult:
    """`spec.suspend`: the agent leaves the deployment alone (no apply, self-heal or prune) until resumed."""
    return publish(repo, suspend_plan(name, suspended=suspended), check=check_no_new_problems)


def redeploy(repo: RepoTarget, name: str, *, now: datetime | None = None) -> EditResult:
    """A new revision of the same spec that restarts every agent pod (`spec.redeploy` = the time)."""
    return publish(repo, redeploy_plan(name, now=now), check=check_no_new_problems)


def rollback(repo: RepoTarget, name: str, *, commit: str, revision: int | None = None) -> EditResult:
    """A commit that restores the deployment's file as it was at `commit` (revision `revision`'s), so
    Git stays the record: the agent rolls that spec out as a new revision."""
    return publish(repo, rollback_plan(name, commit=commit, revision=revision), check=check_no_new_problems)


def suspend_plan(name: str, *, suspended: bool) -> Planner:
    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        word = "suspend" if suspended else "resume"
        return Change(name, f"{name}: {word}", ((path, edit_suspend(_read(root, path), suspended)),))

    return plan


def redeploy_plan(name: str, *, now: datetime | None = None) -> Planner:
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        return Change(name, f"{name}: redeploy ({stamp})", ((path, edit_redeploy(_read(root, path), stamp)),))

    return plan


def rollback_plan(name: str, *, commit: str, revision: int | None = None) -> Planner:
    what = f"revision {revision} ({commit[:12]})" if revision is not None else commit[:12]

    def plan(root: Path) -> Change:
        path = deployment_file(root, name)
        shown = subprocess.run(
            ["git", "show", f"{commit}:./{path}"], cwd=root, check=False, capture_output=True, text=True
        )
        if shown.returncode != 0:
            raise EditError(f"{path} does not exist at commit {commit[:12]}: {shown.stderr.strip()}")
        return Change(name, f"{name}: roll back to {what}", ((path, shown.stdout),))

    return plan


@dataclass(frozen=True)
class Action:
    """A body-less verb on one deployment (the HTTP API's `POST …/{name}/<action>`)."""

    summary: str
    plan: Callable[[str], Planner]


ACTIONS: dict[str, Action] = {
    "suspend": Action(
        "Suspend: commit `spec.suspend: true`; the agent leaves the deployment alone",
        lambda name: suspend_plan(name, suspended=True),
    ),
    "resume": Action(
        "Resume: commit the removal of `spec.suspend`", lambda name: suspend_plan(name, suspended=False)
    ),
    "redeploy": Action(
        "Redeploy: commit a new `spec.redeploy` (the same spec again, every pod restarted)", redeploy_plan
    ),
}


def deployment_file(root: Path, name: str) -> str:
    """`deployments/<name>.yaml` (or `.yml`) relative to the repository folder."""
    loaded = load_repository(root)
    unit = loaded.unit(name)
    if name == MANIFESTS_UNIT or unit is None or not unit.files:
        known = sorted(u.name for u in loaded.units if u.name != MANIFESTS_UNIT)
        raise UnknownDeploymentError(name, known)
    candidates = [f for f in unit.files if f.startswith(f"{DEPLOYMENTS_DIR}/")]
    if not candidates:
        raise UnknownDeploymentError(name, [])
    return candidates[0]


def check_no_new_problems(before: Path, after: Path) -> None:
    """Raise ValidationFailedError with every problem `after` has and `before` had not."""
    old = {_identity(p) for p in load_repository(before).all_problems()}
    new = [p for p in load_repository(after).all_problems() if _identity(p) not in old]
    if new:
        raise ValidationFailedError(new)


def _identity(problem: Problem) -> tuple[str, str, str]:
    """A problem without its position: editing a file moves the lines below the edit."""
    return problem.file, problem.field, problem.message


def _read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8")


def _env_words(values: Mapping[str, str], unset: Sequence[str]) -> str:
    """`env LOG_LEVEL=debug`, `env -OLD`: plain env values are configuration, fine to show."""
    parts = [f"{k}={v}" for k, v in values.items()] + [f"-{k}" for k in unset]
    text = "env " + " ".join(parts)
    return text if len(text) <= 120 else text[:117] + "…"
