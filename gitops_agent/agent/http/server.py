"""A small threaded HTTP server with a route table: health probes, metrics, webhooks, status API, page.

The standard library's server is enough for this traffic (probes, scrapes, a few webhooks and page
views), keeps the image small and has no framework to configure. Bodies are size-limited before they
are read; handlers get a parsed `Request` and return a `Response`.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gitops_agent.core.logs import get_logger

log = get_logger("http")
MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT = 16 * 1024 * 1024
"""An oversized body up to this size is read and dropped before the 413; a larger one is cut off."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, indent=2, default=str).encode(), "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


Handler = Callable[[Request], Response]


class Router:
    """Maps (method, path pattern) to handlers; `{name}` in a pattern captures one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        self._routes.append((method, re.compile(regex), handler))

    def dispatch(self, request: Request) -> Response:
        allowed = []
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if not match:
                continue
            if method != request.method and (method, request.method) != ("GET", "HEAD"):
                allowed.append(method)
                continue
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return handler(
                Request(request.method, request.path, request.query, request.headers, request.body, params)
            )
        if allowed:
            return Response(405, b"method not allowed", headers=(("Allow", ", ".join(sorted(set(allowed)))),))
        return Response(404, b"not found")


class HttpServer:
    """Serves a Router on host:port in a background thread."""

    def __init__(self, router: Router, host: str, port: int, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.router = router
        self.max_body = max_body
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle on, a kept-alive client waits for
            # its delayed ACK (~40 ms) before it sees the body.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def __getattr__(self, name: str) -> Callable[[], None]:
                """Any other method (HEAD, PUT, TRACE, QUERY…) reaches the router too, which answers
                405 with `Allow` (HEAD: as GET, without the body) where http.server would say 501."""
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.command, self.path)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > server.max_body:
                    self._discard(min(length, DRAIN_LIMIT))  # so the client reads our 413, not a reset
                    self._send(Response(413, b"request body too large"), close=True)
                    return
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                request = Request(
                    self.command,
                    url.path,
                    urllib.parse.parse_qs(url.query),
                    {k: v for k, v in self.headers.items()},
                    body,
                )
                try:
                    response = server.router.dispatch(request)
                except Exception:  # a handler bug must not kill the server thread: answer 500, log it
                    log.exception("handler failed for %s %s", self.command, url.path)
                    response = Response(500, b"internal error")
                self._send(response)

            def _discard(self, length: int) -> None:
                while length > 0:
                    chunk = self.rfile.read(min(length, 65536))
                    if not chunk:
                        return
                    length -= len(chunk)

            def _send(self, response: Response, *, close: bool = False) -> None:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                self.send_header("X-Content-Type-Options", "nosniff")
                for name, value in response.headers:
                    self.send_header(name, value)
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

        return _Handler
