"""The verdicts of `wait`, rule by rule, without a cluster (the live loop is in test_wait_cluster.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_agent.controlplane.wait import Phase, Wanted, assess, needs_health, wait_for_revision
from gitops_agent.core.errors import ClusterError
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, ObjectHealth, UnitHealth
from gitops_agent.state.inventory import Inventory, RevisionRecord, RevisionState, to_configmap

R = RevisionState
KEY = ObjectKey("apps/v1", "Deployment", "agents", "support-bot")


def _inventory(*records: tuple[int, str, RevisionState, str]) -> Inventory:
    history = tuple(
        RevisionRecord(revision=n, commit=commit * 40, spec_hash=f"h{n}", result=result, reason=reason)
        for n, commit, result, reason in sorted(records, reverse=True)
    )
    return Inventory("support-bot", history=history)


def _health(health: Health, message: str = "2/2 replicas ready") -> UnitHealth:
    return UnitHealth("support-bot", health, (ObjectHealth(KEY, health, message),))


DEPLOYED_2 = _inventory((1, "a", R.SUPERSEDED, ""), (2, "b", R.DEPLOYED, ""))
DEPLOYING_2 = _inventory((1, "a", R.DEPLOYED, ""), (2, "b", R.DEPLOYING, ""))
CASES: dict[str, tuple[Inventory | None, Wanted, UnitHealth | None, Phase, str]] = {
    "nothing-yet": (None, Wanted("support-bot"), None, Phase.WAITING, "no revision recorded yet"),
    "deployed-latest": (
        DEPLOYED_2, Wanted("support-bot"), None, Phase.READY,
        "revision 2 of support-bot is Deployed (healthy)",
    ),
    "by-commit-prefix": (
        DEPLOYED_2, Wanted("support-bot", commit="bbbbbbb"), None, Phase.READY, "revision 2",
    ),
    "deploying-pods-not-ready": (
        DEPLOYING_2, Wanted("support-bot", revision=2), _health(Health.PROGRESSING, "1/2 replicas ready"),
        Phase.WAITING, "is Deploying: Progressing: Deployment/agents/support-bot: 1/2 replicas ready",
    ),
    # healthy pods are not enough: the agent says when a revision is Deployed
    "deploying-healthy": (
        DEPLOYING_2, Wanted("support-bot"), _health(Health.HEALTHY), Phase.WAITING, "is Deploying: Healthy",
    ),
    "deploying-unchecked": (DEPLOYING_2, Wanted("support-bot"), None, Phase.WAITING, "is Deploying"),
    "queued": (
        _inventory((1, "a", R.DEPLOYED, ""), (2, "b", R.QUEUED, "namespace 'x' does not exist")),
        Wanted("support-bot"), None, Phase.WAITING, "is Queued: namespace 'x' does not exist",
    ),
    "commit-not-synced": (
        DEPLOYED_2, Wanted("support-bot", commit="c" * 40), None, Phase.WAITING,
        "not recorded yet (newest: revision 2, Deployed, commit bbbbbbbbbbbb)",
    ),
    "revision-not-yet": (DEPLOYED_2, Wanted("support-bot", revision=3), None, Phase.WAITING, "not recorded"),
    "deploy-failed": (
        _inventory(
            (1, "a", R.DEPLOYED, ""), (2, "b", R.DEPLOY_FAILED, "Deployment/agents/x apply failed: denied"),
        ),
        Wanted("support-bot", commit="b" * 12), None, Phase.FAILED,
        "revision 2 of support-bot is DeployFailed: Deployment/agents/x apply failed: denied",
    ),
    "rolled-back": (
        _inventory((1, "a", R.DEPLOYED, ""), (2, "b", R.ROLLED_BACK, "Degraded: deadline exceeded")),
        Wanted("support-bot", revision=2), None, Phase.FAILED, "was RolledBack: Degraded: deadline exceeded",
    ),
    "skipped": (
        _inventory(
            (1, "a", R.DEPLOYED, ""), (2, "b", R.SKIPPED, "replaced by r3"), (3, "c", R.DEPLOYING, ""),
        ),
        Wanted("support-bot", revision=2), None, Phase.FAILED, "was Skipped: replaced by r3",
    ),
    "superseded-after-deploy": (
        DEPLOYED_2, Wanted("support-bot", revision=1), None, Phase.READY,
        "revision 1 of support-bot was Deployed; revision 2 has superseded it since",
    ),
    "deployed-while-newer-deploys": (
        DEPLOYING_2, Wanted("support-bot", revision=1), None, Phase.READY, "is Deployed",
    ),
    "dropped-from-history": (
        DEPLOYED_2, Wanted("support-bot", revision=0), None, Phase.FAILED, "no longer in the history",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_assess(case: str) -> None:
    inventory, wanted, health, phase, text = CASES[case]
    seen = assess(inventory, wanted, health)
    assert seen.phase is phase, seen
    assert text in seen.message


def test_health_is_only_checked_while_the_asked_revision_is_deploying() -> None:
    assert needs_health(DEPLOYING_2, Wanted("support-bot"))
    assert needs_health(DEPLOYING_2, Wanted("support-bot", commit="bbbb"))
    assert not needs_health(DEPLOYING_2, Wanted("support-bot", revision=1))
    assert not needs_health(DEPLOYED_2, Wanted("support-bot"))
    assert not needs_health(None, Wanted("support-bot"))


class FakeKube:
    """Serves the deployment's inventory ConfigMap from a script, one entry per poll."""

    def __init__(self, script: list[Inventory | ClusterError | None]) -> None:
        self.script = script
        self.polls = 0

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        assert (kind, name, namespace) == ("ConfigMap", "gitops-agent.support-bot", "state")
        step = self.script[min(self.polls, len(self.script) - 1)]
        self.polls += 1
        if isinstance(step, ClusterError):
            raise step
        return None if step is None else to_configmap(step, "state")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(kube: FakeKube, wanted: Wanted, timeout: float = 10) -> tuple[Any, list[str]]:
    clock, lines = FakeClock(), []
    seen = wait_for_revision(
        kube,  # type: ignore[arg-type]
        state_namespace="state",
        wanted=wanted,
        timeout_seconds=timeout,
        poll_seconds=1,
        on_change=lambda o: lines.append(o.progress()),
        clock=clock,
        sleep=clock.sleep,
    )
    return seen, lines


