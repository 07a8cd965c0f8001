"""Which units a new commit changes (`reconcile.changes`), on real Git history: the running agent
syncs those, and asks for a full sync whenever one unit's files cannot tell the whole story."""

from __future__ import annotations

from pathlib import Path

import pytest
from sync_repo import DeploymentsRepo, make_deployments_repo

from gitops_agent.reconcile.changes import changed_units
from gitops_agent.source import Snapshot

NEW_BOT = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: new-bot
spec:
  image: ghcr.io/example/new-bot:1.0.0
  ingress:
    path: /new-bot
"""


@pytest.fixture
def repo(tmp_path: Path) -> DeploymentsRepo:
    return make_deployments_repo(tmp_path, "agents", kube=None)  # type: ignore[arg-type]  # no cluster here


def _after(repo: DeploymentsRepo, files: dict[str, str | None]) -> tuple[Snapshot, Snapshot]:
    before = repo.fetch()
    repo.push(files, "change")
    return before, repo.fetch()


def test_an_edited_deployment_file_is_its_unit_only(repo: DeploymentsRepo) -> None:
    edited = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":1.4.3")
    before, after = _after(repo, {"deployments/support-bot.yaml": edited})
    assert changed_units(before, after) == {"support-bot"}


def test_a_new_deployment_file_is_the_new_unit(repo: DeploymentsRepo) -> None:
    before, after = _after(repo, {"deployments/new-bot.yaml": NEW_BOT})
    assert changed_units(before, after) == {"new-bot"}


@pytest.mark.parametrize(
    "files",
    [
        {"gitops-agent.yaml": ""},  # every unit renders with the settings (edited below)
        {"deployments/support-bot.yaml": None},  # a removal: only a full sync tears down
        {"manifests/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"},
        {"README.md": "notes\n"},  # outside deployments/: not worth guessing
    ],
)
def test_anything_else_asks_for_a_full_sync(repo: DeploymentsRepo, files: dict[str, str | None]) -> None:
    if "gitops-agent.yaml" in files:
        files = {"gitops-agent.yaml": repo.read("gitops-agent.yaml") + "# touched\n"}
    before, after = _after(repo, files)
    assert changed_units(before, after) is None


def test_no_previous_commit_or_the_same_commit(repo: DeploymentsRepo) -> None:
    snapshot = repo.fetch()
    assert changed_units(None, snapshot) is None
    assert changed_units(snapshot, snapshot) == frozenset()
