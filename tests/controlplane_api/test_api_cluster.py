"""The control-plane API end to end: HTTP request → commit on the remote → the agent rolls it out.

A real agent and HTTP server on loopback, a real bare Git remote, the real local cluster.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_harness import wait_for
from api_client import Api

from gitops_agent.controlplane.scaffold import NewDeployment, render_new
from gitops_agent.kube.client import KubeClient


def _image(kube: KubeClient, namespace: str, name: str) -> str:
    live = kube.get("apps/v1", "Deployment", name, namespace)
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"]) if live else ""


def test_create_commits_the_file_the_agent_deploys_it_and_delete_removes_it(
    start_api: Callable[..., Api],
) -> None:
    api = start_api()
    kube, namespace = api.repo.kube, api.repo.namespace
    before = api.remote_head()

    answer = api.call(
        "POST",
        "/api/v1/deployments",
        {"name": "api-bot", "image": "ghcr.io/acme/api-bot:1.0.0", "replicas": 1, "env": {"MODE": "@api"}},
    )

    assert answer.status == 201, answer.body
    result = answer.json
    assert result["commit"] == api.remote_head() != before
    assert api.parent(result["commit"]) == before
    assert api.commit_files(result["commit"]) == ["A\tdeployments/api-bot.yaml"]
    assert result["changedFiles"] == ["deployments/api-bot.yaml"]
    assert result["message"] == "api-bot: new deployment (ghcr.io/acme/api-bot:1.0.0)"
    assert (result["deployment"], result["branch"], result["pushed"]) == ("api-bot", "main", True)
    assert (result["revision"], result["previousRevision"]) == (1, None)
    assert answer.headers["Location"] == "/api/v1/deployments/api-bot"
    expected = NewDeployment(
        name="api-bot", image="ghcr.io/acme/api-bot:1.0.0", replicas=1, env=(("MODE", "@api"),)
    )
    assert api.remote_file("deployments/api-bot.yaml") == render_new(expected).rstrip("\n")

    # Polling is off (one hour): the API's own trigger makes the agent fetch and deploy it.
    wait_for(lambda: _image(kube, namespace, "api-bot") == "ghcr.io/acme/api-bot:1.0.0", timeout=30)
    wait_for(lambda: api.revision("api-bot") == 1)

    again = api.call("POST", "/api/v1/deployments", {"name": "api-bot", "image": "ghcr.io/acme/api-bot:2"})
    assert again.status == 409 and "already exists" in again.json["error"]

    deleted = api.call("DELETE", "/api/v1/deployments/api-bot")
    assert deleted.status == 200, deleted.body
    assert deleted.json["commit"] == api.remote_head()
    assert api.commit_files(deleted.json["commit"]) == ["D\tdeployments/api-bot.yaml"]
    assert deleted.json["message"] == "api-bot: delete"
    assert (deleted.json["revision"], deleted.json["previousRevision"]) == (None, 1)
    wait_for(lambda: kube.get("apps/v1", "Deployment", "api-bot", namespace) is None, timeout=30)
    assert api.call("DELETE", "/api/v1/deployments/api-bot").status == 404


def test_a_revision_is_the_current_one_plus_one_and_rolls_out(start_api: Callable[..., Api]) -> None:
    api = start_api()
    kube, namespace = api.repo.kube, api.repo.namespace
    current = api.revision("research-assistant")
    assert current is not None

    answer = api.call(
        "POST",
        "/api/v1/deployments/research-assistant/revisions",
        {"image": "ghcr.io/example/research-assistant:0.4.0"},
    )

    assert answer.status == 201, answer.body
    result = answer.json
    assert (result["revision"], result["previousRevision"]) == (current + 1, current)
    assert result["commit"] == api.remote_head()
    assert api.commit_files(result["commit"]) == ["M\tdeployments/research-assistant.yaml"]
    assert result["message"] == "research-assistant: image → ghcr.io/example/research-assistant:0.4.0"
    wait_for(lambda: _image(kube, namespace, "research-assistant").endswith(":0.4.0"), timeout=30)
    wait_for(lambda: api.revision("research-assistant") == current + 1)

    # Image, env and scale in one request: one commit, one revision, numbered as the agent numbers it.
    combined = api.call(
        "POST",
        "/api/v1/deployments/research-assistant/revisions",
        {
            "image": "ghcr.io/example/research-assistant:0.5.0",
            "env": {"LOG_LEVEL": "debug"},
            "scale": {"replicas": 3},
        },
    )
    assert combined.status == 201, combined.body
    assert combined.json["revision"] == current + 2
    assert api.parent(combined.json["commit"]) == result["commit"]
    assert combined.json["message"] == (
        "research-assistant: image → ghcr.io/example/research-assistant:0.5.0, env LOG_LEVEL=debug, scale 3"
    )
    wait_for(lambda: api.revision("research-assistant") == current + 2, timeout=30)
    live = kube.get("apps/v1", "Deployment", "research-assistant", namespace)
    assert live is not None and live["spec"]["replicas"] == 3

    # The same request again changes nothing: no commit, 200, the revision it already is.
    head = api.remote_head()
    repeat = api.call("POST", "/api/v1/deployments/research-assistant/revisions", {"scale": {"replicas": 3}})
    assert repeat.status == 200, repeat.body
    assert (repeat.json["changed"], repeat.json["commit"], repeat.json["revision"]) == (
        False,
        head,
        current + 2,
    )
    assert api.remote_head() == head


def test_rollback_redeploy_suspend_and_resume_over_http(start_api: Callable[..., Api]) -> None:
    """The revision issue's manual control verbs, as the API's one-commit writes."""
    api = start_api()
    kube, namespace = api.repo.kube, api.repo.namespace
    wait_for(lambda: api.revision("research-assistant") == 1, timeout=60)
    first = api.call(
        "POST", "/api/v1/deployments/research-assistant/revisions", {"image": "ghcr.io/x/ra:2.0.0"}
    )
    assert first.status == 201, first.body
    wait_for(lambda: _image(kube, namespace, "research-assistant") == "ghcr.io/x/ra:2.0.0", timeout=30)

    back = api.call("POST", "/api/v1/deployments/research-assistant/rollback", {"revision": 1})
    assert back.status == 201, back.body
    assert back.json["message"].startswith("research-assistant: roll back to revision 1 (")
    assert back.json["revision"] == 3
    wait_for(
        lambda: _image(kube, namespace, "research-assistant").endswith("research-assistant:0.3.0"), timeout=30
    )
    unknown = api.call("POST", "/api/v1/deployments/research-assistant/rollback", {"revision": 42})
    assert unknown.status == 422 and "has no revision 42" in unknown.body.decode()

    for action, message in (
        ("suspend", "research-assistant: suspend"),
        ("resume", "research-assistant: resume"),
        ("redeploy", "research-assistant: redeploy ("),
    ):
        answer = api.call("POST", f"/api/v1/deployments/research-assistant/{action}")
        assert answer.status == 201, (action, answer.body)
        assert answer.json["message"].startswith(message)
        assert api.commit_files(answer.json["commit"]) == ["M\tdeployments/research-assistant.yaml"]
    assert "redeploy:" in api.remote_file("deployments/research-assistant.yaml")
    assert "suspend" not in api.remote_file("deployments/research-assistant.yaml")
    assert api.call("POST", "/api/v1/deployments/nope/suspend").status == 404
