"""Crediting many deployments at once (`GitLog.last_changes`) says what one `git log -1 -- paths` per
deployment says: on a linear history from one walk, with merges by asking each set on its own."""

from __future__ import annotations

from pathlib import Path

from gitrepo import git

from gitops_agent.source.gitsource import GitLog

SETS = {
    "a": ("deployments/a.yaml", "gitops-agent.yaml"),
    "b": ("deployments/b.yaml", "gitops-agent.yaml"),
    "plain": ("manifests", "gitops-agent.yaml"),
    "ghost": ("deployments/ghost.yaml",),  # never committed
}


def _commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
        git("add", name, cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def _one_by_one(log: GitLog, since: str | None) -> dict[str, str | None]:
    found = {name: log.last_change(paths, since=since) for name, paths in SETS.items()}
    return {name: info.commit if info else None for name, info in found.items()}


def _together(log: GitLog, since: str | None) -> dict[str, str | None]:
    found = log.last_changes(SETS, since=since)
    return {name: info.commit if info else None for name, info in found.items()}


def _repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "repo"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    shas = {
        "settings": _commit(work, {"gitops-agent.yaml": "s: 1\n", "README.md": "x\n"}, "settings"),
        "a": _commit(work, {"deployments/a.yaml": "a: 1\n"}, "a"),
        "b": _commit(work, {"deployments/b.yaml": "b: 1\n"}, "b"),
        "plain": _commit(work, {"manifests/sub/ünïcode map.yaml": "m: 1\n"}, "a plain manifest"),
        "a2": _commit(work, {"deployments/a.yaml": "a: 2\n", "README.md": "y\n"}, "a again"),
        "docs": _commit(work, {"README.md": "z\n"}, "docs"),
    }
    return work, shas


def test_a_linear_history_is_walked_once_and_credits_what_each_set_last_changed(tmp_path: Path) -> None:
    work, shas = _repo(tmp_path)
    log = GitLog(work, shas["docs"], "")
    expected = {"a": shas["a2"], "b": shas["b"], "plain": shas["plain"], "ghost": None}
    assert _together(log, None) == _one_by_one(log, None) == expected
    since_b = {"a": shas["a2"], "b": None, "plain": shas["plain"], "ghost": None}
    assert _together(log, shas["b"]) == _one_by_one(log, shas["b"]) == since_b
    # a `since` that is not an ancestor (a force push): the whole history, as one by one
    assert _together(log, "0" * 40) == _one_by_one(log, "0" * 40) == expected


def test_a_history_with_merges_gives_the_same_answers_as_one_by_one(tmp_path: Path) -> None:
    work, shas = _repo(tmp_path)
    git("checkout", "-q", "-b", "feature", shas["b"], cwd=work)
    feature = _commit(work, {"deployments/b.yaml": "b: 2\n"}, "b on a branch")
    git("checkout", "-q", "main", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", cwd=work)
    merge = git("rev-parse", "HEAD", cwd=work)
    log = GitLog(work, merge, "")
    assert _together(log, None) == _one_by_one(log, None)
    assert _together(log, None)["b"] == feature
    assert _together(log, shas["a2"]) == _one_by_one(log, shas["a2"])


def test_under_a_sub_path_paths_are_relative_to_it(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    first = _commit(work, {"team/deployments/a.yaml": "a: 1\n", "deployments/a.yaml": "outside\n"}, "one")
    _commit(work, {"deployments/a.yaml": "outside, again\n"}, "outside the sub-path")
    head = git("rev-parse", "HEAD", cwd=work)
    log = GitLog(work, head, "team")
    found = log.last_changes({"a": ("deployments/a.yaml",)}, since=None)
    assert found["a"] is not None and found["a"].commit == first
