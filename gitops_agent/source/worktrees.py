"""Checked-out trees, one directory per commit, created atomically and pruned to the newest few.

A snapshot handed to the pipeline must never change under its readers nor be seen half-written, so
each commit gets its own directory: files are checked out into a temporary directory next to it and
then renamed into place in one step. No `.git` lives inside a tree (the index is kept outside), so
readers see exactly the commit's files, and `git worktree` bookkeeping is not needed.

A new commit's tree is derived from the newest tree there is: every file hard-linked from it, then
only what `git diff-tree` says changed is removed and written afresh (a new inode, so the older tree
never changes). Writing a thousand files for every push costs 0.1-1 s on a busy disk; linking them
costs a few tens of milliseconds. The first tree, or one whose derivation fails, is a full checkout.
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
        base = self._newest()
        if base is not None:
            try:
                _derive(repo, base, sha, tmp)
                os.rename(tmp, final)
                return final
            except (GitCommandError, OSError, ValueError) as err:
                log.warning("cannot derive the tree of %s from %s, checking it out: %s", sha, base.name, err)
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                tmp.chmod(0o755)
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

    def _newest(self) -> Path | None:
        trees = self._trees()
        return max(trees, key=_mtime) if trees else None

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


def _derive(repo: Repo, base: Path, sha: str, tree: Path) -> None:
    """Fill the empty directory `tree` with commit `sha`, from `base` (the tree of commit base.name)."""
    changes = _changes(repo.git.diff_tree("-r", "-z", "--no-renames", base.name, sha))
    for folder, dirs, files in os.walk(base):
        target = tree / Path(folder).relative_to(base)
        for name in dirs:
            source = Path(folder, name)
            if source.is_symlink():  # os.walk lists a link to a directory among dirs
                os.symlink(os.readlink(source), target / name)
            else:
                (target / name).mkdir(mode=0o755)
        for name in files:
            source = Path(folder, name)
            if source.is_symlink():
                os.symlink(os.readlink(source), target / name)
            else:
                os.link(source, target / name)
    for path, mode, blob in changes:
        _replace(repo, tree, path, mode, blob)


def _changes(out: str) -> list[tuple[str, str, str]]:
    """`git diff-tree -r -z` records → (path, new mode, new blob); a deletion has mode "000000"."""
    fields = out.split("\0")
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            raise ValueError(f"unexpected diff-tree output {meta!r}")
        _, new_mode, _, new_blob, _ = meta[1:].split(" ")
        changes.append((path, new_mode, new_blob))
    return changes


def _replace(repo: Repo, tree: Path, path: str, mode: str, blob: str) -> None:
    """Make `path` in `tree` what commit says: removed, or a new file (never written through a link)."""
    target = tree / path
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir() and mode != "160000":
        shutil.rmtree(target)  # a directory became a file (its files were listed as deleted too)
    if mode == "000000":
        parent = target.parent
        while parent != tree and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()  # git tracks no empty directories: nor does a checkout
            parent = parent.parent
        return
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if mode == "160000":  # a submodule: an empty directory, as read-tree leaves it
        target.mkdir(mode=0o755, exist_ok=True)
        return
    data = repo.odb.stream(bytes.fromhex(blob)).read()
    if mode == "120000":
        os.symlink(os.fsdecode(data), target)
        return
    handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if mode == "100755" else 0o666)
    with os.fdopen(handle, "wb") as out:
        out.write(data)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
