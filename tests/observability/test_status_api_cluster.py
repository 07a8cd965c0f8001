"""The status API and `gitops-agent status --agent-url` of a running agent on the real cluster."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from agent_harness import RunningAgent, wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.localcluster import LocalCluster
from gitops_agent.state.inventory import InventoryStore

SUMMARY_FIELDS = {
    "name",
    "namespace",
    "revision",
    "revision_state",
    "image",
    "commit",
    "author",
    "message",
    "revision_time",
    "sync_state",
    "health",
    "health_message",
    "last_change",
    "last_error",
    "problems",
    "note",
    "last_sync_time",
    "last_attempt_time",
}


def _json(running: RunningAgent, path: str) -> tuple[int, Any]:
    status, body = running.get(path)
    return status, json.loads(body)


def test_the_status_api_reports_every_field_and_the_cli_reads_it(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    assert running.get("/healthz") == (200, b"ok\n")
    wait_for(lambda: running.get("/readyz")[0] == 200)
    wait_for(running.all_synced)
    wait_for(
        lambda: all(d["history"] for d in map(running.agent.board.deployment, running.agent.board.names()))
    )
    sha = running.agent.board.source.commit

    status, listing = _json(running, "/api/v1/deployments")
    assert status == 200
    rows = {d["name"]: d for d in listing["deployments"]}
    assert set(rows) == {"billing-agent", "manifests", "research-assistant", "support-bot"}
    assert all(set(d) == SUMMARY_FIELDS for d in rows.values())

    # health is judged from the watch cache once it has listed (right after the first sync)
    wait_for(lambda: all(d["health"] != "Unknown" for d in running.agent.board.deployments()))
    status, detail = _json(running, "/api/v1/deployments/support-bot")
    assert status == 200 and set(detail) == SUMMARY_FIELDS | {"objects", "history", "last_diff"}
    assert (detail["namespace"], detail["revision"], detail["commit"]) == (ns, 1, sha)
    assert detail["author"] == "Alice Example <alice@example.com>"
    assert detail["message"].startswith("Import sample-repo")
    assert datetime.fromisoformat(detail["revision_time"]).tzinfo is not None
    assert detail["sync_state"] == "Synced" and detail["last_error"] == "" and detail["problems"] == []
    assert detail["health"] in {"Progressing", "Healthy"} and detail["health_message"]
    assert detail["last_sync_time"] and detail["last_attempt_time"] >= detail["last_sync_time"]
    assert {"object": f"Deployment/{ns}/support-bot", "action": "create"} in detail["objects"]
    [record] = detail["history"]
    assert (record["revision"], record["commit"]) == (1, sha)
    # Deployed once healthy (the api-mode cluster runs no pods: it stays Deploying)
    assert record["result"] in {"Deploying", "Deployed"} and detail["revision_state"] == record["result"]
    assert f"desired/Deployment/{ns}/support-bot" in detail["last_diff"]
    assert _json(running, "/api/v1/deployments/nope")[0] == 404
    _, overview = _json(running, "/api/v1/status")
    assert overview["source"]["commit"] == sha and overview["source"]["problems"] == []
    assert overview["leader"]["leading"] is True

    # The CLI reads the same model from the running agent.
    assert main(["status", "--agent-url", running.url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["DEPLOYMENT", "REVISION", "STATE", "HEALTH", "IMAGE", "MESSAGE"]
    line = next(row for row in out if row.startswith("support-bot "))
    assert line.split()[1] == "1" and line.split()[2] in {"Deploying", "Deployed"}
    assert "ghcr.io/example/support-bot:1.4.2" in line
    assert main(["status", "--agent-url", running.url, "--format", "json"]) == 0
    assert {d["name"] for d in json.loads(capsys.readouterr().out)} == set(rows)
    assert main(["status", "--agent-url", "http://127.0.0.1:9"]) != 0
    assert "cannot read the agent's status" in capsys.readouterr().err


def test_a_restarted_agent_knows_the_health_of_deployments_it_did_not_roll_out(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    repo.sync()  # deployed before this agent starts: no new revision for it to monitor
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    wait_for(lambda: all(d["health"] != "Unknown" for d in running.agent.board.deployments()))
    health = running.agent.metrics.registry.get_sample_value
    assert (
        sum(
            health("gitops_agent_deployment_health", {"deployment": "support-bot", "health": h}) or 0
            for h in ("Healthy", "Progressing", "Degraded", "Missing")
        )
        == 1
    )


@pytest.mark.full  # it waits for the rollouts to settle: the api-mode cluster runs no pods
def test_both_status_views_agree_and_exit_1_on_an_invalid_file(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent, capsys: pytest.CaptureFixture[str]
) -> None:
    """Revision issue, story 8: with support-bot's file invalid, the cluster view said Deployed
    Healthy while the agent said Failed, and both exited 0."""
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    text = repo.read("deployments/support-bot.yaml").replace("type: production", "type: prod")
    repo.push({"deployments/support-bot.yaml": text}, "support-bot: a typo")
    running.agent.trigger_fetch()
    wait_for(lambda: (running.agent.board.deployment("support-bot") or {}).get("sync_state") == "Failed")
    wait_for(lambda: InventoryStore(repo.kube, ns).load_all()["support-bot"].error)
    wait_for(  # rollouts settled: both views are read a moment apart and must not straddle one
        lambda: all(
            inv.latest is None or inv.latest.result.value != "Deploying"
            for inv in InventoryStore(repo.kube, ns).load_all().values()
        ),
        timeout=60,
    )

    cluster_args = ["--kubeconfig", str(cluster.kubeconfig), "--state-namespace", ns, "--format", "json"]
    views = []
    for args in (cluster_args, ["--agent-url", running.url, "--format", "json"]):
        assert main(["status", *args, "--exit-code"]) == 1
        views.append({r["name"]: r for r in json.loads(capsys.readouterr().out)})
    cluster_view, agent_view = views
    assert (
        set(cluster_view)
        == set(agent_view)
        == {"billing-agent", "manifests", "research-assistant", "support-bot"}
    )
    for name in cluster_view:
        same = ("revision", "state", "image", "failing", "problem")
        assert {k: cluster_view[name][k] for k in same} == {k: agent_view[name][k] for k in same}, name
    broken = cluster_view["support-bot"]
    assert broken["failing"] and broken["problem"] and broken["revision"] == 1
    assert "deployments/support-bot.yaml:" in broken["message"] and "spec.type" in broken["message"]
    assert "deployments/support-bot.yaml:" in agent_view["support-bot"]["message"]
    # without --exit-code a problem is still shown, and the exit is 0
    assert main(["status", *cluster_args]) == 0
