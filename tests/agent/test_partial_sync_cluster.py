"""A push that edits one deployment syncs that deployment only; one that touches the settings, all.

The running agent on the real cluster and a real Git remote; what was synced is read from its own
`gitops_agent_sync_operations_total{deployment}` counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent_harness import RunningAgent, wait_for
from sync_repo import DeploymentsRepo

UNITS = ("billing-agent", "manifests", "research-assistant", "support-bot")


def _syncs(running: RunningAgent) -> dict[str, float]:
    counts = dict.fromkeys(UNITS, 0.0)
    for family in running.agent.metrics.registry.collect():
        if family.name == "gitops_agent_sync_operations":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["deployment"]] += sample.value
    return counts


def _settled(running: RunningAgent) -> dict[str, float]:
    """The counts once nothing has been synced for 3 s (the start-up syncs and their echoes are over)."""
    last, since = _syncs(running), time.monotonic()
    while time.monotonic() - since < 3:
        time.sleep(0.2)
        now = _syncs(running)
        if now != last:
            last, since = now, time.monotonic()
    return last


def test_one_changed_file_syncs_its_deployment_and_the_settings_sync_everything(
    deployments_repo: DeploymentsRepo, start_agent: Callable[..., RunningAgent]
) -> None:
    repo = deployments_repo
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced, timeout=60)
    before = _settled(running)

    edited = repo.read("deployments/research-assistant.yaml").replace("LOG_LEVEL: debug", "LOG_LEVEL: info")
    repo.push({"deployments/research-assistant.yaml": edited}, "research-assistant: info logs")
    running.agent.trigger_fetch()
    wait_for(lambda: _syncs(running)["research-assistant"] > before["research-assistant"])
    after_one = _settled(running)
    assert {u for u in UNITS if after_one[u] != before[u]} == {"research-assistant"}

    settings = repo.read("gitops-agent.yaml") + "# a comment is a change of the settings file\n"
    repo.push({"gitops-agent.yaml": settings}, "settings: a comment")
    running.agent.trigger_fetch()
    wait_for(lambda: all(_syncs(running)[u] > after_one[u] for u in UNITS))
