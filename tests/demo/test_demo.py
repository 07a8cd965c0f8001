"""The main job: `gitops-agent demo` brings up a cluster + agent on sample-repo; a second run reuses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _demo(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gitops_agent",
            "demo",
            "--once",
            "--dir",
            str(state),
            "--port",
            "0",
            "--timeout",
            "150",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def test_the_demo_runs_twice_on_the_same_state(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    first = _demo(state)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = [line.split() for line in first.stdout.splitlines() if line.endswith(("Healthy", "Progressing"))]
    assert sorted(r[0] for r in rows) == ["billing-agent", "manifests", "research-assistant", "support-bot"]
    assert all(r[1] == "1" and r[3] == "Synced" and r[4] == "Healthy" for r in rows), first.stdout
    assert "status page   http://127.0.0.1:" in first.stdout and "git commit -am" in first.stdout
    clone_head = (state / "deployments-repo" / ".git" / "HEAD").read_text()

    second = _demo(state)  # reuses the cluster's data, the Git remote and the clone
    assert second.returncode == 0, second.stdout + second.stderr
    assert (
        "Healthy" in second.stdout
        and (state / "deployments-repo" / ".git" / "HEAD").read_text() == clone_head
    )
    revisions = {
        line.split()[0]: line.split()[1] for line in second.stdout.splitlines() if line.endswith("Healthy")
    }
    assert set(revisions.values()) == {"1"}  # same commit, same revisions: nothing was re-created