def test_waits_for_the_commit_to_appear_then_reports_the_failure_once_per_change() -> None:
    old = _inventory((1, "a", R.DEPLOYED, ""))
    failed = _inventory((1, "a", R.DEPLOYED, ""), (2, "b", R.DEPLOY_FAILED, "apply failed: boom"))
    blip = ClusterError("apiserver unreachable", retryable=True)
    kube = FakeKube([None, old, old, blip, old, old, failed])
    seen, lines = _wait(kube, Wanted("support-bot", commit="b" * 40))
    assert seen.phase is Phase.FAILED
    assert seen.message == "revision 2 of support-bot is DeployFailed: apply failed: boom"
    assert kube.polls == 7
    assert lines[-1] == "revision 2  DeployFailed"
    assert len(lines) == 5  # nothing yet, not recorded, cluster blip, not recorded again, failed


def test_timeout_says_what_was_missing() -> None:
    kube = FakeKube([_inventory((1, "a", R.DEPLOYED, ""))])
    seen, _ = _wait(kube, Wanted("support-bot", commit="c" * 40), timeout=5)
    assert seen.phase is Phase.FAILED
    assert seen.message.startswith("timed out after 5s: the revision of support-bot at commit cccccccccccc")
    assert kube.polls == 6


def test_a_non_retryable_api_error_propagates() -> None:
    with pytest.raises(ClusterError, match="forbidden"):
        _wait(FakeKube([ClusterError("forbidden", retryable=False)]), Wanted("support-bot"))
