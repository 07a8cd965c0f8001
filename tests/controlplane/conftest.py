"""Fixtures for the control-plane verbs: sample-repo on a bare remote (`deployments_repo`, for `wait`,
comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cphelpers import Remote, make_remote


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """sample-repo pushed to a fresh bare repository (no cluster needed)."""
    return make_remote(tmp_path)
