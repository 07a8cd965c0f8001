"""The agent's HTTP endpoints: probes, metrics, push webhooks, the status and control-plane APIs, the UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitops_agent.agent.http.api import ControlPlaneApi, register_control_plane
from gitops_agent.agent.http.server import Request, Response, Router
from gitops_agent.agent.http.ui import register_ui
from gitops_agent.agent.http.webhook import Verdict, WebhookVerifier

if TYPE_CHECKING:
    from gitops_agent.agent.controller import Agent

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
WEBHOOK_STATUS = {
    Verdict.ACCEPTED: 202,
    Verdict.IGNORED: 202,
    Verdict.UNAUTHORIZED: 401,
    Verdict.REPLAYED: 409,
    Verdict.TOO_LARGE: 413,
    Verdict.BAD_REQUEST: 400,
}


def build_router(agent: Agent) -> Router:
    """All routes of one agent."""
    router = Router()
    router.add("GET", "/healthz", lambda _: Response.text("ok\n"))
    router.add("GET", "/readyz", lambda _: _ready(agent))
    router.add("GET", "/metrics", lambda _: Response(200, agent.metrics.exposition(), PROMETHEUS_TEXT))
    verifier = (
        WebhookVerifier(agent.config.webhook_secret, branch=agent.config.ref)
        if agent.config.webhook_secret
        else None
    )
    for path in ("/webhook", "/webhook/{provider}"):
        router.add("POST", path, lambda request: _webhook(agent, verifier, request))
    router.add("GET", "/api/v1/status", lambda _: Response.json(agent.board.overview()))
    router.add(
        "GET",
        "/api/v1/deployments",
        lambda _: Response.json({"deployments": agent.board.deployments(), "view": agent.board.view}),
    )
    router.add("GET", "/api/v1/deployments/{name}", lambda request: _deployment(agent, request))
    writer = ControlPlaneApi(agent)  # one for the API and the UI: their writes are serialized together
    register_control_plane(router, agent, writer)  # the write API (off, 404, without an API token)
    register_ui(router, agent, writer)  # the pages, sign-in and the browser's writes
    return router


def _ready(agent: Agent) -> Response:
    ready, why = agent.ready
    return Response.text(f"{why}\n", 200 if ready else 503)


def _webhook(agent: Agent, verifier: WebhookVerifier | None, request: Request) -> Response:
    if verifier is None:
        return Response.text("webhooks are disabled (no webhook secret configured)\n", 404)
    result = verifier.check(request.headers, request.body)
    agent.metrics.webhooks.labels(result.provider, result.verdict.value).inc()
    if result.verdict is Verdict.ACCEPTED:
        agent.trigger_fetch()
    body = {"result": result.verdict.value, "provider": result.provider, "detail": result.detail}
    return Response.json(body, WEBHOOK_STATUS[result.verdict])


def _deployment(agent: Agent, request: Request) -> Response:
    found = agent.board.deployment(request.params["name"])
    return Response.json(found) if found else Response.json({"error": "no such deployment"}, 404)
