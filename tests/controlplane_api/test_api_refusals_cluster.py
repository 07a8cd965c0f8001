"""What the control-plane API refuses: no token (401), bad input (422 with the field path), malformed
JSON (400), unknown names (404), and everything when it is off (404). Nothing is ever written."""

from __future__ import annotations

import json
from collections.abc import Callable

from api_client import API_TOKEN, Api

REVISIONS = "/api/v1/deployments/support-bot/revisions"
CREATE = {"name": "new-bot", "image": "ghcr.io/acme/new-bot:1.0.0"}


def test_requests_without_a_valid_token_get_401_and_write_nothing(start_api: Callable[..., Api]) -> None:
    api = start_api()
    head = api.remote_head()
    fetches = api.running.agent.fetch_now.is_set()
    attempts = [
        {"token": None},
        {"token": "wrong-token-0123456789abcdef"},
        {"token": API_TOKEN[:-1]},
        {"token": API_TOKEN + "x"},
        {"token": None, "headers": {"Authorization": f"Basic {API_TOKEN}"}},
        {"token": None, "headers": {"Authorization": API_TOKEN}},
        {"token": "é" * 20},
    ]
    for attempt in attempts:
        for method, path, body in (
            ("POST", "/api/v1/deployments", CREATE),
            ("POST", REVISIONS, {"image": "ghcr.io/acme/x:2"}),
            ("DELETE", "/api/v1/deployments/support-bot", None),
            ("POST", "/api/v1/deployments/no-such-bot/revisions", {"image": "x:1"}),
        ):
            answer = api.call(method, path, body, **attempt)  # type: ignore[arg-type]
            assert answer.status == 401, (attempt, method, path, answer.body)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.remote_head() == head
    assert api.running.agent.fetch_now.is_set() == fetches
    # The token is checked before the body is read: garbage gets 401 too, not 400.
    assert api.call("POST", "/api/v1/deployments", raw=b"{not json", token=None).status == 401
    assert api.call("POST", "/api/v1/deployments", CREATE, token=API_TOKEN.upper()).status == 401
    assert api.remote_head() == head


BAD_INPUT = [  # (path, body, the field named, the file named: None for the request body)
    ("/api/v1/deployments", {**CREATE, "image": "UPPER::bad"}, "spec.image", "deployments/new-bot.yaml"),
    ("/api/v1/deployments", {**CREATE, "replicas": "many"}, "replicas", None),
    ("/api/v1/deployments", {"image": "ghcr.io/acme/x:1"}, "name", None),
    ("/api/v1/deployments", {**CREATE, "name": "Not_A_Name"}, "name", None),
    ("/api/v1/deployments", {**CREATE, "colour": "blue"}, "colour", None),
    ("/api/v1/deployments", {**CREATE, "env": {"1BAD": "x"}}, "env.1BAD", None),
    ("/api/v1/deployments", {**CREATE, "secretEnv": {"DB": {"name": "s"}}}, "secretEnv.DB.key", None),
    ("/api/v1/deployments", {**CREATE, "path": "/a", "host": "a.example.com"}, "host", None),
    ("/api/v1/deployments", {**CREATE, "managedPostgres": False}, "managedPostgres", None),
    ("/api/v1/deployments", {**CREATE, "autoscaling": {"min": 1}}, "autoscaling.max", None),
    ("/api/v1/deployments", [1, 2], "", None),
    (REVISIONS, {"image": "UPPER::bad"}, "spec.image", "deployments/support-bot.yaml"),
    (REVISIONS, {"scale": {"min": -1, "max": 3}}, "scale.min", None),
    (REVISIONS, {"scale": {"replicas": 2, "max": 3}}, "scale.max", None),
    (REVISIONS, {"scale": {"queue": True}}, "scale", None),
    (  # billing-agent has no queue workers to scale
        "/api/v1/deployments/billing-agent/revisions",
        {"scale": {"queue": True, "replicas": 2}},
        "scale",
        None,
    ),
    (REVISIONS, {"unsetEnv": ["OK", "bad name"]}, "unsetEnv[1]", None),
    (REVISIONS, {"env": {"A": "x"}, "unsetEnv": ["A"]}, "unsetEnv[0]", None),
    (REVISIONS, {"env": {"A": "\u0000"}}, "env.A", None),
    (REVISIONS, {}, "", None),
    (REVISIONS, {"env": {}}, "", None),
]


def test_bad_input_gets_422_with_the_field_path_and_writes_nothing(start_api: Callable[..., Api]) -> None:
    api = start_api()
    head = api.remote_head()

    for path, body, field, file in BAD_INPUT:
        answer = api.call("POST", path, body)

        assert answer.status == 422, (body, answer.body)
        errors = answer.json["errors"]
        assert any(e["field"] == field and e["file"] == file for e in errors), (body, errors)
        assert all(e["message"] for e in errors)
        if file:
            located = next(e for e in errors if e["field"] == field)
            assert located["line"] > 0 and located["column"] > 0
            assert "not a valid image reference" in located["message"]
    assert api.remote_head() == head


def test_malformed_bodies_unknown_names_and_the_openapi_document(start_api: Callable[..., Api]) -> None:
    api = start_api()
    head = api.remote_head()

    for raw in (b"{not json", b"", b"\xff\xfe\x00", b'{"name": NaN}', b"[" * 100_000):
        answer = api.call("POST", "/api/v1/deployments", raw=raw)
        assert answer.status == 400, (raw[:20], answer.body)
    assert api.call("POST", "/api/v1/deployments", raw=b"x" * (2 * 1024 * 1024)).status == 413
    missing = api.call("POST", "/api/v1/deployments/no-such-bot/revisions", {"image": "x:1"})
    assert missing.status == 404 and "no deployment 'no-such-bot'" in missing.json["error"]
    assert api.call("DELETE", "/api/v1/deployments/no-such-bot").status == 404
    assert api.call("DELETE", "/api/v1/deployments/..%2Fgitops-agent").status == 404
    assert api.call("POST", "/api/v1/deployments", {**CREATE, "name": "support-bot"}).status == 409
    assert api.remote_head() == head

    # The OpenAPI document: no token needed.
    answer = api.call("GET", "/api/v1/openapi.json", token=None)

    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    document = json.loads(answer.body)
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ("/healthz", "/readyz", "/metrics", "/webhook", "/api/v1/status", "/api/v1/deployments"):
        assert path in paths
    assert set(paths["/api/v1/deployments"]) == {"get", "post"}
    assert set(paths["/api/v1/deployments/{name}"]) >= {"get", "delete"}
    create = paths["/api/v1/deployments"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert {"201", "401", "409", "422"} <= set(create["responses"])
    schema = document["components"]["schemas"]["CreateDeployment"]
    assert {"name", "image", "path", "host", "managedPostgres", "postgresSecret", "replicas", "env"} <= set(
        schema["properties"]
    )


def test_with_no_token_configured_the_api_is_off(start_api: Callable[..., Api]) -> None:
    api = start_api(api_token=None)
    head = api.remote_head()

    assert api.call("POST", "/api/v1/deployments", CREATE).status == 404
    assert api.call("POST", REVISIONS, {"image": "ghcr.io/acme/x:2"}).status == 404
    assert api.call("DELETE", "/api/v1/deployments/support-bot").status == 404
    assert api.call("GET", "/api/v1/deployments", token=None).status == 200  # the read API stays
    document = api.call("GET", "/api/v1/openapi.json", token=None).json
    assert "post" not in document["paths"]["/api/v1/deployments"]
    assert "/api/v1/deployments/{name}/revisions" not in document["paths"]
    assert api.remote_head() == head
