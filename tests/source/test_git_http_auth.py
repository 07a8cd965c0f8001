"""HTTPS-token auth over a real socket: `git http-backend` behind a Basic-auth HTTP server on loopback.

What must hold: the right token clones, a wrong or missing one fails fast with a SourceError (no
prompt, no hang), and the token never shows up in error text, `describe()`, git's argv or any file
of the cache.
"""

from __future__ import annotations

import base64
import time
import traceback
from pathlib import Path

import pytest
from source_helpers import GitHttpServer, Upstream, make_upstream

from gitops_agent.core.errors import SourceError
from gitops_agent.source import GitAuth, GitSource

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def served(git_http: GitHttpServer, tmp_path: Path) -> Upstream:
    return make_upstream(git_http.root / "deployments.git", tmp_path / "work")


def token_forms(token: str, username: str = "git") -> list[bytes]:
    return [token.encode(), base64.b64encode(f"{username}:{token}".encode())]


def assert_nowhere_in(directory: Path, token: str) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for form in token_forms(token):
                assert form not in data, f"token found in {path}"


def error_text(err: BaseException) -> str:
    """Everything a log line or traceback could show, the chained git error included."""
    return "".join(traceback.format_exception(err)) + repr(err)


def test_right_token_clones(
    git_http: GitHttpServer, served: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "git-trace.log"
    monkeypatch.setenv("GIT_TRACE", str(trace))  # git logs the argv of every process it runs
    src = GitSource(
        git_http.url("deployments.git"),
        cache_dir=tmp_path / "cache",
        auth=GitAuth(https_token=git_http.token),
    )

    snapshot = src.fetch()

    assert snapshot.commit == served.head()
    assert (snapshot.path / "agents/support-bot.yaml").is_file()
    assert ("/deployments.git/info/refs", "ok") in git_http.requests
    assert git_http.token not in src.describe()
    assert_nowhere_in(tmp_path / "cache", git_http.token)
    assert "remote-http" in trace.read_text()  # the trace did record git's processes
    assert_nowhere_in(tmp_path, git_http.token)  # the cache, the git trace (argv), everything


def test_incremental_fetch_with_token(git_http: GitHttpServer, served: Upstream, tmp_path: Path) -> None:
    src = GitSource(
        git_http.url("deployments.git"),
        cache_dir=tmp_path / "cache",
        auth=GitAuth(https_token=git_http.token),
    )
    src.fetch()
    sha = served.commit({"agents/new.yaml": "n\n"}, "New agent")
    served.push()
    assert src.fetch().commit == sha


@pytest.mark.parametrize("token", ["wrong-token-value", None])
def test_wrong_or_missing_token_fails_fast(
    git_http: GitHttpServer, served: Upstream, tmp_path: Path, token: str | None
) -> None:
    auth = GitAuth(https_token=token) if token else None
    src = GitSource(
        git_http.url("deployments.git"), cache_dir=tmp_path / "cache", auth=auth, timeout_seconds=30
    )

    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        src.fetch()

    assert time.monotonic() - started < 20  # a prompt would have hung until the timeout
    assert info.value.retryable is True
    text = error_text(info.value)
    assert git_http.url("deployments.git") in text
    assert "terminal prompts disabled" in text or "Authentication failed" in text
    if token:
        assert token not in text
        assert_nowhere_in(tmp_path / "cache", token)
    assert ("/deployments.git/info/refs", "denied") in git_http.requests


def test_token_in_url_is_moved_out_of_it(git_http: GitHttpServer, served: Upstream, tmp_path: Path) -> None:
    url = git_http.url("deployments.git").replace("http://", f"http://git:{git_http.token}@")
    src = GitSource(url, cache_dir=tmp_path / "cache")

    assert src.fetch().commit == served.head()
    assert git_http.token not in src.describe()
    assert src.url == git_http.url("deployments.git")
    assert_nowhere_in(tmp_path / "cache", git_http.token)


def test_token_never_in_errors_even_when_git_echoes_the_url(
    git_http: GitHttpServer, served: Upstream, tmp_path: Path
) -> None:
    url = git_http.url("missing.git").replace("http://", f"http://git:{git_http.token}@")
    src = GitSource(url, cache_dir=tmp_path / "cache")

    with pytest.raises(SourceError) as info:
        src.fetch()

    text = error_text(info.value)
    assert git_http.url("missing.git") in text  # git did echo the URL…
    assert git_http.token not in text  # …without the token
    assert base64.b64encode(f"git:{git_http.token}".encode()).decode() not in text


def test_token_file_is_reread_on_every_fetch(
    git_http: GitHttpServer, served: Upstream, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(git_http.token + "\n")
    src = GitSource(
        git_http.url("deployments.git"),
        cache_dir=tmp_path / "cache",
        auth=GitAuth(https_token_file=token_file),
    )
    src.fetch()

    git_http.token = "rotated-token-2"  # the Git host rotates the token, the Secret follows
    token_file.write_text("rotated-token-2\n")
    sha = served.commit({"agents/after-rotation.yaml": "r\n"}, "After rotation")
    served.push()

    assert src.fetch().commit == sha


def test_stuck_server_times_out(hanging_server: int, tmp_path: Path) -> None:
    src = GitSource(
        f"http://127.0.0.1:{hanging_server}/deployments.git",
        cache_dir=tmp_path / "cache",
        auth=GitAuth(https_token="t0ken-for-a-stuck-server"),
        timeout_seconds=2,
    )
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        src.fetch()
    assert time.monotonic() - started < 15
    assert info.value.retryable is True
    assert "t0ken-for-a-stuck-server" not in error_text(info.value)
