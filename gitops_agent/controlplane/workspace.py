"""Where an edit is made: a temporary clone of a URL, or a local working clone, on the right branch.

The writer (`repo_writer`) needs a work tree whose branch starts at the remote's tip, so its commit
is a fast-forward when nobody else pushed. A URL or bare repository is cloned into a temporary
directory with the agent's credentials (`source.auth`: tokens in the environment, never in argv or
files). A local clone is edited in place, the way a person would: it must have no uncommitted work
and no unpushed commits (a failure resets it to the remote, and an edit must not publish someone's
local commits), and concurrent verbs on it are serialized by a lock.
"""

from __future__ import annotations

import fcntl
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gitops_agent.controlplane.gitcmd import GitRunner
from gitops_agent.core.errors import ConfigError
from gitops_agent.source import GitAuth
from gitops_agent.source.auth import git_environment
from gitops_agent.source.urls import RepoUrl, Transport, is_url, parse_repo_url, scrub_text

REMOTE = "origin"
LOADED_PATHS = ("gitops-agent.yaml", "deployments", "manifests")
"""What `load_repository` reads: all a validation copy needs."""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class EventKind(StrEnum):
    """Steps of a push worth telling a human (and a test) about."""

    PUSHING = "pushing"
    REJECTED = "rejected"
    REBASED = "rebased"


@dataclass(frozen=True)
class WriteEvent:
    """One step of a push, for progress output (`attempt` counts from 1)."""

    kind: EventKind
    attempt: int
    message: str


@dataclass(frozen=True)
class RepoTarget:
    """Where an edit goes and how.

    `location`: a Git URL or bare repository (cloned into a temporary directory, edited, pushed), or
    a local working clone (edited in place: it ends on the edited branch, equal to the remote).
    `ref`: the branch to edit (default: the clone's current branch, or the remote's default).
    `push_branch`: commit to this branch instead, created from `ref` unless the remote has it
    already, so a pull request can be opened from it. `sub_path`: folder of gitops-agent.yaml.
    """

    location: str
    ref: str | None = None
    push_branch: str | None = None
    sub_path: str = ""
    author: str | None = None
    push: bool = True
    auth: GitAuth | None = field(default=None, repr=False)
    attempts: int = 3
    timeout_seconds: float = 60
    sign_key: Path | None = None
    """An SSH private key to sign the commits with (`gpg.format=ssh`); None: unsigned."""
    on_event: Callable[[WriteEvent], None] | None = field(default=None, compare=False, repr=False)


@dataclass
class Workspace:
    """A work tree on the branch to edit; `start` is where the edit began (for resets)."""

    git: GitRunner
    top: Path
    sub_path: str
    branch: str
    start: str
    target: RepoTarget

    @property
    def root(self) -> Path:
        return self.top / self.sub_path if self.sub_path else self.top

    def rel(self, path: str) -> str:
        return f"{self.sub_path}/{path}" if self.sub_path else path

    def emit(self, kind: EventKind, attempt: int, message: str) -> None:
        if self.target.on_event is not None:
            self.target.on_event(WriteEvent(kind, attempt, message))


@contextmanager
def open_workspace(target: RepoTarget) -> Iterator[Workspace]:
    """The workspace `target` names: a temporary clone (URL, bare repository) or a local clone."""
    local = Path(target.location).expanduser()
    if local.is_dir() and not _is_bare(local):
        with _in_place(target, local) as ws:
            yield ws
        return
    if not is_url(target.location) and not local.is_dir():
        raise ConfigError(f"repository {scrub_text(target.location)!r} is neither a Git URL nor a directory")
    url = target.location if is_url(target.location) else str(local.absolute())
    with tempfile.TemporaryDirectory(prefix="gitops-agent-edit-") as tmp:
        yield _clone(target, parse_repo_url(url), Path(tmp) / "repo")


