"""The agent's HTTP server under bad and abusive clients, over real sockets (no cluster needed).

Each case was seen failing against the hand-made server: no response or a traceback for malformed
requests, one thread per idle connection, a 500 for a deeply nested signed webhook body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from gitops_agent.agent.http.routes import WEBHOOK_STATUS
from gitops_agent.agent.http.server import HttpServer, Request, Response, Router
from gitops_agent.agent.http.webhook import WebhookVerifier

SECRET = b"s3cret"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    verifier = WebhookVerifier(SECRET, branch="main")
    router = Router()
    router.add("GET", "/healthz", lambda _: Response.text("ok\n"))

    def webhook(request: Request) -> Response:
        result = verifier.check(request.headers, request.body)
        body = {"result": result.verdict.value, "detail": result.detail}
        return Response.json(body, WEBHOOK_STATUS[result.verdict])

    router.add("POST", "/webhook", webhook)
    running = HttpServer(router, "127.0.0.1", 0, idle_timeout=2)
    running.start()
    yield running
    running.stop()


def _raw(port: int, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send bytes (then half-close) while reading until the server closes: a server that refuses a
    request before reading all of it answers and resets, and the answer must be read first."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:

        def send() -> None:
            try:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server hung up before taking it all: its answer is what counts

        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        sender.join()
        return b"".join(chunks)


def _status(reply: bytes) -> int | str:
    """The status code, or "closed" when the server hung up without an answer."""
    if not reply:
        return "closed"
    assert reply.startswith(b"HTTP/1."), reply[:80]
    return int(reply.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"HELLO\r\n\r\n", {400}),
        # A version we do not speak is a 505 (RFC 9110 15.6.6), in HTTP/1.0 (RFC 9110 2.5).
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", {505}),
        (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", {505}),
        (b"GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", {505}),
        # A TLS ClientHello has no line to answer: the connection is closed, nothing is logged.
        (bytes.fromhex("16030100a5010000a10303") + b"\x00" * 64, {"closed", 400}),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {414, 431}),
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", {400}),
        (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", {400}),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 300_000 + b"\r\n\r\n", {431}),
    ],
    ids=[
        "hello",
        "http-9.9",
        "http-2.0-as-text",
        "http-0.9",
        "tls-hello",
        "70kb-request-line",
        "length-abc",
        "length-negative",
        "huge-header",
    ],
)
def test_malformed_requests_get_an_error_status_and_the_server_keeps_serving(
    server: HttpServer, payload: bytes, expected: set[int | str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert _status(_raw(server.port, payload)) in expected
    assert _status(_raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_an_oversized_body_is_refused_with_413(server: HttpServer) -> None:
    body = b"x" * (server.max_body + 1)
    head = f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    assert _status(_raw(server.port, head + body)) == 413


def test_1500_idle_connections_cost_no_threads_and_block_no_one(server: HttpServer) -> None:
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(1500)]
    try:
        started = time.monotonic()
        assert _status(_raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
        assert time.monotonic() - started < 5
        assert threading.active_count() - before < 10  # a socket each, not a thread each
        time.sleep(3.5)  # past the idle timeout (2 s) and a cleanup pass: the server hangs up
        closed = 0
        for sock in idle[:50]:
            sock.settimeout(2)
            try:
                closed += sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                closed += 1
        assert closed == 50
    finally:
        for sock in idle:
            sock.close()


def test_a_client_that_leaves_early_leaves_no_traceback(
    server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(0.5)
    assert _status(_raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_a_deeply_nested_signed_webhook_body_is_a_400_not_a_500(server: HttpServer) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    head = (
        "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Gitops-Agent-Timestamp: {stamp}\r\nX-Gitops-Agent-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    reply = _raw(server.port, head + body)
    assert _status(reply) == 400, reply[:300]
    assert b"nested too deeply" in reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["result"] == "bad_request"


@pytest.mark.parametrize("value", ["/a\r\nSet-Cookie: x=1", "/\u3000", "/\x00"], ids=["crlf", "u3000", "nul"])
def test_a_header_http_cannot_carry_is_a_500_and_one_log_line_not_a_traceback(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router()
    router.add("GET", "/go", lambda _: Response(303, b"", headers=(("Location", value),)))
    running = HttpServer(router, "127.0.0.1", 0)
    running.start()
    try:
        caplog.set_level(logging.INFO)
        reply = _raw(running.port, b"GET /go HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status(reply) == 500 and b"Set-Cookie" not in reply
        assert _status(_raw(running.port, b"GET /go HTTP/1.1\r\nHost: x\r\n\r\n")) == 500  # still serving
    finally:
        running.stop()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "handler for GET /go answered an unsendable Location header"
    ] * 2
