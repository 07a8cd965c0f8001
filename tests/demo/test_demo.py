"""The main job: `gitops-agent demo` brings up a cluster + agent on sample-repo; a second run reuses it."""

from __future__ import annotations

import re
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
    assert "status page   http://127.0.0.1:" in first.stdout
    assert re.search(r"web UI        http://127\.0\.0\.1:\d+/sign-in  token [0-9a-f]{32}\n", first.stdout)
    # The hint rolls out a change: run it as printed (the clone is edited, committed and pushed).
    hint = next(line.split() for line in first.stdout.splitlines() if " set-image " in line)
    assert hint[1:4] == ["set-image", "research-assistant", "ghcr.io/example/research-assistant:0.3.1"]
    pushed = subprocess.run(
        [sys.executable, "-m", "gitops_agent", *hint[1:]], capture_output=True, text=True, check=False
    )
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "then watch its revision go to 2" in first.stdout

    second = _demo(state)  # reuses the cluster's data, the Git remote and the clone; syncs the push
    assert second.returncode == 0, second.stdout + second.stderr
    revisions = {
        line.split()[0]: line.split()[1] for line in second.stdout.splitlines() if line.endswith("Healthy")
    }
    # Only the hint's change made a revision: nothing else was re-created.
    assert revisions == {
        "billing-agent": "1",
        "manifests": "1",
        "research-assistant": "2",
        "support-bot": "1",
    }
    # ... and the hint of the second run makes a change again (it used to repeat 0.3.0 → 0.4.0).
    assert "set-image research-assistant ghcr.io/example/research-assistant:0.3.2" in second.stdout
    assert "then watch its revision go to 3" in second.stdout