def _is_bare(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _clone(target: RepoTarget, url: RepoUrl, work: Path) -> Workspace:
    """A fresh clone on the branch to edit: the remote's tip of `push_branch`, else of `ref`."""
    auth = _with_url_credentials(url, target.auth)
    env, secrets = git_environment(url, auth, safe_directory=work, timeout_seconds=target.timeout_seconds)
    git = GitRunner(work.parent, env=env, secrets=secrets, timeout=target.timeout_seconds)
    git.run("clone", "--quiet", "--no-tags", "--", url.url, str(work))
    git = git.at(work)
    base = target.ref or git.run("symbolic-ref", "--quiet", "--short", "HEAD")
    branch, start = _start_point(git, base, target.push_branch)
    git.run("checkout", "--quiet", "--no-track", "-B", branch, start)
    return Workspace(git, work, _sub(target.sub_path), branch, git.run("rev-parse", "HEAD"), target)


def _start_point(git: GitRunner, base: str, push_branch: str | None) -> tuple[str, str]:
    """(branch to commit on, remote ref to start from); the base branch must exist on the remote."""
    branch = push_branch or base
    for candidate in (branch, base):
        if git.ok("rev-parse", "--verify", "-q", f"refs/remotes/{REMOTE}/{candidate}"):
            return branch, f"{REMOTE}/{candidate}"
    raise ConfigError(f"branch {base!r} does not exist on {REMOTE}")


@contextmanager
def _in_place(target: RepoTarget, local: Path) -> Iterator[Workspace]:
    """A local working clone, locked against concurrent verbs, clean, on the branch to edit."""
    probe = GitRunner(local, timeout=target.timeout_seconds)
    top = Path(probe.run("rev-parse", "--show-toplevel"))
    git = _with_credentials(probe.at(top), target)
    sub = _sub(target.sub_path) or _sub(local.resolve().relative_to(top.resolve()).as_posix())
    with _locked(Path(git.run("rev-parse", "--path-format=absolute", "--git-common-dir"))):
        _require_clean(git, sub)
        if target.push:
            base = target.ref or _current_branch(git)
            git.run("fetch", "--quiet", "--no-tags", REMOTE)
            branch, start = _start_point(git, base, target.push_branch)
            _require_pushed(git, branch, start)
            git.run("checkout", "--quiet", "--no-track", "-B", branch, start)
        else:
            branch = _local_branch(git, target)
        yield Workspace(git, top, sub, branch, git.run("rev-parse", "HEAD"), target)


def _with_credentials(git: GitRunner, target: RepoTarget) -> GitRunner:
    """A working clone keeps the user's own git setup (SSH agent, credential helper, a CI checkout's
    token) unless gitops-agent credentials are configured for its remote's transport."""
    auth = target.auth
    remote = git.run("remote", "get-url", REMOTE, check=False)
    if auth is None or not remote or not is_url(remote) or not target.push:
        return git
    url = parse_repo_url(remote)
    wanted = (url.transport is Transport.HTTP and auth.has_token) or (
        url.transport is Transport.SSH and auth.known_hosts_file is not None
    )
    if not wanted:
        return git
    env, secrets = git_environment(url, auth, safe_directory=git.cwd, timeout_seconds=target.timeout_seconds)
    return GitRunner(git.cwd, env=env, secrets=secrets, timeout=target.timeout_seconds)


def _require_clean(git: GitRunner, sub: str) -> None:
    """Uncommitted work would be swept into the commit, or lost when a failure resets the clone."""
    paths = [f"{sub}/{p}" if sub else p for p in LOADED_PATHS]
    dirty = git.run("status", "--porcelain", "--untracked-files=no")
    untracked = git.run("status", "--porcelain", "--untracked-files=all", "--", *paths)
    if dirty or untracked:
        shown = "; ".join((dirty + "\n" + untracked).strip().splitlines()[:5])
        raise ConfigError(f"the clone has uncommitted changes ({shown}); commit or stash them first")


def _current_branch(git: GitRunner) -> str:
    branch = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if not branch:
        raise ConfigError("the clone is on a detached HEAD: check out a branch or pass --ref")
    return branch


def _require_pushed(git: GitRunner, branch: str, start: str) -> None:
    """Never push someone's unpublished local commits along with the edit."""
    if not git.ok("rev-parse", "--verify", "-q", f"refs/heads/{branch}"):
        return
    ahead = int(git.run("rev-list", "--count", f"{start}..refs/heads/{branch}"))
    if ahead:
        raise ConfigError(
            f"local branch {branch} has {ahead} commit(s) that are not on {start}: push them first, "
            "or use --no-push"
        )


def _local_branch(git: GitRunner, target: RepoTarget) -> str:
    """--no-push: commit on the current branch, on `ref`, or on `push_branch` (made from HEAD)."""
    if target.push_branch:
        exists = git.ok("rev-parse", "--verify", "-q", f"refs/heads/{target.push_branch}")
        git.run("checkout", "--quiet", *(() if exists else ("-b",)), target.push_branch)
        return target.push_branch
    if target.ref:
        git.run("checkout", "--quiet", target.ref)
    return _current_branch(git)


def _sub(path: str) -> str:
    parts = [p for p in Path(path).as_posix().split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ConfigError(f"repository sub-folder {path!r} must stay inside the repository")
    return "/".join(parts)


def _with_url_credentials(url: RepoUrl, auth: GitAuth | None) -> GitAuth | None:
    """A token pasted into an HTTPS URL moves into GitAuth, so it never reaches git's argv."""
    if url.transport is not Transport.HTTP or url.password is None or (auth is not None and auth.has_token):
        return auth
    return GitAuth(
        https_token=url.password,
        https_username=url.username or "git",
        ssh_key_file=auth.ssh_key_file if auth else None,
        known_hosts_file=auth.known_hosts_file if auth else None,
    )


@contextmanager
def _locked(git_dir: Path) -> Iterator[None]:
    """One verb at a time per clone: threads of this process and other processes."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(git_dir, threading.Lock())
    with lock, (git_dir / "gitops-agent-edit.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
