"""DirSource: a plain folder read in place, with a cheap content hash of its deployment files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source import DirSource


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "deployments"
    (root / "agents").mkdir(parents=True)
    (root / "agents/support-bot.yaml").write_text("kind: AgentDeployment\n")
    (root / "agents/triage.yml").write_text("kind: AgentDeployment\n")
    (root / "config.json").write_text("{}\n")
    (root / "README.md").write_text("docs\n")
    for path in [*root.rglob("*"), root]:
        os.utime(path, (1_700_000_000, 1_700_000_000))
    return root


def test_snapshot_of_a_folder(folder: Path) -> None:
    (folder / "agents/triage.yml").touch()
    os.utime(folder / "agents/triage.yml", (1_700_000_500, 1_700_000_500))

    snapshot = DirSource(folder).fetch()

    assert snapshot.commit == "local"
    assert snapshot.short_commit == "local"
    assert snapshot.path == folder
    assert (snapshot.author, snapshot.message) == ("", "")
    assert snapshot.time == datetime.fromtimestamp(1_700_000_500, tz=UTC)
    assert snapshot.ref == str(folder)


def test_hidden_entries_do_not_count(folder: Path) -> None:
    (folder / ".git").mkdir()
    (folder / ".git/index").write_text("x")
    before = DirSource(folder).content_hash()
    (folder / ".hidden.yaml").write_text("x: 1\n")
    os.utime(folder, (1_700_000_000, 1_700_000_000))  # the folder's own entry list did change
    assert DirSource(folder).fetch().time == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert DirSource(folder).content_hash() == before


def test_deletion_moves_time_forward(folder: Path) -> None:
    (folder / "agents/triage.yml").unlink()  # only the directory's mtime changes
    assert DirSource(folder).fetch().time > datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_sub_path(folder: Path) -> None:
    src = DirSource(folder, sub_path="agents")
    assert src.fetch().path == folder / "agents"
    assert src.describe() == f"directory {folder} (path agents)"
    with pytest.raises(SourceError, match="'prod'"):
        DirSource(folder, sub_path="prod").fetch()
    with pytest.raises(ConfigError):
        DirSource(folder, sub_path="../x")


def test_missing_folder_is_a_retryable_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        DirSource(tmp_path / "absent").fetch()
    assert info.value.retryable is True


def test_content_hash_follows_deployment_files_only(folder: Path) -> None:
    src = DirSource(folder)
    first = src.content_hash()
    assert len(first) == 64
    assert src.content_hash() == first  # stable

    (folder / "README.md").write_text("other docs\n")
    assert src.content_hash() == first  # not a deployment file

    (folder / "agents/support-bot.yaml").write_text("kind: AgentDeployment\nspec: {}\n")
    edited = src.content_hash()
    assert edited != first

    (folder / "agents/support-bot.yaml").rename(folder / "agents/support-bot2.yaml")
    renamed = src.content_hash()
    assert renamed != edited

    (folder / "config.json").unlink()
    assert src.content_hash() != renamed

    os.utime(folder / "agents/triage.yml")  # touching alone changes nothing
    assert src.content_hash() == DirSource(folder).content_hash()


def test_content_hash_keeps_path_and_bytes_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.yaml").write_text("1.yaml")
    (b / "x.yaml1.yaml").write_text("")
    assert DirSource(a).content_hash() != DirSource(b).content_hash()


def test_configmap_style_symlinks_are_followed(tmp_path: Path) -> None:
    """A mounted ConfigMap: visible files link into a hidden, atomically swapped `..data` dir."""
    root = tmp_path / "mount"
    (root / "..2024_01").mkdir(parents=True)
    (root / "..2024_01/app.yaml").write_text("v: 1\n")
    (root / "..data").symlink_to("..2024_01")
    (root / "app.yaml").symlink_to("..data/app.yaml")
    first = DirSource(root).content_hash()

    (root / "..2024_02").mkdir()
    (root / "..2024_02/app.yaml").write_text("v: 2\n")
    (root / "..data_tmp").symlink_to("..2024_02")
    (root / "..data_tmp").rename(root / "..data")

    assert DirSource(root).content_hash() != first
