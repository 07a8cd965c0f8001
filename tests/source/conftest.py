"""Fixtures for the source stage: real Git repositories and a real Git HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from source_helpers import GitHttpServer, Upstream, make_upstream, start_git_http


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return make_upstream(tmp_path / "remote" / "deployments.git", tmp_path / "work")


@pytest.fixture
def git_http(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A running Git HTTP server serving `tmp_path/srv`, token "s3cr3t-T0KEN-for-tests"."""
    root = tmp_path / "srv"
    root.mkdir()
    app, server, thread = start_git_http(root, "s3cr3t-T0KEN-for-tests")
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def hanging_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a stuck Git host)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, name="hanging-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()
