"""The agent's HTTP server: a route table of our own, served by waitress.

Routes (probes, metrics, webhooks, status API, page) are plain functions from a parsed `Request` to a
`Response`; `Router` dispatches them. The transport is waitress, a well-kept pure-Python WSGI server
(no C extension, no framework to configure), because the parts that matter under bad clients —
strict request parsing, header and body limits, idle timeouts, a deep listen backlog, a bounded
thread pool behind an event loop — are what a hand-made server got wrong.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import WSGITask

from gitops_agent.core.logs import get_logger

log = get_logger("http")
MAX_BODY_BYTES = 1024 * 1024
"""Larger bodies are refused with 413 before a handler runs."""
DRAIN_LIMIT = 16 * 1024 * 1024
"""A body up to this size is read (spooled to disk past 512 KiB) so that the client, still sending,
reads our 413 instead of a reset; a larger one is cut off by waitress."""
MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers; more is refused with 431."""
WORKER_THREADS = 8
"""Handlers running at once; more requests wait in waitress's queue, more connections cost a socket."""
IDLE_TIMEOUT_SECONDS = 60
BACKLOG = 2048
CONNECTION_LIMIT = 10_000
_STATUSES = frozenset(s.value for s in HTTPStatus)
HTTP_VERSIONS = ("1.0", "1.1")
"""What is served; another version (`HTTP/9.9`, or none at all) is a 505 (RFC 9110 15.6.6)."""
_VERSION_KEY = "gitops_agent.http_version"
# waitress warns "Task queue depth is N" whenever a burst outruns the threads: expected, not news.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        """A header's value ("" when absent); names are case-insensitive."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), "")


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
    """Serves a Router on host:port with waitress, in a background thread.

    waitress does the HTTP/1.1 work a hand-made server got wrong: request-line and header parsing
    (400, 431 for oversized headers or request lines), a hard cap on bodies (DRAIN_LIMIT; our own
    limit, a 413, is checked before any handler runs), an idle timeout per connection, a large
    listen backlog, and a fixed pool of worker threads behind one asynchronous loop, so idle or slow
    connections cost a socket, not a thread.
    Clients that leave early are dropped quietly. The router stays ours: handlers still get a
    `Request` and return a `Response`.
    """

    def __init__(
        self,
        router: Router,
        host: str,
        port: int,
        *,
        max_body: int = MAX_BODY_BYTES,
        threads: int = WORKER_THREADS,
        idle_timeout: int = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.router = router
        self.max_body = max_body
        self._server = create_server(
            self._wsgi,
            host=host,
            port=port,
            threads=threads,
            backlog=BACKLOG,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=idle_timeout,
            cleanup_interval=max(1, min(30, idle_timeout // 2)),
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=max(max_body, DRAIN_LIMIT),
            expose_tracebacks=False,
            asyncore_use_poll=True,  # select() cannot watch more than 1,024 sockets
            clear_untrusted_proxy_headers=True,
            ident="gitops-agent",
        )
        server = self._server  # one listener, or several (a host name with IPv4 and IPv6 addresses)
        for listener in [server] if isinstance(server, BaseWSGIServer) else list((server.map or {}).values()):
            if isinstance(listener, BaseWSGIServer):
                listener.channel_class = _Channel
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the listener and every connection, then wait for the loop and the workers."""
        server = self._server
        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(server._map)  # type: ignore[union-attr]
        self._thread.join(timeout=5)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = str(environ["REQUEST_METHOD"])
        url = urllib.parse.urlsplit(str(environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"))
        headers = {
            key[5:].replace("_", "-").title(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
            if environ.get(key):
                headers[name] = str(environ[key])
        try:
            response = self._respond(method, url, headers, environ)
        except Exception:  # a handler bug must not kill a worker: answer 500, log it (one JSON line)
            log.exception("handler failed for %s %s", method, url.path)
            response = Response(500, b"internal error")
        unsendable = next((name for name, value in response.headers if not _sendable(value)), None)
        if unsendable is not None:  # waitress would raise in start_response: a traceback, no answer
            log.error("handler for %s %s answered an unsendable %s header", method, url.path, unsendable)
            response = Response(500, b"internal error")
        reason = HTTPStatus(response.status).phrase if response.status in _STATUSES else "Unknown"
        start_response(
            f"{response.status} {reason}",
            [
                ("Content-Type", response.content_type),
                ("Content-Length", str(len(response.body))),
                ("X-Content-Type-Options", "nosniff"),
                *response.headers,
            ],
        )
        return [] if method == "HEAD" else [response.body]

    def _respond(
        self, method: str, url: urllib.parse.SplitResult, headers: dict[str, str], environ: dict[str, Any]
    ) -> Response:
        if environ.get(_VERSION_KEY) not in HTTP_VERSIONS:  # waitress answers any x.y as HTTP/1.0
            return Response(505, b"HTTP version not supported: use HTTP/1.1")
        # waitress has read the whole body (up to DRAIN_LIMIT) before calling us: the limit is ours.
        if int(environ.get("CONTENT_LENGTH") or 0) > self.max_body:
            return Response(413, b"request body too large")
        body = environ["wsgi.input"].read(self.max_body + 1)
        if len(body) > self.max_body:  # chunked: no Content-Length to check first
            return Response(413, b"request body too large")
        request = Request(method, url.path, urllib.parse.parse_qs(url.query), headers, body)
        return self.router.dispatch(request)


class _Task(WSGITask):
    """waitress's WSGI task, telling the application the HTTP version the client asked for (the
    environment's SERVER_PROTOCOL says the version answered with: 1.0 for any unknown one)."""

    def get_environment(self) -> Any:
        environ = super().get_environment()
        environ[_VERSION_KEY] = str(getattr(self.request, "version", ""))  # typed Error in the stubs
        return environ


class _Channel(HTTPChannel):
    task_class = _Task


def _sendable(value: str) -> bool:
    """A header value HTTP/1.1 can carry: Latin-1 text without CR, LF or NUL."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(c in value for c in "\r\n\x00")
