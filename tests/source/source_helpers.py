"""Helpers for the source-stage tests: real Git repositories and a real Git HTTP server.

`Upstream` is a bare repository (the "remote") plus a working clone that commits and pushes with the
git CLI. `GitHttpServer` serves bare repositories through `git http-backend` (CGI) behind a tiny
HTTP server that demands a Basic-auth token, so HTTPS-token handling is tested over a real socket.
Kept out of conftest.py so test modules can import it by a unique name.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gitrepo import HELPER_ENV, Upstream, git

__all__ = ["HELPER_ENV", "GitHttpServer", "Upstream", "git", "make_upstream", "start_git_http"]


def make_upstream(bare: Path, work: Path) -> Upstream:
    """A bare repository with `main` as HEAD and one pushed commit holding two deployment files."""
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=bare.parent)
    git("init", "-q", "-b", "main", str(work), cwd=bare.parent)
    git("remote", "add", "origin", str(bare), cwd=work)
    upstream = Upstream(bare=bare, work=work)
    upstream.commit(
        {
            "agents/support-bot.yaml": "kind: AgentDeployment\nmetadata: {name: support-bot}\n",
            "agents/triage.yaml": "kind: AgentDeployment\nmetadata: {name: triage}\n",
            "README.md": "deployments\n",
        },
        "Initial deployments\n\nTwo agents to start with.",
    )
    upstream.push("main")
    return upstream


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GitHttpServer:
    """`git http-backend` over HTTP on 127.0.0.1, guarded by Basic auth `username:token`."""

    root: Path
    token: str
    username: str = "git"
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, "ok"/"denied")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return header == f"Basic {expected}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows test output, not access logs."""

    def _serve(self) -> None:
        app = self.server.app
        path, _, query = self.path.partition("?")
        if not app.authorized(self.headers.get("Authorization")):
            app.requests.append((path, "denied"))
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        app.requests.append((path, "ok"))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(app.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "REMOTE_USER": app.username,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        body = self._body()
        env["CONTENT_LENGTH"] = str(len(body))
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: GitHttpServer


def start_git_http(root: Path, token: str) -> tuple[GitHttpServer, _Server, threading.Thread]:
    """Serve `root` on a free loopback port in a daemon thread."""
    server = _Server(("127.0.0.1", 0), _Handler)
    app = GitHttpServer(root=root, token=token, port=server.server_address[1])
    server.app = app
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="git-http", daemon=True)
    thread.start()
    return app, server, thread
