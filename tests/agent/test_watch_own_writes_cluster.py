"""The watch cache tells the agent's own writes from drift (`WatchCache.expect`), on a real apiserver.

Before, the first list of every stream queued every deployment for a check (1,000 syncs right after
the first convergence of 1,000 deployments), and each push's own write came back as drift and
re-synced its deployment a second time. An object is drift when it no longer holds every field the
sync made it to be (what a re-sync would find changed).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from agent_harness import wait_for
from sync_repo import DeploymentsRepo

from gitops_agent.agent.watchcache import WatchCache
from gitops_agent.core.labels import LABEL_DEPLOYMENT, LABEL_MANAGED_BY, MANAGED_BY
from gitops_agent.core.objects import ObjectKey
from gitops_agent.kube.client import KubeClient
from gitops_agent.localcluster import LocalCluster


class Drift:
    def __init__(self) -> None:
        self.units: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, unit: str) -> None:
        with self.lock:
            self.units.append(unit)

    def seen(self) -> list[str]:
        with self.lock:
            return sorted(set(self.units))


def _manifest(namespace: str, name: str, value: str) -> dict[str, Any]:
    """An owned ConfigMap of unit `name`."""
    labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_DEPLOYMENT: name}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"value": value},
    }


def _apply(kube: KubeClient, namespace: str, name: str, value: str) -> dict[str, Any]:
    return kube.apply(_manifest(namespace, name, value), force=True)


def test_only_what_changed_since_the_agent_left_it_is_drift(kube: KubeClient, namespace: str) -> None:
    drift = Drift()
    watch = WatchCache(kube, on_drift=drift, retry_seconds=0.1)
    for name in ("as-left", "changed-since", "unknown"):
        desired = _manifest(namespace, name, "1")
        if name != "unknown":
            watch.expect(ObjectKey.of(desired), desired)  # as the sync does, before it writes
        kube.apply(desired, force=True)
    _apply(kube, namespace, "changed-since", "2")  # someone else, before the stream started
    try:
        watch.ensure([namespace])
        assert watch.wait_synced(15)
        # the first list: the object as the sync made it is not drift, the one changed since is; the
        # one no sync described is left to the first full sync (which starts with the streams)
        assert drift.seen() == ["changed-since"]
        drift.units.clear()

        # the agent's own write: no drift
        desired = _manifest(namespace, "as-left", "own write")
        watch.expect(ObjectKey.of(desired), desired)
        kube.apply(desired, force=True)
        # someone else's write to another object: drift
        _apply(kube, namespace, "unknown", "someone else")
        wait_for(lambda: "unknown" in drift.seen(), timeout=15)
        time.sleep(0.5)  # the own write's event has certainly arrived by now
        assert drift.seen() == ["unknown"]
        # a later outside change to the object the agent wrote is drift again
        _apply(kube, namespace, "as-left", "edited by hand")
        wait_for(lambda: "as-left" in drift.seen(), timeout=15)
    finally:
        watch.stop()


def _syncs(running: Any, unit: str) -> float:
    registry = running.agent.metrics.registry
    return float(
        registry.get_sample_value(
            "gitops_agent_sync_operations_total", {"deployment": unit, "result": "success"}
        )
        or 0
    )


def test_a_first_convergence_and_a_push_each_sync_a_deployment_once(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, deployments_repo: DeploymentsRepo, start_agent
) -> None:
    """The watches start before the first sync and hear its writes as what the sync made: before,
    their first lists re-queued every deployment once more, and each push's own write came back as
    drift and synced its deployment a second time."""
    repo = deployments_repo
    running = start_agent(str(repo.upstream.bare), repo.namespace)
    wait_for(running.all_synced)
    assert running.agent.watch.wait_synced(15)
    time.sleep(2)  # what the watches would queue has been queued and synced by now
    units = ("billing-agent", "research-assistant", "support-bot", "manifests")
    assert {unit: _syncs(running, unit) for unit in units} == dict.fromkeys(units, 1.0)

    text = repo.read("deployments/support-bot.yaml").replace(":1.4.2", ":1.4.3")
    repo.push({"deployments/support-bot.yaml": text}, "support-bot 1.4.3")
    running.agent.trigger_fetch()
    wait_for(lambda: _syncs(running, "support-bot") >= 2, timeout=30)
    time.sleep(2)
    assert {unit: _syncs(running, unit) for unit in units} == {
        **dict.fromkeys(units, 1.0),
        "support-bot": 2.0,
    }

    # a change by hand is drift, still: put back by one more sync
    cluster.kubectl("-n", repo.namespace, "scale", "deployment/billing-agent", "--replicas=7")
    wait_for(lambda: _syncs(running, "billing-agent") >= 2, timeout=30)
