"""A revision the cluster cannot take yet is Queued, then Skipped when a newer one is applied first."""

from __future__ import annotations

from sync_repo import DeploymentsRepo

from gitops_agent.state.inventory import InventoryStore, RevisionState

STAGING = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: staging-bot
  namespace: agents-staging
spec:
  image: ghcr.io/example/staging-bot:1.0.0
"""


def test_a_missing_namespace_queues_the_revision_and_a_newer_one_skips_it(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo = deployments_repo
    assert repo.sync().ok
    repo.push({"deployments/staging-bot.yaml": STAGING}, "staging-bot")  # its namespace does not exist
    report = repo.sync()
    failed = next(u for u in report.units if u.unit == "staging-bot")
    assert "namespace 'agents-staging' does not exist" in failed.error
    store = InventoryStore(repo.kube, repo.namespace)
    record = store.load_all()["staging-bot"].latest
    assert record is not None and record.result is RevisionState.QUEUED and "does not exist" in record.reason

    # the deployment moves to a namespace that exists: r2 is applied, the queued r1 was never
    moved = STAGING.replace("  namespace: agents-staging\n", "").replace(":1.0.0", ":1.0.1")
    repo.push({"deployments/staging-bot.yaml": moved}, "staging-bot: default namespace")
    assert repo.sync().ok
    history = {r.revision: r.result for r in store.load_all()["staging-bot"].history}
    assert history == {1: RevisionState.SKIPPED, 2: RevisionState.DEPLOYING}
