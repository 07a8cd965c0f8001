"""Running agents for tests: a real Agent + HTTP server on a loopback port, against the real cluster."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.http.routes import build_router
from gitops_agent.agent.http.server import HttpServer
from gitops_agent.kube.client import KubeClient

WEBHOOK_SECRET = b"test-webhook-secret"


@dataclass
class RunningAgent:
    agent: Agent
    server: HttpServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def all_synced(self, count: int = 4) -> bool:
        """`count` deployments (sample-repo has 4 units), each Synced with its revision history
        recorded. The board shows a unit Synced as soon as its objects are applied; the history
        only after the whole sync saved the inventories, so this waits for the end of a sync."""
        board = self.agent.board
        deployments = board.deployments()
        return len(deployments) == count and all(
            d["sync_state"] == "Synced" and (board.deployment(d["name"]) or {}).get("history")
            for d in deployments
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def github_push(
        self, ref: str = "refs/heads/main", *, secret: bytes = WEBHOOK_SECRET
    ) -> tuple[int, bytes]:
        body = json.dumps({"ref": ref, "after": "0" * 40}).encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature,
            "X-GitHub-Delivery": secrets.token_hex(8),
            "Content-Type": "application/json",
        }
        return self.post("/webhook", body, headers)


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll until `condition()` is truthy; return its value or fail with the last one."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


@pytest.fixture
def start_agent(tmp_path: Path, kube: KubeClient) -> Iterator[Callable[..., RunningAgent]]:
    """Factory: start an agent on a repo; everything started is stopped after the test."""
    started: list[RunningAgent] = []

    def start(
        repo: str, namespace: str, *, client: KubeClient | None = None, **overrides: Any
    ) -> RunningAgent:
        settings: dict[str, Any] = {
            "repo": repo,
            "state_namespace": namespace,
            "cache_dir": tmp_path / f"agent-cache-{len(started)}",
            "listen_host": "127.0.0.1",
            "listen_port": 0,
            "poll_interval": 3600.0,
            "resync_interval": 3600.0,
            "webhook_secret": WEBHOOK_SECRET,
            "leader_elect": False,
            "identity": f"test-agent-{len(started)}",
            "lease_name": f"gitops-agent-{namespace}",
            **overrides,
        }
        agent = Agent(AgentConfig(**settings), client or kube)
        server = HttpServer(build_router(agent), "127.0.0.1", 0)
        server.start()
        agent.start()
        running = RunningAgent(agent, server)
        started.append(running)
        return running

    yield start
    for running in started:
        running.agent.stop(timeout=10)
        running.server.stop()
