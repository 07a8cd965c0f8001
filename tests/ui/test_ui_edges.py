"""The UI's sign-in and forms at their edges, over a real loopback socket (no cluster, no Git).

The agent behind the UI is a stand-in with a real config and status board: what is tested here is
decided before anything reads Git or the cluster (where to go after signing in, which token signs
in, how much of a form is read at all).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from gitrepo import git
from sync_repo import SAMPLE_REPO

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
    """Starts the UI (and the API) of a stand-in agent on sample-repo; returns `request(method, path,
    form=None, headers=None, body=None)`."""
    servers: list[HttpServer] = []
    tree = tmp_path / "tree"  # the synced snapshot, and the remote the writes would go to
    shutil.copytree(SAMPLE_REPO, tree)
    git("init", "-q", "-b", "main", str(tree), cwd=tmp_path)
    git("add", "-A", cwd=tree)
    git("commit", "-q", "-m", "sample", cwd=tree)
    git("clone", "-q", "--bare", str(tree), str(tmp_path / "remote.git"), cwd=tmp_path)

    def start(*, ui_token: str | None = UI_TOKEN, api_token: str | None = None) -> Callable[..., Reply]:
        config = AgentConfig(
            repo=str(tmp_path / "remote.git"),
            state_namespace="gitops-agent",
            cache_dir=tmp_path / "cache",
            api_token=api_token,
            ui=UiConfig(token=ui_token),
        )
        agent = SimpleNamespace(
            config=config,
            board=StatusBoard(),
            snapshot=SimpleNamespace(path=tree),
            kube=None,
            auth=None,
            trigger_fetch=lambda: None,
        )
        router = Router()
        writer = ControlPlaneApi(agent)  # type: ignore[arg-type]
        register_control_plane(router, agent, writer)  # type: ignore[arg-type]
        register_ui(router, agent, writer)  # type: ignore[arg-type]
        server = HttpServer(router, "127.0.0.1", 0)
        server.start()
        servers.append(server)

        def request(
            method: str,
            path: str,
            form: dict[str, str] | None = None,
            headers: dict[str, str] | None = None,
            body: bytes | None = None,
        ) -> Reply:
            body = urllib.parse.urlencode(form).encode() if form is not None else body
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


# -- what a request may cost -------------------------------------------------------------------------


def _signed_in(request: Callable[..., Reply]) -> tuple[dict[str, str], str]:
    """A session cookie and its CSRF token."""
    status, headers, _ = request("POST", "/sign-in", {"token": UI_TOKEN, "name": "Ada", "next": "/"})
    assert status == 303
    cookie = {"Cookie": headers["Set-Cookie"].split(";", 1)[0]}
    page = request("GET", "/deployments/support-bot/revise", headers=cookie)
    found = re.search(r"name='csrf' value='([0-9a-f]+)'", page[2])
    assert page[0] == 200 and found, page[:2]
    return cookie, found.group(1)


def test_a_revise_form_with_60000_env_lines_is_refused_in_milliseconds(
    start_ui: Callable[..., Callable[..., Reply]],
) -> None:
    request = start_ui()
    cookie, csrf = _signed_in(request)
    env = "".join(f"V{i}=x\n" for i in range(60_000))  # under 1 MiB; minutes to edit into a file
    started = time.monotonic()
    status, _, body = request(
        "POST", "/deployments/support-bot/revise", {"csrf": csrf, "image": "", "env": env}, headers=cookie
    )
    assert status == 422 and "at most 1,000 lines; got 60,000" in body
    assert time.monotonic() - started < 2


def test_a_form_with_too_many_fields_is_refused_unread(start_ui: Callable[..., Callable[..., Reply]]) -> None:
    request = start_ui()
    cookie, csrf = _signed_in(request)
    fields = {"csrf": csrf, **{f"f{i}": "x" for i in range(5_000)}}
    status, _, body = request("POST", "/deployments/support-bot/revise", fields, headers=cookie)
    assert status == 413 and "at most 64 fields" in body
    flood = {"token": UI_TOKEN, "name": "x", **{f"f{i}": "" for i in range(5_000)}}
    assert request("POST", "/sign-in", flood)[0] == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"env": {f"V{i}": "x" for i in range(50_000)}}, "env"),
        ({"unsetEnv": [f"V{i}" for i in range(50_000)]}, "unsetEnv"),
        (
            {"image": "x:1", "scale": {"replicas": 1}, "junk": [[[[[[[[[[1]]]]]]]]]]},
            "junk[0][0][0][0][0][0][0]",
        ),
    ],
    ids=["50000-env", "50000-unset", "deep"],
)
def test_an_api_revision_past_the_entry_bounds_is_a_422_in_milliseconds(
    start_ui: Callable[..., Callable[..., Reply]], body: dict[str, object], field: str
) -> None:
    request = start_ui(api_token=API_TOKEN)
    payload = json.dumps(body).encode()
    assert len(payload) < 1024 * 1024
    started = time.monotonic()
    status, _, text = request(
        "POST",
        "/api/v1/deployments/support-bot/revisions",
        headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
        body=payload,
    )
    assert status == 422, text[:500]
    assert [e["field"] for e in json.loads(text)["errors"]] == [field]
    assert time.monotonic() - started < 2


# -- which token signs in --------------------------------------------------------------------------


def test_the_api_token_signs_in_when_the_ui_has_a_token_of_its_own(
    start_ui: Callable[..., Callable[..., Reply]],
) -> None:
    request = start_ui(ui_token=UI_TOKEN, api_token=API_TOKEN)
    for token in (UI_TOKEN, API_TOKEN):
        status, headers, _ = request("POST", "/sign-in", {"token": token, "name": "Ada", "next": "/"})
        assert status == 303 and headers["Set-Cookie"].startswith("gitops_agent_session="), token
    assert request("POST", "/sign-in", {"token": "not-either-token-0000", "name": "Ada"})[0] == 401


def test_without_a_ui_token_the_api_token_signs_in(start_ui: Callable[..., Callable[..., Reply]]) -> None:
    request = start_ui(ui_token=None, api_token=API_TOKEN)
    assert request("POST", "/sign-in", {"token": API_TOKEN, "name": "Ada", "next": "/"})[0] == 303
