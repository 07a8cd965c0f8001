"""`wait`: block until a revision of a deployment is rolled out and healthy, or say why it never will be.

A CI job that pushed a commit (`gitops-agent set-image`) wants to know whether *that* change made it
to production, not just whether the cluster is healthy. The agent records every revision in the
state namespace (see `inventory`) with the commit that introduced it and its result, so this module
polls that record for the asked revision (by number, by commit, or the newest) and then the live
health of the deployment's objects (`health.check_unit`).

The verdict is a pure function (`assess`) of the inventory and the health, so each rule is tested
without a cluster: Deployed and Healthy is success; Failed or RolledBack is failure with the agent's
reason; Deployed but Degraded is failure (the progress deadline passed: waiting cannot help); a newer
revision than the asked one means the asked one was Superseded, a success only if it had been
deployed; anything else (not recorded yet, being applied, pods not ready) keeps waiting until the
timeout, whose message says what was still missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gitops_agent.core.errors import ClusterError
from gitops_agent.engine.health import Health, UnitHealth, check_unit
from gitops_agent.kube.client import KubeClient
from gitops_agent.state.inventory import (
    Inventory,
    RevisionRecord,
    RevisionResult,
    configmap_name,
    parse_configmap,
)

_DONE = frozenset({RevisionResult.DEPLOYED, RevisionResult.SUPERSEDED})


class Phase(StrEnum):
    WAITING = "Waiting"
    READY = "Ready"
    FAILED = "Failed"


@dataclass(frozen=True)
class Wanted:
    """Which revision to wait for: a number, the one first seen at a commit, or (neither) the newest."""

    deployment: str
    revision: int | None = None
    commit: str | None = None

    def describe(self) -> str:
        if self.revision is not None:
            return f"revision {self.revision} of {self.deployment}"
        if self.commit:
            return f"the revision of {self.deployment} at commit {self.commit[:12]}"
        return f"the newest revision of {self.deployment}"

    def matches(self, record: RevisionRecord) -> bool:
        if self.revision is not None:
            return record.revision == self.revision
        commit = (self.commit or "").lower()
        return len(commit) >= 4 and record.commit.lower().startswith(commit)


@dataclass(frozen=True)
class Observation:
    """One look at the deployment: where the wait stands and why."""

    phase: Phase
    message: str
    record: RevisionRecord | None = None
    health: UnitHealth | None = None

    def progress(self) -> str:
        """The progress line: revision, result, health summary (printed when it changes)."""
        if self.record is None:
            return self.message
        parts = [f"revision {self.record.revision}", self.record.result.value]
        if self.health is not None:
            parts.append(f"{self.health.health.value}: {_detail(self.health)}")
        return "  ".join(parts)


def find_record(inventory: Inventory, wanted: Wanted) -> RevisionRecord | None:
    """The asked record: newest when nothing is asked, else the newest one matching."""
    if wanted.revision is None and not wanted.commit:
        return inventory.latest
    return next((r for r in inventory.history if wanted.matches(r)), None)


def needs_health(inventory: Inventory | None, wanted: Wanted) -> bool:
    """Health is only worth a check for the newest revision once the agent marked it Deployed."""
    if inventory is None:
        return False
    record = find_record(inventory, wanted)
    latest = inventory.latest
    return (
        record is not None
        and latest is not None
        and record.revision == latest.revision
        and record.result is RevisionResult.DEPLOYED
    )


def assess(inventory: Inventory | None, wanted: Wanted, health: UnitHealth | None) -> Observation:
    """The verdict on `wanted` from the recorded history and (for a Deployed newest one) its health."""
    latest = inventory.latest if inventory else None
    if inventory is None or latest is None:
        return Observation(Phase.WAITING, f"{wanted.describe()}: no revision recorded yet")
    record = find_record(inventory, wanted)
    if record is None:
        return _not_recorded(wanted, latest)
    name = f"revision {record.revision} of {wanted.deployment}"
    settled = _settled(name, record, latest)
    if settled is not None:
        return settled
    return _judge_health(name, record, health)


def _settled(name: str, record: RevisionRecord, latest: RevisionRecord) -> Observation | None:
    """The agent's final word on the record (Failed, RolledBack, Superseded), if it has spoken."""
    if record.result is RevisionResult.FAILED:
        return Observation(Phase.FAILED, f"{name} failed: {record.reason or 'no reason recorded'}", record)
    if record.result is RevisionResult.ROLLED_BACK:
        return Observation(Phase.FAILED, f"{name} was rolled back: {record.reason or 'unhealthy'}", record)
    if record.revision < latest.revision or record.result is RevisionResult.SUPERSEDED:
        if record.result in _DONE:
            text = f"{name} was deployed; revision {latest.revision} has superseded it since"
            return Observation(Phase.READY, text, record)
        text = f"{name} was superseded by revision {latest.revision} before it was deployed"
        return Observation(Phase.FAILED, text, record)
    return None


