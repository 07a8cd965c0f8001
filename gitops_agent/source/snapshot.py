"""What the source stage hands to the rest of the pipeline: one immutable view of the repository.

Both sources (Git and a plain folder) produce the same `Snapshot`, so loading, rendering and the
revision history never care where the files came from. Sub-path handling lives here too because
both sources must refuse the same escapes (`..`, absolute paths, symlinks out of the tree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.core.triggers import Trigger

LOCAL_COMMIT = "local"


@dataclass(frozen=True)
class CommitInfo:
    """Who changed what, when: the part of a commit a revision records."""

    commit: str
    author: str
    message: str
    time: datetime


class CommitLog(Protocol):
    """The history behind a snapshot (a Git source has one; a folder does not)."""

    def last_change(self, paths: Sequence[str], *, since: str | None) -> CommitInfo | None:
        """The newest commit up to the snapshot that changed any of `paths` (relative to the snapshot's
        root), after `since` when that is an ancestor; None when none did."""
        ...

    def last_changes(
        self, paths: Mapping[str, Sequence[str]], *, since: str | None
    ) -> dict[str, CommitInfo | None]:
        """`last_change` for each named set of paths (one walk of the history where it can)."""
        ...

    def changed_paths(self, since: str) -> frozenset[str] | None:
        """The files (relative to the snapshot's root) that differ between `since` and the snapshot;
        None when that cannot be told (`since` unknown here)."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """One fetched state of the deployments repository.

    `path` is the directory to read (worktree + sub-path); callers must treat it as read-only, and a
    Git snapshot's directory is only guaranteed to exist until a few newer commits were fetched.
    """

    commit: str  # full sha, or "local" for a DirSource
    path: Path
    author: str  # "Name <email>", "" for a DirSource
    message: str  # full commit message, "" for a DirSource
    time: datetime  # commit time (tz-aware UTC); for a DirSource the newest mtime
    ref: str  # what was asked for: branch, tag or sha, or the directory
    log: CommitLog | None = field(default=None, compare=False, repr=False)

    @property
    def info(self) -> CommitInfo:
        return CommitInfo(self.commit, self.author, self.message, self.time)

    def credits(self, paths: Mapping[str, Sequence[str]], *, since: str | None) -> dict[str, CommitInfo]:
        """The commit a change of each named set of paths is credited to: the newest one that touched
        it (since `since`), else the snapshot's own commit (a folder source, or nothing in range did)."""
        found = self.log.last_changes(paths, since=since) if self.log is not None else {}
        return {name: found.get(name) or self.info for name in paths}

    @property
    def short_commit(self) -> str:
        """The first 12 hex digits (enough to be unique in practice), or "local"."""
        return self.commit if self.commit == LOCAL_COMMIT else self.commit[:12]


@runtime_checkable
class Source(Protocol):
    """Where deployment files come from; the sync engine only needs these two methods."""

    def fetch(self) -> Snapshot:
        """Bring the newest state in; SourceError (mostly retryable) on network or auth failure."""
        ...

    def describe(self) -> str:
        """Human-readable origin, free of credentials, for logs and status pages."""
        ...

    def version(self, snapshot: Snapshot) -> str:
        """What identifies the snapshot's content: its commit, or a content hash for a directory."""
        ...

    def change_trigger(self) -> Trigger | None:
        """A trigger that fires when the content changes, for sources that can notice it themselves."""
        ...


def normalize_sub_path(sub_path: str) -> str:
    """A relative POSIX sub-path inside the repository ("" for the root); escapes are ConfigErrors."""
    text = sub_path.strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise ConfigError(f"sub-path {sub_path!r} must be relative and stay inside the repository")
    normalized = str(pure)
    return "" if normalized == "." else normalized


def resolve_sub_path(root: Path, sub_path: str, *, where: str) -> Path:
    """`root/sub_path` if it is a directory that stays inside `root` after following symlinks.

    `where` names the tree in error messages ("commit abc123…", "directory /x"). A missing sub-path
    cannot be fixed by retrying the same tree, so the error is not retryable.
    """
    if not sub_path:
        return root
    target = root / sub_path
    if not target.is_dir():
        raise SourceError(f"sub-path {sub_path!r} is not a directory in {where}", retryable=False)
    if not target.resolve().is_relative_to(root.resolve()):
        raise SourceError(f"sub-path {sub_path!r} points outside the repository in {where}", retryable=False)
    return target
