"""`wait`: block until a revision of a deployment is Deployed, or say why it never will be.

A CI job that pushed a commit (`gitops-agent set-image`) wants to know whether *that* change made it
to production, not just whether the cluster is healthy. The agent records every revision in the
state namespace (see `state.revisions`) with the commit that introduced it and its state; it marks a
revision Deployed only once its rollout is healthy. So this module polls that record for the asked
revision (by number, by commit, or the newest) and, while it is Deploying, the live health of the
deployment's objects to show progress (`health.check_unit`).

The verdict is a pure function (`assess`) of the record (and the health), so each rule is tested
without a cluster: Deployed (or Deployed and since Superseded) is success; DeployFailed, RolledBack
or Skipped is failure with the agent's reason; Queued and Deploying keep waiting until the timeout,
whose message says what was still missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from gitops_agent.core.errors import ClusterError
from gitops_agent.engine.health import UnitHealth, check_unit
from gitops_agent.kube.client import KubeClient
from gitops_agent.state.inventory import (
    Inventory,
    InventoryStore,
    RevisionRecord,
    RevisionState,
)


class Phase(StrEnum):
    WAITING = "Waiting"
    READY = "Ready"
    FAILED = "Failed"


@dataclass(frozen=True)
class Wanted:
    """Which revision to wait for: a number, one that contains a commit, or (neither) the newest."""

    deployment: str
    revision: int | None = None
    commit: str | None = None
    contains: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    """With the repository at hand: whether a revision's commit includes `commit` (descends from it).
    Without it, only the revision recorded at `commit` itself matches."""

    def describe(self) -> str:
        if self.revision is not None:
            return f"revision {self.revision} of {self.deployment}"
        if self.commit and self.contains is not None:
            return f"a revision of {self.deployment} that contains commit {self.commit[:12]}"
        if self.commit:
            return f"the revision of {self.deployment} at commit {self.commit[:12]}"
        return f"the newest revision of {self.deployment}"

    def matches(self, record: RevisionRecord) -> bool:
        if self.revision is not None:
            return record.revision == self.revision
        commit = (self.commit or "").lower()
        if len(commit) >= 4 and record.commit.lower().startswith(commit):
            return True
        return self.contains is not None and self.contains(record.commit)


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
    """The asked record: newest when nothing is asked; for a commit, a Deployed (or since Superseded)
    revision that contains it, else the newest that does; else the newest one matching."""
    if wanted.revision is None and not wanted.commit:
        return inventory.latest
    matching = [r for r in inventory.history if wanted.matches(r)]
    if wanted.commit:
        ran = (RevisionState.DEPLOYED, RevisionState.SUPERSEDED)
        return next((r for r in matching if r.result in ran), matching[0] if matching else None)
    return matching[0] if matching else None


def needs_health(inventory: Inventory | None, wanted: Wanted) -> bool:
    """Health is worth a look (to show progress) while the asked revision is Deploying."""
    record = find_record(inventory, wanted) if inventory is not None else None
    return record is not None and record.result is RevisionState.DEPLOYING


def assess(inventory: Inventory | None, wanted: Wanted, health: UnitHealth | None) -> Observation:
    """The verdict on `wanted` from the recorded history (and, while Deploying, its health)."""
    latest = inventory.latest if inventory else None
    if inventory is None or latest is None:
        return Observation(Phase.WAITING, f"{wanted.describe()}: no revision recorded yet")
    record = find_record(inventory, wanted)
    if record is None:
        return _not_recorded(wanted, latest)
    name = f"revision {record.revision} of {wanted.deployment}"
    return _verdict(name, record, latest, health)


_VERDICTS: dict[RevisionState, tuple[Phase, str]] = {
    RevisionState.DEPLOYED: (Phase.READY, "{name} is Deployed (healthy)"),
    RevisionState.SUPERSEDED: (Phase.READY, "{name} was Deployed; revision {latest} has superseded it since"),
    RevisionState.DEPLOY_FAILED: (Phase.FAILED, "{name} is DeployFailed: {reason}"),
    RevisionState.ROLLED_BACK: (Phase.FAILED, "{name} was RolledBack: {reason}"),
    RevisionState.SKIPPED: (Phase.FAILED, "{name} was Skipped: {reason}"),
    RevisionState.QUEUED: (Phase.WAITING, "{name} is Queued: {reason}"),
}
"""The verdict for each state but Deploying (which waits, showing the rollout's health)."""


def _verdict(
    name: str, record: RevisionRecord, latest: RevisionRecord, health: UnitHealth | None
) -> Observation:
    """What the agent recorded: Deployed is ready; a final failure is failed; the rest waits."""
    if record.result in _VERDICTS:
        phase, template = _VERDICTS[record.result]
        text = template.format(
            name=name, latest=latest.revision, reason=record.reason or "no reason recorded"
        )
        return Observation(phase, text, record)
    if health is None:
        return Observation(Phase.WAITING, f"{name} is Deploying", record)
    text = f"{name} is Deploying: {health.health.value}: {_detail(health)}"
    return Observation(Phase.WAITING, text, record, health)


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


def _detail(health: UnitHealth) -> str:
    culprit = health.culprit
    return f"{culprit.key}: {culprit.message}" if culprit else health.summary


def observe(kube: KubeClient, state_namespace: str, wanted: Wanted, instance: str = "") -> Observation:
    """One poll: read the deployment's inventory, check health when it matters, assess."""
    inventory = InventoryStore(kube, state_namespace, instance).load(wanted.deployment)
    health = None
    if inventory is not None and needs_health(inventory, wanted):
        health = check_unit(kube, wanted.deployment, sorted(inventory.keys))
    return assess(inventory, wanted, health)


def wait_for_revision(
    kube: KubeClient,
    *,
    state_namespace: str,
    wanted: Wanted,
    instance: str = "",
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
            seen = observe(kube, state_namespace, wanted, instance)
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
