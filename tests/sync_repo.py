"""A deployments repository for tests: sample-repo/ on a bare Git remote, aimed at the test namespace."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gitrepo import Upstream, git

from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncOptions, SyncReport, sync
from gitops_agent.source import GitSource, Snapshot

SAMPLE_REPO = Path(__file__).resolve().parents[1] / "sample-repo"


@dataclass
class DeploymentsRepo:
    """sample-repo as a real Git remote, the agent's GitSource on it, and one-call sync helpers."""

    upstream: Upstream
    source: GitSource
    namespace: str
    kube: KubeClient

    def options(self, **overrides: object) -> SyncOptions:
        return SyncOptions(state_namespace=self.namespace, **overrides)  # type: ignore[arg-type]

    def fetch(self) -> Snapshot:
        return self.source.fetch()

    def sync(self, **overrides: object) -> SyncReport:
        return sync(self.kube, self.fetch(), self.options(**overrides))

    def read(self, name: str) -> str:
        return (self.upstream.work / name).read_text()

    def push(self, files: dict[str, str | None], message: str) -> str:
        sha = self.upstream.commit(files, message)
        self.upstream.push("main")
        return sha


def make_deployments_repo(tmp_path: Path, namespace: str, kube: KubeClient) -> DeploymentsRepo:
    """sample-repo with its target namespace replaced by the test's own namespace."""
    bare, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    shutil.copytree(SAMPLE_REPO, work)
    git("init", "-q", "-b", "main", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    settings = work / "gitops-agent.yaml"
    settings.write_text(settings.read_text().replace("namespace: agents\n", f"namespace: {namespace}\n"))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Import sample-repo", cwd=work)
    upstream = Upstream(bare=bare, work=work)
    upstream.push("main")
    source = GitSource(str(bare), ref="main", cache_dir=tmp_path / "cache")
    return DeploymentsRepo(upstream, source, namespace, kube)
