"""Commit an edit to the deployments repository and push it, safely next to other writers.

The control-plane verbs change the cluster the GitOps way: they write a commit to the same branch a
merged pull request would, and the agent rolls it out. This module is the Git half of that: it
opens a workspace (a temporary clone of a URL or bare repository, or a local working clone edited
in place), lets the caller compute the change on the current files, validates it in a scratch copy
before anything is written, commits with the chosen author, and pushes.

Pushes race with CI jobs, people merging pull requests and other verbs. A rejected push
(non-fast-forward: someone pushed first) is fetched and `git rebase`d, the rebased tree is validated
again (two valid edits can make an invalid repository, e.g. two deployments taking one path), and
the push is retried, at most `attempts` times. A rebase conflict means someone else changed the
same lines: the rebase is aborted, the clone reset to the remote and PushConflictError names the
file, so nothing half-done is ever pushed and nobody's edit is silently overwritten. On every
failure the workspace is reset, so a local clone is left exactly as the remote has it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitops_agent.controlplane.edit import PushConflictError
from gitops_agent.controlplane.gitcmd import DEFAULT_AUTHOR, Identity, export_tree
from gitops_agent.controlplane.workspace import (
    LOADED_PATHS,
    REMOTE,
    EventKind,
    RepoTarget,
    Workspace,
    WriteEvent,
    open_workspace,
)
from gitops_agent.core.errors import ConfigError


@dataclass(frozen=True)
class Change:
    """What an edit writes: paths relative to the repository folder → new text (None deletes)."""

    deployment: str
    message: str
    files: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class EditResult:
    """The commit an edit made (for a no-op: the branch head, with no changed files)."""

    commit: str
    branch: str
    message: str
    deployment: str
    changed_files: tuple[str, ...]
    pushed: bool = False
    rebases: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changed_files)

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "branch": self.branch,
            "message": self.message,
            "deployment": self.deployment,
            "changedFiles": list(self.changed_files),
            "changed": self.changed,
            "pushed": self.pushed,
            "rebases": self.rebases,
        }


Planner = Callable[[Path], Change]
"""Computes the change from the repository folder as it is now (may raise EditError)."""
Checker = Callable[[Path, Path], None]
"""(before, after) repository folders; raises ValidationFailedError when `after` got new problems."""


def publish(target: RepoTarget, plan: Planner, *, check: Checker) -> EditResult:
    """Plan, validate, commit and (unless `push=False`) push one change; see the module docstring."""
    if target.attempts < 1:
        raise ConfigError(f"push attempts must be at least 1, got {target.attempts}")
    with open_workspace(target) as ws:
        try:
            return _publish(ws, plan, check)
        except BaseException:
            _reset(ws)
            raise


def preview(target: RepoTarget, plan: Planner, *, check: Checker) -> tuple[Change, dict[str, str | None]]:
    """What `plan` would change on the branch's tip, checked like a write, without committing.

    Returns the change (only the files it really changes) and those files' current texts (None:
    the file is new), for a diff to look at before `publish`.
    """
    with open_workspace(replace(target, push=False)) as ws:
        try:
            change = plan(ws.root)
            files = tuple((path, text) for path, text in change.files if _differs(ws.root / path, text))
            if files:
                _check_in_copy(ws.root, files, check)
            before = {path: _read(ws.root / path) for path, _ in files}
            return replace(change, files=files), before
        finally:
            _reset(ws)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _publish(ws: Workspace, plan: Planner, check: Checker) -> EditResult:
    change = plan(ws.root)
    files = tuple((path, text) for path, text in change.files if _differs(ws.root / path, text))
    if not files:
        head = ws.git.run("rev-parse", "HEAD")
        return EditResult(head, ws.branch, f"{change.message} (no change)", change.deployment, ())
    _check_in_copy(ws.root, files, check)
    identity = Identity.resolve(ws.git, ws.target.author)
    for path, text in files:
        _write(ws.root / path, text)
    ws.git.run("add", "-A", "--", *(ws.rel(path) for path, _ in files))
    ws.git.run(*_signing(ws), "commit", "--quiet", "-m", change.message, env=identity.env())
    changed = tuple(ws.rel(path) for path, _ in files)
    result = EditResult(
        ws.git.run("rev-parse", "HEAD"), ws.branch, change.message, change.deployment, changed
    )
    if not ws.target.push:
        return result
    rebases = _push_with_retry(ws, check, identity)
    return EditResult(
        ws.git.run("rev-parse", "HEAD"), ws.branch, change.message, change.deployment, changed, True, rebases
    )


def _signing(ws: Workspace) -> tuple[str, ...]:
    """git options that sign the commit (and what a rebase rewrites) with the target's SSH key."""
    key = ws.target.sign_key
    if key is None:
        return ()
    options = {
        "gpg.format": "ssh",
        "user.signingKey": str(key.expanduser().absolute()),
        "commit.gpgSign": "true",
    }
    return tuple(arg for name, value in options.items() for arg in ("-c", f"{name}={value}"))


