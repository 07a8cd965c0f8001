"""A newcomer never breaks the incumbent (revision issue, story 7).

Before, a new file claiming an ingress path that a running deployment already served failed both
files, and the running one stopped syncing.
"""

from __future__ import annotations

from sync_repo import DeploymentsRepo

from gitops_agent.reconcile.sync import SyncState

NEWCOMER = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: newcomer
spec:
  image: ghcr.io/example/newcomer:1.0.0
  ingress:
    path: /research
"""


def test_the_live_deployment_keeps_its_route_and_only_the_newcomer_fails(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo = deployments_repo
    assert repo.sync().ok
    text = repo.read("deployments/research-assistant.yaml")
    repo.push({"deployments/newcomer.yaml": NEWCOMER}, "newcomer: takes /research")
    report = repo.sync()
    states = {u.unit: u for u in report.units}
    assert states["newcomer"].state is SyncState.FAILED
    error = states["newcomer"].error
    assert (
        "deployments/newcomer.yaml:8:11: spec.ingress.path: route agents.example.com/agents/research" in error
    )
    line = text.splitlines().index("    path: /research") + 1
    assert f"is also claimed by deployments/research-assistant.yaml:{line}:11" in error
    assert all(
        states[u].state is SyncState.SYNCED for u in ("research-assistant", "support-bot", "billing-agent")
    )
    # the incumbent still follows its file
    repo.push({"deployments/research-assistant.yaml": text.replace(":0.3.0", ":0.3.1")}, "research 0.3.1")
    again = {u.unit: u for u in repo.sync().units}
    assert again["research-assistant"].state is SyncState.SYNCED and again["research-assistant"].revision == 2
    assert again["newcomer"].state is SyncState.FAILED
    live = repo.kube.get("networking.k8s.io/v1", "Ingress", "research-assistant", repo.namespace)
    assert live is not None and repo.kube.get("apps/v1", "Deployment", "newcomer", repo.namespace) is None
