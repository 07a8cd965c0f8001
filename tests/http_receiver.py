"""A real HTTP receiver on loopback that records what it is sent: stands in for Slack's and Teams'
webhooks, a generic webhook receiver and the forges' commit status APIs, answering as their
documentation says (Slack `200 ok`, Teams `202`, the forges `201` with the created status)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        """A header's value, by case-insensitive name (urllib sends `X-github-api-version`)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"ok"
    fail_next: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with (then `status`): e.g. [503, 429] to test retries."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} requests received, wanted {count}: {self.received}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.fail_next.pop(0) if receiver.fail_next else receiver.status
            if status < 400:
                headers = {k: v for k, v in self.headers.items()}
                receiver.received.append(Received("POST", self.path, headers, body))
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., Receiver]]:
    """Starts receivers on free loopback ports: `http_receiver(status=202, reply=b"")`."""
    started: list[Receiver] = []

    def start(status: int = 200, reply: bytes = b"ok") -> Receiver:
        receiver = Receiver(
            ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler), status=status, reply=reply
        )
        receiver.server.RequestHandlerClass = _handler(receiver)
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()
