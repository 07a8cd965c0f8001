"""`load_snapshot`: one load per Git commit, a fresh one for a directory source, bounded."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from gitops_agent.source import Snapshot
from gitops_agent.state.loadcache import CACHED_COMMITS, load_snapshot

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


def _snapshot(path: Path, commit: str) -> Snapshot:
    return Snapshot(commit=commit, path=path, author="", message="", time=datetime.now(UTC), ref="main")


def _tree(tmp_path: Path, name: str) -> Path:
    tree = tmp_path / name
    shutil.copytree(SAMPLE, tree)
    return tree


def _retype(tree: Path) -> None:
    """Make research-assistant a production deployment (a change the load sees)."""
    path = tree / "deployments" / "research-assistant.yaml"
    path.write_text(path.read_text().replace("type: development", "type: production"))


def _research_type(snapshot: Snapshot) -> str:
    unit = load_snapshot(snapshot).unit("research-assistant")
    assert unit is not None and unit.deployment is not None
    return unit.deployment.type.value


def test_a_commit_is_loaded_once(tmp_path: Path) -> None:
    snapshot = _snapshot(_tree(tmp_path, "a"), "a" * 40)
    first = load_snapshot(snapshot)
    assert load_snapshot(snapshot) is first
    # The same commit at another path (another sub-path or worktree) is its own entry.
    assert load_snapshot(_snapshot(_tree(tmp_path, "b"), "a" * 40)) is not first


def test_a_directory_source_is_loaded_afresh_every_time(tmp_path: Path) -> None:
    snapshot = _snapshot(_tree(tmp_path, "dir"), "local")
    assert _research_type(snapshot) == "development"
    _retype(snapshot.path)
    assert _research_type(snapshot) == "production"


def test_the_cache_keeps_only_the_newest_commits(tmp_path: Path) -> None:
    tree = _tree(tmp_path, "tree")
    oldest = _snapshot(tree, "0" * 40)
    assert _research_type(oldest) == "development"
    for index in range(1, CACHED_COMMITS + 1):
        load_snapshot(_snapshot(tree, f"{index:040x}"))
    _retype(tree)  # a commit's tree never changes; this only shows the oldest entry was dropped
    assert _research_type(oldest) == "production"
