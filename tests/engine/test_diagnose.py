"""Why a pod is not ready, from its status (pure logic on pod objects shaped as the kubelet and the
scheduler write them; the cluster test in tests/sync/test_sync_wait_cluster.py runs the real
scheduler and kwok's stand-in kubelet)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_agent.engine.diagnose import pod_problems


def _pod(
    phase: str = "Running", *, conditions: list[dict[str, Any]] | None = None, **status: Any
) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": {"phase": phase, "conditions": conditions or [], **status}}


def _container(name: str, *, ready: bool = False, restarts: int = 0, **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, **state}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            _pod("Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": "0/3 nodes are available: 3 Insufficient memory."}]),
            ["Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient memory."],
        ),
        (
            _pod(containerStatuses=[_container(
                "api", restarts=5,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
                lastState={"terminated": {"exitCode": 1, "reason": "Error"}},
            )]),
            ["container api: CrashLoopBackOff: back-off 2m40s (restarted 5 times; last exit code 1, Error)"],
        ),
        (
            _pod(containerStatuses=[_container("api", restarts=2, state={"running": {}})]),
            ["container api: running, not ready (readiness probe failing?); restarted 2 times"],
        ),
        (
            _pod("Pending", initContainerStatuses=[_container(
                "migrate", state={"terminated": {"exitCode": 3, "reason": "Error"}})],
                containerStatuses=[_container("api", state={"waiting": {"reason": "PodInitializing"}})]),
            ["container migrate: terminated: exit code 3 (Error)", "container api: PodInitializing"],
        ),
        (
            _pod("Pending", conditions=[{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                 containerStatuses=[_container("api", state={"waiting": {"reason": "ContainerCreating"}})]),
            ["Pending, not ready: ContainersNotReady"],
        ),
        (_pod(conditions=[{"type": "Ready", "status": "True"}],
              containerStatuses=[_container("api", ready=True, state={"running": {}})]), []),
        (_pod("Succeeded"), []),
        (_pod("Failed", reason="Evicted", message="The node was low on resource: memory."),
         ["Failed: Evicted The node was low on resource: memory."]),
    ],
)  # fmt: skip
def test_pod_problems(pod: dict[str, Any], expected: list[str]) -> None:
    assert list(pod_problems(pod)) == expected


def test_a_pod_being_deleted_is_not_a_problem() -> None:
    pod = _pod("Pending")
    pod["metadata"]["deletionTimestamp"] = "2026-11-29T00:00:00Z"
    assert list(pod_problems(pod)) == []


def test_pods_that_cannot_be_read_leave_the_verdict_standing() -> None:
    """A fake reader (pure logic): the apiserver answers the workload but not the pod list."""
    from gitops_agent.core.errors import ClusterError
    from gitops_agent.core.objects import ObjectKey
    from gitops_agent.engine.diagnose import explain_unit
    from gitops_agent.engine.health import Health, ObjectHealth, UnitHealth

    class Reader:
        def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
            return {"spec": {"selector": {"matchLabels": {"app": name}}}}

        def list(self, api_version: str, kind: str, *, namespace: str = "", label_selector: str = "") -> Any:
            raise ClusterError("list pods: forbidden", retryable=False)

    key = ObjectKey("apps/v1", "Deployment", "agents", "bot")
    unit = UnitHealth(
        "bot", Health.PROGRESSING, (ObjectHealth(key, Health.PROGRESSING, "0/1 replicas ready"),)
    )
    assert explain_unit(Reader(), unit) == [
        "Deployment/agents/bot: Progressing: 0/1 replicas ready",
        "  pods not read: list pods: forbidden",
    ]
