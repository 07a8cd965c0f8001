"""Summaries count units correctly and never read as success when the exit code says failure."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.cli.common import plural
from gitops_agent.localcluster import LocalCluster


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


SETTINGS_ONLY = "apiVersion: gitops-agent.dev/v1\nkind: Settings\nnamespace: agents\n"


def test_validate_with_only_repository_problems_says_so(tmp_path: Path) -> None:
    """It printed "invalid: 0 of 0 units invalid, 1 problem": a sentence that reads like success."""
    (tmp_path / "gitops-agent.yaml").write_text(SETTINGS_ONLY)
    code, out, _ = run_cli("validate", str(tmp_path))
    assert code == 1
    summary = out.splitlines()[-1]
    assert summary == "invalid: 1 repository problem (settings, layout or conflicts between files); 0 units"
    assert "0 of 0" not in out


def test_sync_counts_units_and_a_failure_reads_as_one(
    deployments_repo: DeploymentsRepo, cluster: LocalCluster
) -> None:
    repo = deployments_repo
    args = ("--repo", str(repo.upstream.bare), "--kubeconfig", str(cluster.kubeconfig),
            "--state-namespace", repo.namespace)  # fmt: skip
    code, out, err = run_cli("sync", *args)
    assert code == 0, err
    summary = out.splitlines()[-1]
    assert summary.startswith(
        f"commit {repo.fetch().short_commit}: synced 4 units (3 deployments and manifests); "
    )
    text = repo.read("deployments/support-bot.yaml").replace("type: production", "type: prod")
    repo.push({"deployments/support-bot.yaml": text}, "a typo")
    code, out, err = run_cli("sync", *args)
    assert code == 1
    summary = out.splitlines()[-1]
    assert summary.startswith(f"commit {repo.fetch().short_commit}: FAILED: 1 of 4 units failed"), summary
    assert "synced" not in summary


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [(1, "unit", "1 unit"), (0, "unit", "0 units"), (2, "problem", "2 problems")],
)
def test_plural(count: int, word: str, expected: str) -> None:
    assert plural(count, word) == expected
