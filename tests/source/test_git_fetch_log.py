"""A poll that finds nothing new is not news: "fetched … commit X" at INFO only when X changes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from source_helpers import Upstream

from gitops_agent.source import GitSource


def _fetched(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("fetched ")]


def test_unchanged_polls_log_at_debug_and_a_new_commit_at_info(
    upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gitops_agent")
    source = GitSource(str(upstream.bare), cache_dir=tmp_path / "cache")
    for _ in range(3):
        source.fetch()
    assert [r.levelno for r in _fetched(caplog)] == [logging.INFO, logging.DEBUG, logging.DEBUG]
    caplog.clear()
    upstream.commit({"deployments/new.yaml": "x: 1\n"}, "a change")
    upstream.push()
    source.fetch()
    assert [r.levelno for r in _fetched(caplog)] == [logging.INFO]
