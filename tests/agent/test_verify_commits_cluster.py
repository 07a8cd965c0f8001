"""`--verify-commits` on a running agent (issue 17's acceptance): a verified commit syncs; an
unsigned one pushed after it is refused — live state unchanged, the reason on the status API, a
metric, an Event — and a commit signed by `gitops-agent set-image --sign` syncs again. Real ssh-keygen
keys, `gpg.format=ssh` signatures, a real bare remote and apiserver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_harness import RunningAgent, wait_for
from gitrepo import allowed_signers, ssh_key
from sync_repo import DeploymentsRepo

from gitops_agent.cli import main
from gitops_agent.source import CommitVerifier


def _image(repo: DeploymentsRepo) -> str:
    live = repo.kube.get("apps/v1", "Deployment", "support-bot", repo.namespace) or {}
    containers = live.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    return str(containers[0].get("image", ""))


def _status(running: RunningAgent) -> dict[str, Any]:
    code, body = running.get("/api/v1/status")
    assert code == 200
    status: dict[str, Any] = json.loads(body)
    return status


def test_only_verified_commits_sync(  # type: ignore[no-untyped-def]
    deployments_repo: DeploymentsRepo, start_agent, tmp_path: Path
) -> None:
    repo = deployments_repo
    key = ssh_key(tmp_path, "release")
    signers = allowed_signers(tmp_path, key)
    signed = repo.upstream.commit({"README.md": "signed from here on\n"}, "Signed", sign_key=key)
    repo.upstream.push("main")
    verifier = CommitVerifier(allowed_signers=signers)
    running = start_agent(str(repo.upstream.bare), repo.namespace, verifier=verifier)
    wait_for(lambda: _status(running)["source"]["commit"] == signed, timeout=60)
    wait_for(lambda: _image(repo).endswith("support-bot:1.4.2"), timeout=60)

    text = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":6.6.6")
    unsigned = repo.push({"deployments/support-bot.yaml": text}, "Unsigned change")
    running.agent.trigger_fetch()
    error = wait_for(lambda: _status(running)["source"]["error"], timeout=30)
    assert f"commit {unsigned[:12]} is not signed; only signed commits are synced" in error
    assert _status(running)["source"]["commit"] == signed  # still what runs
    metrics = running.agent.metrics.registry
    assert metrics.get_sample_value("gitops_agent_source_commit_refused") == 1

    def refused() -> list[dict[str, Any]]:  # posted by the Events sink, after the board shows the error
        events = repo.kube.list("v1", "Event", namespace=repo.namespace).items
        return [e for e in events if e.get("reason") == "CommitRefused"]

    [event] = wait_for(refused, timeout=30)
    assert unsigned[:12] in event["message"] and event["type"] == "Warning"
    assert _image(repo).endswith("support-bot:1.4.2")  # live state unchanged

    argv = ["set-image", "support-bot", "ghcr.io/example/support-bot:1.5.0",
            "--repo", str(repo.upstream.bare), "--sign", str(key),
            "--author", "Release Bot <release@example.com>"]  # fmt: skip
    assert main(argv) == 0
    running.agent.trigger_fetch()
    wait_for(lambda: _image(repo).endswith("support-bot:1.5.0"), timeout=60)
    assert _status(running)["source"]["error"] == ""
    assert metrics.get_sample_value("gitops_agent_source_commit_refused") == 0
