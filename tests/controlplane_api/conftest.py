"""Fixtures of the control-plane API tests: a running agent (real cluster) with its API on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agent_harness import RunningAgent, start_agent, wait_for
from api_client import API_TOKEN, Api
from sync_repo import DeploymentsRepo

__all__ = ["start_agent"]


@pytest.fixture
def start_api(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> Callable[..., Api]:
    """Factory: a synced agent on the test's deployments repository, by default with the API on."""

    def start(**overrides: Any) -> Api:
        settings = {"api_token": API_TOKEN, **overrides}
        running = start_agent(str(deployments_repo.upstream.bare), deployments_repo.namespace, **settings)
        api = Api(running, deployments_repo)
        wait_for(api.synced, timeout=60)  # first synced, so no test ends in the middle of a sync
        return api

    return start
