"""open_source(): which source a repository argument becomes."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_helpers import Upstream

from gitops_agent.core.errors import ConfigError
from gitops_agent.source import DirSource, GitAuth, GitSource, Source, open_source


def test_urls_become_git_sources(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    auth = GitAuth(known_hosts_file=known_hosts)
    for url in (
        "https://github.com/org/deployments.git",
        "http://127.0.0.1:3000/org/deployments.git",
        "ssh://git@github.com/org/deployments.git",
        "git@github.com:org/deployments.git",
        "file:///srv/git/deployments.git",
    ):
        src = open_source(url, ref="main", sub_path="", cache_dir=tmp_path, auth=auth)
        assert isinstance(src, GitSource), url
        assert isinstance(src, Source)


def test_plain_folder_is_a_dir_source(tmp_path: Path) -> None:
    src = open_source(str(tmp_path), ref="main", sub_path="", cache_dir=tmp_path / "cache", auth=None)
    assert isinstance(src, DirSource)
    assert isinstance(src, Source)


def test_bare_repo_is_a_git_source(upstream: Upstream, tmp_path: Path) -> None:
    src = open_source(str(upstream.bare), ref="main", sub_path="", cache_dir=tmp_path / "cache", auth=None)
    assert isinstance(src, GitSource)
    assert src.fetch().commit == upstream.head()


def test_checkout_is_a_dir_source_unless_git_is_asked_for(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.work / "agents/uncommitted.yaml").write_text("draft\n")
    as_dir = open_source(str(upstream.work), ref="main", sub_path="", cache_dir=tmp_path / "c", auth=None)
    assert isinstance(as_dir, DirSource)
    assert (as_dir.fetch().path / "agents/uncommitted.yaml").is_file()  # the fast dev loop

    as_git = open_source(
        str(upstream.work), ref="main", sub_path="", cache_dir=tmp_path / "c", auth=None, use_git=True
    )
    assert isinstance(as_git, GitSource)
    snapshot = as_git.fetch()
    assert snapshot.commit == upstream.head()
    assert not (snapshot.path / "agents/uncommitted.yaml").exists()  # committed state only


def test_bad_repository_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_source(str(tmp_path / "absent"), ref="main", sub_path="", cache_dir=tmp_path, auth=None)
    with pytest.raises(ConfigError, match="not a Git repository"):
        open_source(str(tmp_path), ref="main", sub_path="", cache_dir=tmp_path, auth=None, use_git=True)
    with pytest.raises(ConfigError, match="known_hosts"):
        open_source("git@github.com:o/r.git", ref="main", sub_path="", cache_dir=tmp_path, auth=None)