def _differs(path: Path, text: str | None) -> bool:
    if text is None:
        return path.exists()
    return not path.is_file() or path.read_text(encoding="utf-8") != text


def _write(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _check_in_copy(root: Path, files: tuple[tuple[str, str | None], ...], check: Checker) -> None:
    """Apply the change to a scratch copy of what `load_repository` reads, and check it there."""
    with tempfile.TemporaryDirectory(prefix="gitops-agent-check-") as scratch:
        after = Path(scratch)
        for name in LOADED_PATHS:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, after / name, symlinks=True)
            elif source.is_file():
                shutil.copy2(source, after / name)
        for path, text in files:
            _write(after / path, text)
        check(root, after)


def _push_with_retry(ws: Workspace, check: Checker, identity: Identity) -> int:
    """Push; on rejection fetch, rebase, re-check and push again. Returns how many rebases it took."""
    attempts = ws.target.attempts
    for attempt in range(1, attempts + 1):
        sha = ws.git.run("rev-parse", "--short=12", "HEAD")
        ws.emit(EventKind.PUSHING, attempt, f"pushing {sha} to {REMOTE}/{ws.branch} ({attempt}/{attempts})")
        if ws.git.push(REMOTE, ws.branch):
            return attempt - 1
        ws.emit(EventKind.REJECTED, attempt, f"{REMOTE}/{ws.branch} moved on since the edit started")
        if attempt == attempts:
            break
        _rebase(ws, identity)
        with tempfile.TemporaryDirectory(prefix="gitops-agent-base-") as scratch:
            before = export_tree(ws.git, f"{REMOTE}/{ws.branch}", ws.sub_path, Path(scratch))
            check(before, ws.root)
        upstream = ws.git.run("rev-parse", "--short=12", f"{REMOTE}/{ws.branch}")
        ws.emit(EventKind.REBASED, attempt, f"rebased onto {REMOTE}/{ws.branch} ({upstream})")
    raise PushConflictError(
        f"{REMOTE}/{ws.branch} kept moving: the push was rejected {attempts} times; nothing was pushed"
    )


def _rebase(ws: Workspace, identity: Identity) -> None:
    """Rebase the edit onto the fetched branch; a conflict aborts and raises PushConflictError."""
    upstream = f"{REMOTE}/{ws.branch}"
    ws.git.run("fetch", "--quiet", "--no-tags", REMOTE, f"+refs/heads/{ws.branch}:refs/remotes/{upstream}")
    if ws.git.ok(*_signing(ws), "rebase", "--quiet", upstream, env=identity.env()):
        return
    conflicted = ws.git.run("diff", "--name-only", "--diff-filter=U").split()
    ws.git.ok("rebase", "--abort")
    files = conflicted or [ws.rel(".")]
    theirs = ws.git.run("log", "-1", "--format=%h by %an: %s", upstream, "--", *files)
    raise PushConflictError(
        f"{', '.join(files)} was changed on {ws.branch} while this edit was made "
        f"({theirs or 'a newer commit'}), and the two edits conflict; nothing was pushed. "
        f"Run the command again to edit the current {ws.branch}.",
        file=files[0],
    )


def _reset(ws: Workspace) -> None:
    """After a failure: back to the remote's branch (when pushing) or to where the edit started."""
    ws.git.ok("rebase", "--abort")
    remote_ref = f"refs/remotes/{REMOTE}/{ws.branch}"
    target = (
        remote_ref if ws.target.push and ws.git.ok("rev-parse", "--verify", "-q", remote_ref) else ws.start
    )
    ws.git.ok("reset", "--quiet", "--hard", target)


__all__ = [
    "DEFAULT_AUTHOR",
    "Change",
    "EditResult",
    "EventKind",
    "RepoTarget",
    "WriteEvent",
    "preview",
    "publish",
]
