"""No cluster needed: how the API is switched on (`--api-token-file`), and what the agent's HTTP server
answers to methods no route has (405 with `Allow`, never http.server's 501; HEAD as GET, no body)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_agent.agent.config import AgentConfig
from gitops_agent.agent.http.server import HttpServer, Response, Router
from gitops_agent.cli import build_parser
from gitops_agent.cli.run_cmd import config_from
from gitops_agent.core.errors import ConfigError


def _config(tmp_path: Path, *flags: str) -> AgentConfig:
    args = build_parser().parse_args(["run", "--repo", str(tmp_path), "--state-namespace", "ns", *flags])
    return config_from(args)


def test_the_api_token_comes_from_a_file_and_the_api_is_off_without_one(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("  s3cr3t-token-0123456789abcdef\n")

    assert _config(tmp_path, "--api-token-file", str(token)).api_token == "s3cr3t-token-0123456789abcdef"
    assert _config(tmp_path).api_token is None

    token.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        _config(tmp_path, "--api-token-file", str(token))
    with pytest.raises(ConfigError, match="cannot read the API token file"):
        _config(tmp_path, "--api-token-file", str(tmp_path / "missing"))


def test_the_token_file_can_be_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("from-the-environment-0123456789\n")
    monkeypatch.setenv("GITOPS_AGENT_API_TOKEN_FILE", str(token))

    assert _config(tmp_path).api_token == "from-the-environment-0123456789"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    router = Router()
    router.add("GET", "/thing", lambda _: Response.text("here\n"))
    router.add("POST", "/thing", lambda _: Response.text("posted\n", 201))
    running = HttpServer(router, "127.0.0.1", 0)
    running.start()
    yield running
    running.stop()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS", "TRACE", "QUERY", "DELETE"])
def test_methods_without_a_route_get_405_with_allow(server: HttpServer, method: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(method, "/thing")
    response = connection.getresponse()

    assert response.status == 405
    assert response.getheader("Allow") == "GET, POST"
    response.read()
    connection.request("GET", "/nowhere")  # the connection stays usable
    assert connection.getresponse().status == 404


def test_head_is_answered_like_get_without_a_body(server: HttpServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("HEAD", "/thing")
    response = connection.getresponse()

    assert (response.status, response.getheader("Content-Length"), response.read()) == (200, "5", b"")
    connection.request("GET", "/thing")  # nothing of the HEAD answer's body is left on the wire
    assert connection.getresponse().read() == b"here\n"
