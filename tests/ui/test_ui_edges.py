"""The UI's sign-in and forms at their edges, over a real loopback socket (no cluster, no Git).

The agent behind the UI is a stand-in with a real config and status board: what is tested here is
decided before anything reads Git or the cluster (where to go after signing in, which token signs
in, how much of a form is read at all).
"""

from __future__ import annotations

import http.client
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gitops_agent.agent.config import AgentConfig, UiConfig
from gitops_agent.agent.http.api import ControlPlaneApi, register_control_plane
from gitops_agent.agent.http.server import HttpServer, Router
from gitops_agent.agent.http.ui import register_ui
from gitops_agent.agent.status import StatusBoard

UI_TOKEN = "ui-token-0123456789abcdef"
API_TOKEN = "api-token-0123456789abcdef"

Reply = tuple[int, dict[str, str], str]


@pytest.fixture
def start_ui(tmp_path: Path) -> Iterator[Callable[..., Callable[..., Reply]]]:
    """Starts the UI of a stand-in agent; returns `request(method, path, form=None, headers=None)`."""
    servers: list[HttpServer] = []

    def start(*, ui_token: str | None = UI_TOKEN, api_token: str | None = None) -> Callable[..., Reply]:
        config = AgentConfig(
            repo=str(tmp_path / "repo"),
            state_namespace="gitops-agent",
            cache_dir=tmp_path / "cache",
            api_token=api_token,
            ui=UiConfig(token=ui_token),
        )
        agent = SimpleNamespace(config=config, board=StatusBoard(), snapshot=None, kube=None)
        router = Router()
        writer = ControlPlaneApi(agent)  # type: ignore[arg-type]
        register_control_plane(router, agent, writer)  # type: ignore[arg-type]
        register_ui(router, agent, writer)  # type: ignore[arg-type]
        server = HttpServer(router, "127.0.0.1", 0)
        server.start()
        servers.append(server)

        def request(
            method: str, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
        ) -> Reply:
            body = urllib.parse.urlencode(form).encode() if form is not None else None
            sent = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                connection.request(method, path, body=body, headers={**sent, **(headers or {})})
                reply = connection.getresponse()
                return reply.status, dict(reply.getheaders()), reply.read().decode(errors="replace")
            finally:
                connection.close()

        return request

    yield start
    for server in servers:
        server.stop()


# -- where to go after signing in ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "\t//evil.example",
        "/\u3000/evil.example",
        "/\x00",
    ],
    ids=["tab", "lf", "crlf", "space", "leading-tab", "u3000", "nul"],
)
def test_a_next_with_whitespace_or_control_characters_is_a_400_with_no_traceback(
    start_ui: Callable[..., Callable[..., Reply]], target: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request = start_ui()
    shown = request("GET", "/sign-in?" + urllib.parse.urlencode({"next": target}))
    assert shown[0] == 400, shown
    assert "name='next'" not in shown[2]  # no sign-in form that carries it on
    posted = request("POST", "/sign-in", {"token": UI_TOKEN, "name": "x", "next": target})
    assert posted[0] == 400 and "Location" not in posted[1], posted
    wrong = request("POST", "/sign-in", {"token": "not-the-token-at-all", "name": "x", "next": target})
    assert wrong[0] == 400, wrong
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "///evil.example",
    ],
)
def test_a_next_on_another_origin_signs_in_to_the_index(
    start_ui: Callable[..., Callable[..., Reply]], target: str
) -> None:
    request = start_ui()
    posted = request("POST", "/sign-in", {"token": UI_TOKEN, "name": "x", "next": target})
    assert posted[0] == 303 and posted[1]["Location"] == "/", posted
    shown = request("GET", "/sign-in?" + urllib.parse.urlencode({"next": target}))
    assert shown[0] == 200 and "name='next' value='/'" in shown[2]


def test_a_next_on_this_site_is_kept_through_the_form(start_ui: Callable[..., Callable[..., Reply]]) -> None:
    request = start_ui()
    target = "/deployments/support-bot?commit=abc&message=a%20b"
    shown = request("GET", "/sign-in?" + urllib.parse.urlencode({"next": target}))
    assert (
        shown[0] == 200
        and "name='next' value='/deployments/support-bot?commit=abc&amp;message=a%20b'" in shown[2]
    )
    posted = request("POST", "/sign-in", {"token": UI_TOKEN, "name": "x", "next": target})
    assert posted[0] == 303 and posted[1]["Location"] == target
