"""A new commit's tree is derived from the previous one (hard links + what changed), and is exactly
what a full checkout gives; the older tree is left as it was (`source.worktrees`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gitrepo import git
from source_helpers import Upstream

from gitops_agent.source.gitsource import GitSource


def _tree(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under `root`: (kind and mode, content or link target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_dir():
            found[name] = ("dir", "")
        else:
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            found[name] = ("exec" if executable else "file", path.read_text())
    return found


def _commit(work: Path, message: str) -> None:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)


def _write(work: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)


def test_a_derived_tree_is_the_commit_and_the_older_tree_is_untouched(
    upstream: Upstream, tmp_path: Path
) -> None:
    work = upstream.work
    _write(work, {
        "deployments/a.yaml": "a: 1\n", "deployments/same.yaml": "same\n", "hook.sh": "#!/bin/sh\n",
        "gone/only.yaml": "x\n", "grows": "a file, then a folder\n", "shrinks/inner.yaml": "y\n",
    })  # fmt: skip
    (work / "hook.sh").chmod(0o755)
    (work / "link").symlink_to("deployments/a.yaml")
    _commit(work, "first")
    src = GitSource(str(upstream.bare), cache_dir=tmp_path / "cache")
    first = src.fetch()
    before = _tree(first.path)

    _write(work, {"deployments/a.yaml": "a: 2\n", "new/c.yaml": "c\n"})
    git("rm", "-q", "-r", "gone", "grows", "shrinks", cwd=work)
    _write(work, {"grows/inside.yaml": "now a folder\n", "shrinks": "now a file\n"})
    (work / "hook.sh").chmod(0o644)
    (work / "link").unlink()
    (work / "link").symlink_to("new/c.yaml")
    _commit(work, "second")
    second = src.fetch()

    fresh = GitSource(str(upstream.bare), cache_dir=tmp_path / "fresh-cache").fetch()  # a full checkout
    assert fresh.commit == second.commit
    assert _tree(second.path) == _tree(fresh.path)
    assert _tree(second.path)["hook.sh"][0] == "file" and "gone" not in _tree(second.path)
    assert _tree(first.path) == before  # the older snapshot never changes under its readers
    # derived, not checked out again: the unchanged file is the older tree's, the changed one is not
    assert (second.path / "deployments/same.yaml").stat().st_ino == (
        first.path / "deployments/same.yaml"
    ).stat().st_ino
    assert (second.path / "deployments/a.yaml").stat().st_ino != (
        first.path / "deployments/a.yaml"
    ).stat().st_ino
