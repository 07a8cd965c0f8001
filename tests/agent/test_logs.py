"""Structured logs: one JSON object per line with the context fields, written to the current stderr."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from gitops_agent.core.logs import LOGGER_NAME, fields, get_logger, log_context, setup_logging


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """setup_logging reconfigures a process-wide logger: put it back for the tests that follow."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_a_line_carries_the_context_and_extra_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("json", "info")

    with log_context(deployment="support-bot", revision=3):
        get_logger("test").info("applied %d objects", 2, extra=fields(commit="abc123"))

    line = json.loads(stream.getvalue())
    assert line["msg"] == "applied 2 objects"
    assert (line["level"], line["deployment"], line["revision"], line["commit"]) == (
        "info",
        "support-bot",
        "3",
        "abc123",
    )


def test_lines_follow_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Background threads outlive whoever swapped stderr: they must never write to a closed stream."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("text", "info")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)

    get_logger("test").warning("still here")

    written = second.getvalue()
    assert "Logging error" not in written
    assert written.rstrip().endswith("still here")
