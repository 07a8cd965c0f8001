"""The revision lifecycle on the full cluster: Deploying until healthy, then Deployed or DeployFailed.

Before, a revision was marked Deployed as soon as its objects were applied (and the one before it
Superseded) while no new pod was ready.
"""

from __future__ import annotations

import pytest
from agent_harness import RunningAgent, wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.localcluster import LocalCluster
from gitops_agent.state.inventory import InventoryStore, RevisionState

UNIT = "research-assistant"


def _states(repo: DeploymentsRepo) -> dict[int, RevisionState]:
    inventory = InventoryStore(repo.kube, repo.namespace).load_all()[UNIT]
    return {r.revision: r.result for r in inventory.history}


def _shown(running: RunningAgent) -> tuple[int | None, str | None]:
    entry = running.agent.board.deployment(UNIT) or {}
    return entry.get("revision"), entry.get("revision_state")


@pytest.mark.full
def test_a_revision_is_deploying_until_healthy_and_fails_at_its_deadline(  # type: ignore[no-untyped-def]
    full_cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    repo = deployments_repo
    text = repo.read("deployments/research-assistant.yaml").replace(
        "  type: development\n", "  type: development\n  autoRollback: false\n  progressDeadlineSeconds: 10\n"
    )
    repo.push({"deployments/research-assistant.yaml": text}, "research-assistant: short deadline")
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(lambda: _shown(running) == (1, "Deployed"), timeout=90)
    assert _states(repo) == {1: RevisionState.DEPLOYED}

    broken = text.replace("ghcr.io/example/research-assistant:0.3.0", "ghcr.io/example/never-ready:0.4.0")
    repo.push({"deployments/research-assistant.yaml": broken}, "research-assistant: a broken build")
    running.agent.trigger_fetch()
    wait_for(lambda: _shown(running) == (2, "Deploying"), timeout=30)
    # applied but not healthy: not Deployed, and what runs (r1) is not Superseded
    assert _states(repo) == {1: RevisionState.DEPLOYED, 2: RevisionState.DEPLOYING}
    wait_for(lambda: _shown(running) == (2, "DeployFailed"), timeout=90)
    states = _states(repo)
    assert states == {1: RevisionState.DEPLOYED, 2: RevisionState.DEPLOY_FAILED}
    reason = InventoryStore(repo.kube, repo.namespace).load_all()[UNIT].latest.reason  # type: ignore[union-attr]
    assert reason.startswith("r2 not healthy: ")
    revision_state = running.agent.metrics.registry.get_sample_value
    labels = {"deployment": UNIT, "state": "DeployFailed"}
    assert revision_state("gitops_agent_deployment_revision_state", labels) == 1

    fixed = text.replace(":0.3.0", ":0.5.0")
    repo.push({"deployments/research-assistant.yaml": fixed}, "research-assistant: fixed")
    running.agent.trigger_fetch()
    wait_for(lambda: _shown(running) == (3, "Deployed"), timeout=90)
    assert _states(repo) == {
        1: RevisionState.SUPERSEDED,
        2: RevisionState.DEPLOY_FAILED,
        3: RevisionState.DEPLOYED,
    }