def _not_recorded(wanted: Wanted, latest: RevisionRecord) -> Observation:
    if wanted.revision is not None and wanted.revision < latest.revision:
        text = f"{wanted.describe()} is no longer in the history (newest is revision {latest.revision})"
        return Observation(Phase.FAILED, text)
    text = (
        f"{wanted.describe()} is not recorded yet (newest: revision {latest.revision}, "
        f"{latest.result.value}, commit {latest.commit[:12]}); the agent has not synced it, or the "
        "commit does not change this deployment"
    )
    return Observation(Phase.WAITING, text)


def _judge_health(name: str, record: RevisionRecord, health: UnitHealth | None) -> Observation:
    if health is None:
        return Observation(Phase.WAITING, f"{name} is Deployed; health not checked yet", record)
    if health.health is Health.HEALTHY:
        return Observation(Phase.READY, f"{name} is Deployed and Healthy ({health.summary})", record, health)
    phase = Phase.FAILED if health.health is Health.DEGRADED else Phase.WAITING
    text = f"{name} is Deployed but {health.health.value}: {_detail(health)}"
    return Observation(phase, text, record, health)


def _detail(health: UnitHealth) -> str:
    culprit = health.culprit
    return f"{culprit.key}: {culprit.message}" if culprit else health.summary


def observe(kube: KubeClient, state_namespace: str, wanted: Wanted) -> Observation:
    """One poll: read the deployment's inventory, check health when it matters, assess."""
    live = kube.get("v1", "ConfigMap", configmap_name(wanted.deployment), state_namespace)
    inventory = parse_configmap(live) if live is not None else None
    health = None
    if inventory is not None and needs_health(inventory, wanted):
        health = check_unit(kube, wanted.deployment, sorted(inventory.keys))
    return assess(inventory, wanted, health)


def wait_for_revision(
    kube: KubeClient,
    *,
    state_namespace: str,
    wanted: Wanted,
    timeout_seconds: float,
    poll_seconds: float = 2.0,
    on_change: Callable[[Observation], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Observation:
    """Poll until Ready or Failed; at the timeout, Failed with what was still missing.

    Retryable API errors (an apiserver restart) count as "still waiting"; others propagate.
    """
    deadline = clock() + timeout_seconds
    shown = ""
    while True:
        try:
            seen = observe(kube, state_namespace, wanted)
        except ClusterError as err:
            if not err.retryable:
                raise
            seen = Observation(Phase.WAITING, f"cluster not reachable, retrying: {err}")
        if seen.progress() != shown and on_change is not None:
            on_change(seen)
        shown = seen.progress()
        if seen.phase is not Phase.WAITING:
            return seen
        remaining = deadline - clock()
        if remaining <= 0:
            text = f"timed out after {timeout_seconds:g}s: {seen.message}"
            return Observation(Phase.FAILED, text, seen.record, seen.health)
        sleep(min(poll_seconds, remaining))
