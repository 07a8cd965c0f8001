"""A small HTTP client for the control-plane API tests: requests over a real loopback socket to a
running agent, and helpers that read the bare remote the API writes to."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from agent_harness import RunningAgent
from gitrepo import git
from sync_repo import DeploymentsRepo

API_TOKEN = "test-api-token-0123456789abcdef"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: Message
    """Case-insensitive, as HTTP header names are (the server may send `Www-Authenticate`)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """The agent under test, its deployments repository, and requests with (or without) the token."""

    running: RunningAgent
    repo: DeploymentsRepo

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = API_TOKEN,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.running.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read(), err.headers)

    def remote_head(self) -> str:
        return git("rev-parse", "refs/heads/main", cwd=self.repo.upstream.bare)

    def remote_file(self, path: str, commit: str = "refs/heads/main") -> str:
        return git("show", f"{commit}:{path}", cwd=self.repo.upstream.bare)

    def commit_files(self, commit: str) -> list[str]:
        """`A\tpath` / `M\tpath` / `D\tpath` lines of one commit."""
        out = git("show", "--name-status", "--format=", commit, cwd=self.repo.upstream.bare)
        return out.splitlines()

    def parent(self, commit: str) -> str:
        return git("rev-parse", f"{commit}^", cwd=self.repo.upstream.bare)

    def revision(self, name: str) -> int | None:
        detail = self.running.agent.board.deployment(name)
        return detail["revision"] if detail else None

    def synced(self) -> bool:
        return self.running.all_synced()
