"""Why a workload is not ready, from its pods: what `kubectl describe` would make you dig for.

Health rules judge objects by their own status ("0/2 replicas available"); when a wait runs out,
people need the reason behind it, which lives in the pods: the scheduler's message on an
Unschedulable pod, a container waiting in ImagePullBackOff or CrashLoopBackOff, a container that
runs but fails its readiness probe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.engine.health import ClusterReader, Health, ObjectHealth, UnitHealth

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})
MAX_PODS_SHOWN = 3
"""Per workload: pods of one ReplicaSet usually fail alike, so a few say it all."""


def explain_unit(kube: ClusterReader, unit: UnitHealth) -> list[str]:
    """One line per object that is not healthy, each followed by its pods' reasons (indented)."""
    lines = []
    for obj in unit.objects:
        if obj.health is Health.HEALTHY:
            continue
        lines.append(f"{obj.key}: {obj.health.value}: {obj.message}")
        try:
            reasons = _pod_reasons(kube, obj)
        except ClusterError as err:  # the verdict above stands; the reasons behind it could not be read
            reasons = [f"pods not read: {err}"]
        lines.extend(f"  {reason}" for reason in reasons)
    return lines


def _pod_reasons(kube: ClusterReader, obj: ObjectHealth) -> list[str]:
    key = obj.key
    if key.kind not in WORKLOAD_KINDS or obj.health is Health.MISSING:
        return []
    live = kube.get(key.api_version, key.kind, key.name, key.namespace)
    labels = ((live or {}).get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = kube.list("v1", "Pod", namespace=key.namespace, label_selector=selector).items
    troubled = [(pod, reasons) for pod in pods if (reasons := list(pod_problems(pod)))]
    lines = [f"pod {p['metadata']['name']}: {'; '.join(r)}" for p, r in troubled[:MAX_PODS_SHOWN]]
    if len(troubled) > MAX_PODS_SHOWN:
        lines.append(f"… and {len(troubled) - MAX_PODS_SHOWN} more pods like these")
    if not pods:
        lines.append(f"no pods match {selector} (see the workload's events)")
    return lines


def pod_problems(pod: Mapping[str, Any]) -> Iterator[str]:
    """Why this pod is not ready, most telling first; nothing for a ready or finished pod."""
    status = pod.get("status") or {}
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return
    phase = status.get("phase", "Pending")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if phase in ("Succeeded", "Failed"):
        if phase == "Failed":
            yield f"Failed: {status.get('reason', '')} {status.get('message', '')}".strip()
        return
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False":
        why = scheduled.get("reason") or "not scheduled"
        yield f"Pending: {why}: {scheduled['message']}" if scheduled.get("message") else f"Pending: {why}"
        return
    found = False
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    for container in containers:
        reason = _container_problem(container)
        if reason:
            found = True
            yield f"container {container.get('name')}: {reason}"
    if not found and conditions.get("Ready", {}).get("status") != "True":
        ready = conditions.get("Ready", {})
        detail = ready.get("message") or ready.get("reason") or "containers not started yet"
        yield f"{phase}, not ready: {detail}"


def _container_problem(container: Mapping[str, Any]) -> str | None:
    state = container.get("state") or {}
    restarts = container.get("restartCount", 0)
    if "waiting" in state:
        waiting = state["waiting"] or {}
        reason = waiting.get("reason") or "Waiting"
        if reason == "ContainerCreating" and not waiting.get("message"):
            return None  # a normal step; the pod's Ready condition speaks for it
        text = f"{reason}: {waiting['message']}" if waiting.get("message") else reason
        last = (container.get("lastState") or {}).get("terminated")
        if last:
            text += f" (restarted {restarts} times; last exit code {last.get('exitCode')}"
            text += f", {last['reason']})" if last.get("reason") else ")"
        return text
    if "terminated" in state:
        terminated = state["terminated"] or {}
        if terminated.get("exitCode", 0) == 0:
            return None  # a finished init container
        return f"terminated: exit code {terminated.get('exitCode')} ({terminated.get('reason', 'Error')})"
    if "running" in state and not container.get("ready", False):
        restarted = f"; restarted {restarts} times" if restarts else ""
        return f"running, not ready (readiness probe failing?){restarted}"
    return None
