"""Commit credit from Git: a revision records the commit that changed its deployment (revision issue).

Before, a revision was recorded at whichever commit the sync happened to see: two commits in one
poll credited support-bot's change to the commit about billing-agent.
"""

from __future__ import annotations

from sync_repo import DeploymentsRepo

from gitops_agent.state.inventory import InventoryStore


def _latest(repo: DeploymentsRepo, unit: str) -> tuple[int, str, str]:
    latest = InventoryStore(repo.kube, repo.namespace).load_all()[unit].latest
    assert latest is not None
    return latest.revision, latest.commit, latest.message


def test_two_commits_in_one_poll_are_credited_to_the_deployment_each_changed(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo = deployments_repo
    assert repo.sync().ok
    imported = repo.upstream.head()
    support = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":1.4.3")
    commit_a = repo.push({"deployments/support-bot.yaml": support}, "support-bot 1.4.3")
    billing = repo.read("deployments/billing-agent.yaml")
    assert "@sha256:9b2f" in billing
    commit_b = repo.push(
        {"deployments/billing-agent.yaml": billing.replace("@sha256:9b2f", "@sha256:0b2f")},
        "billing-agent: rebuild",
    )
    report = repo.sync()  # one sync sees both commits
    assert report.ok and report.snapshot.commit == commit_b
    assert _latest(repo, "support-bot") == (2, commit_a, "support-bot 1.4.3\n")
    assert _latest(repo, "billing-agent") == (2, commit_b, "billing-agent: rebuild\n")
    assert _latest(repo, "research-assistant")[:2] == (1, imported)


def test_a_settings_change_is_credited_to_every_deployment_it_changes(
    deployments_repo: DeploymentsRepo,
) -> None:
    repo = deployments_repo
    assert repo.sync().ok
    settings = repo.read("gitops-agent.yaml").replace("langsmith.example.com", "smith.example.com")
    commit = repo.push({"gitops-agent.yaml": settings}, "move LangSmith")  # every agent's LANGSMITH_ENDPOINT
    repo.push({"README.md": "notes\n"}, "docs")  # newer, but changes no deployment
    assert repo.sync().ok
    for unit in ("billing-agent", "research-assistant", "support-bot"):
        assert _latest(repo, unit)[:2] == (2, commit)
    assert _latest(repo, "manifests")[0] == 1  # plain manifests get no LangSmith variables
