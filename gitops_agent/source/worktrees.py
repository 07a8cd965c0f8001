"""Checked-out trees, one directory per commit, created atomically and pruned to the newest few.

A snapshot handed to the pipeline must never change under its readers nor be seen half-written, so
each commit gets its own directory: files are checked out into a temporary directory next to it and
then renamed into place in one step. No `.git` lives inside a tree (the index is kept outside), so
readers see exactly the commit's files, and `git worktree` bookkeeping is not needed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from git import Repo
from git.exc import GitCommandError

from gitops_agent.core.errors import SourceError
from gitops_agent.source.urls import git_error_text

log = logging.getLogger(__name__)

_TMP_PREFIX = ".tmp-"


class WorktreeStore:
    """The `worktrees/` directory of one cached repository; callers hold the repository's lock."""

    def __init__(self, root: Path, *, keep: int) -> None:
        self.root = root
        self.keep = max(1, keep)

    def checkout(self, repo: Repo, sha: str, env: dict[str, str]) -> Path:
        """The directory holding commit `sha`, checked out now unless an earlier fetch did."""
        final = self.root / sha
        if final.is_dir():
            os.utime(final)  # counts as newest again, so pruning keeps it
            return final
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide the tree from a reader in another uid
        except OSError as err:
            raise SourceError(f"cannot prepare a worktree in {self.root}: {err}") from err
        index = tmp.with_name(tmp.name + ".index")
        checkout_env = {**env, "GIT_DIR": str(repo.git_dir), "GIT_WORK_TREE": str(tmp)}
        checkout_env["GIT_INDEX_FILE"] = str(index)
        try:
            # read-tree -u into an empty index writes every file of the commit (symlinks and
            # executable bits included) without touching HEAD or any ref of the cache repository.
            repo.git.read_tree("--reset", "-u", sha, env=checkout_env)
            os.rename(tmp, final)
        except GitCommandError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SourceError(f"checkout of commit {sha} failed: {git_error_text(err)}") from err
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SourceError(f"checkout of commit {sha} into {final} failed: {err}") from err
        finally:
            index.unlink(missing_ok=True)
        return final

    def prune(self, *, current: str) -> list[str]:
        """Delete all but the `keep` most recently used trees (never `current`); returns the removed."""
        trees = [p for p in self._trees() if p.name != current]
        trees.sort(key=_mtime, reverse=True)
        removed = []
        for old in trees[self.keep - 1 :]:
            try:
                shutil.rmtree(old)
            except OSError as err:
                log.warning("could not remove old worktree %s: %s", old, err)
                continue
            removed.append(old.name)
        return removed

    def _trees(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def _remove_leftovers(self) -> None:
        """Temporary trees of a process that died mid-checkout (we hold the lock, so none is live)."""
        for entry in self.root.iterdir():
            if entry.name.startswith(_TMP_PREFIX):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
