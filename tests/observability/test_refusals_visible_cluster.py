"""A refusal is never hidden: a refused prune or a broken repository shows everywhere, and the
deployments it leaves behind say OutOfSync and why (real agent, real Git remote, real apiserver)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from agent_harness import RunningAgent, wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.localcluster import LocalCluster
from gitops_agent.state.repository import RepositoryStatusStore

DEPLOYMENTS = ("billing-agent", "research-assistant", "support-bot")


def _json(running: RunningAgent, path: str) -> Any:
    status, body = running.get(path)
    assert status == 200, body
    return json.loads(body)


def _rows(running: RunningAgent) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _json(running, "/api/v1/deployments")["deployments"]}


def _events(kube: Any, namespace: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.list("v1", "Event", namespace=namespace).items if e.get("reason") == reason]


def _status_exit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["status", "--exit-code", "--no-health", *args])
    return code, capsys.readouterr().out


def test_a_refused_prune_shows_everywhere_and_its_deployments_are_out_of_sync(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent, cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    repo.push(
        {"deployments/support-bot.yaml": None, "deployments/research-assistant.yaml": None}, "Remove two"
    )
    running.agent.trigger_fetch()
    wait_for(lambda: bool(_json(running, "/api/v1/status")["source"]["prune_refused"]), timeout=30)

    refusal = _json(running, "/api/v1/status")["source"]["prune_refused"]
    assert "refusing to prune" in refusal
    rows = _rows(running)
    for name in ("support-bot", "research-assistant"):  # gone from Git, still live: not Synced
        assert rows[name]["sync_state"] == "OutOfSync", rows[name]
        assert rows[name]["note"] == f"not pruned: {refusal}"
    assert rows["billing-agent"]["sync_state"] == "Synced"
    assert "gitops_agent_prune_refused 1.0" in running.get("/metrics")[1].decode()
    page = running.get("/")[1].decode()
    assert "id='prune-refused'" in page and "refusing to prune" in page
    events = wait_for(lambda: _events(repo.kube, ns, "PruneRefused"), timeout=10)  # posted in the background
    assert events and events[0]["type"] == "Warning" and "refusing to prune" in events[0]["message"]
    assert events[0]["involvedObject"]["name"] == "gitops-agent-repository"

    code, out = _status_exit(["--agent-url", running.url], capsys)
    assert code == 1 and "prune refused: refusing to prune" in out
    recorded = RepositoryStatusStore(repo.kube, ns).load()
    assert recorded is not None and set(recorded.blocked) == {"research-assistant", "support-bot"}
    cluster_args = ["--kubeconfig", str(cluster.kubeconfig), "--state-namespace", ns]
    code, out = _status_exit(cluster_args, capsys)
    assert code == 1 and "prune refused" in out and "not pruned: refusing to prune" in out

    # Allowed after all (the guard lifted in Git): pruned, and every surface clears.
    settings = repo.read("gitops-agent.yaml").replace("maxShare: 0.5", "maxShare: 0.9")
    repo.push({"gitops-agent.yaml": settings}, "Allow this prune")
    running.agent.trigger_fetch()
    wait_for(lambda: not _json(running, "/api/v1/status")["source"]["prune_refused"], timeout=30)
    wait_for(lambda: set(_rows(running)) == {"billing-agent", "manifests"}, timeout=30)
    assert "gitops_agent_prune_refused 0.0" in running.get("/metrics")[1].decode()
    assert _status_exit(cluster_args, capsys)[0] == 0


def test_a_broken_settings_file_leaves_every_deployment_out_of_sync_with_the_reason(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    repo.push(
        {"gitops-agent.yaml": repo.read("gitops-agent.yaml").replace("namespace:", "namespaze:", 1)}, "oops"
    )
    running.agent.trigger_fetch()
    wait_for(lambda: bool(_json(running, "/api/v1/status")["source"]["problems"]), timeout=30)
    problems = _json(running, "/api/v1/status")["source"]["problems"]
    assert any(p.startswith("gitops-agent.yaml:") for p in problems), problems
    rows = _rows(running)
    for name in (*DEPLOYMENTS, "manifests"):
        assert rows[name]["sync_state"] == "OutOfSync", rows[name]
        assert rows[name]["note"].startswith("not synced: the repository has problems: gitops-agent.yaml:")
    assert wait_for(lambda: _events(repo.kube, ns, "RepositoryInvalid"), timeout=10)
    code, out = _status_exit(["--agent-url", running.url], capsys)
    assert code == 1 and "repository problem: gitops-agent.yaml:" in out


def test_failing_new_files_stay_listed_whatever_order_their_retries_finish_in(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    """Two new files that fail (an invalid type, a symlink out of the repository) retry on their own
    back-off; every sample of the list over several retries shows both (it used to show 1 of 2)."""
    repo, ns = deployments_repo, deployments_repo.namespace
    running = start_agent(str(repo.upstream.bare), ns)
    wait_for(running.all_synced)
    bad = repo.read("deployments/research-assistant.yaml").replace("research-assistant", "bad-one")
    worse = bad.replace("bad-one", "bad-two").replace("type: development", "type: prod")
    repo.push({"deployments/bad-one.yaml": bad.replace("type: development", "type: nope"),
               "deployments/bad-two.yaml": worse}, "Two broken files")  # fmt: skip
    running.agent.trigger_fetch()
    wait_for(lambda: {"bad-one", "bad-two"} <= set(_rows(running)), timeout=30)
    missing = []
    for _ in range(40):  # ~8 s: retries of each unit (back-off from 1 s) keep finishing in turn
        names = set(_rows(running))
        missing += [n for n in ("bad-one", "bad-two", *DEPLOYMENTS) if n not in names]
        time.sleep(0.2)
    assert missing == []
    rows = _rows(running)
    assert rows["bad-one"]["sync_state"] == rows["bad-two"]["sync_state"] == "Failed"


def test_a_standby_serves_the_leaders_view_marked_as_such(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo, ns = deployments_repo, deployments_repo.namespace
    common = {"leader_elect": True, "lease_duration": 6.0, "lease_name": f"lease-{ns}", "poll_interval": 1.0}
    leader = start_agent(str(repo.upstream.bare), ns, **common)
    wait_for(leader.agent.leading.is_set, timeout=30)
    wait_for(leader.all_synced)
    repo.push(
        {"deployments/support-bot.yaml": None, "deployments/research-assistant.yaml": None}, "Remove two"
    )
    leader.agent.trigger_fetch()
    wait_for(lambda: bool(leader.agent.board.source.prune_refused), timeout=30)
    standby = start_agent(str(repo.upstream.bare), ns, **common)
    wait_for(lambda: _json(standby, "/api/v1/deployments")["view"] == "standby", timeout=30)
    wait_for(lambda: set(_rows(standby)) == set(_rows(leader)), timeout=30)
    rows = _rows(standby)
    assert rows["support-bot"]["sync_state"] == "OutOfSync" and "not pruned" in rows["support-bot"]["note"]
    assert rows["billing-agent"]["revision"] == _rows(leader)["billing-agent"]["revision"]
    assert (
        _json(standby, "/api/v1/status")["source"]["prune_refused"] == leader.agent.board.source.prune_refused
    )
    assert "standby" in standby.get("/")[1].decode()
