"""What runs for one deployment: its pods, the latest Events of its objects, a pod's log tail.

The UI's workload view reads these from the apiserver when a page is opened (no watch: a person
looks at one deployment at a time, and the page is cheap to reload). Pods are found by the labels
the renderer puts on every pod template (`gitops-agent.dev/deployment` and managed-by); a log is
read only for a pod that carries them, so the view cannot be pointed at another pod of the
namespace. Logs are bounded (LOG_TAIL_LINES, LOG_LIMIT_BYTES), never followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitops_agent.core.labels import LABEL_COMPONENT, LABEL_DEPLOYMENT, LABEL_MANAGED_BY, MANAGED_BY
from gitops_agent.kube.client import KubeClient

LOG_TAIL_LINES = 200
LOG_LIMIT_BYTES = 64 * 1024
EVENT_LIMIT = 25
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class NotItsPodError(LookupError):
    """The pod (or container) does not exist or does not belong to the deployment."""


@dataclass(frozen=True)
class PodView:
    name: str
    component: str
    phase: str
    ready: str
    """`ready/total` containers."""
    restarts: int
    created: float | None
    node: str
    containers: tuple[str, ...]
    images: tuple[str, ...]
    waiting: str
    """The first waiting reason (ImagePullBackOff, CrashLoopBackOff, …), or ""."""
    owner: str
    """`ReplicaSet/name` (or StatefulSet) that made the pod, or ""."""


@dataclass(frozen=True)
class EventView:
    type: str
    reason: str
    object: str
    message: str
    count: int
    last_seen: float | None


def read_pods(kube: KubeClient, namespace: str, deployment: str) -> list[PodView]:
    """The deployment's pods, API server first, then by name."""
    selector = f"{LABEL_DEPLOYMENT}={deployment},{LABEL_MANAGED_BY}={MANAGED_BY}"
    pods = kube.list("v1", "Pod", namespace=namespace, label_selector=selector).items
    views = [_pod_view(pod) for pod in pods]
    return sorted(views, key=lambda p: (p.component != "api-server", p.component, p.name))


def read_events(kube: KubeClient, namespace: str, objects: Iterable[str]) -> list[EventView]:
    """The newest Events (at most EVENT_LIMIT) about any of `objects` (`Kind/name`)."""
    wanted = set(objects)
    events = kube.list("v1", "Event", namespace=namespace).items
    views = [
        _event_view(event)
        for event in events
        if f"{event.get('involvedObject', {}).get('kind')}/{event.get('involvedObject', {}).get('name')}"
        in wanted
    ]
    views.sort(key=lambda e: e.last_seen or 0.0, reverse=True)
    return views[:EVENT_LIMIT]


def workload_objects(owned: Iterable[str], pods: Iterable[PodView]) -> set[str]:
    """`Kind/name` of everything whose Events the view shows: its objects, pods and their owners."""
    names = set()
    for key in owned:  # board objects are `Kind/namespace/name` (or `Kind/name` cluster-wide)
        kind, _, rest = key.partition("/")
        names.add(f"{kind}/{rest.rpartition('/')[2]}")
    for pod in pods:
        names.add(f"Pod/{pod.name}")
        if pod.owner:
            names.add(pod.owner)
    return names


def read_log(kube: KubeClient, namespace: str, deployment: str, pod: str, container: str) -> str:
    """The tail of one container's log; NotItsPodError unless the pod is the deployment's."""
    if not _DNS_SUBDOMAIN.match(pod) or not _DNS_SUBDOMAIN.match(container):
        raise NotItsPodError(f"no pod {pod!r} of {deployment}")
    found = kube.get("v1", "Pod", pod, namespace)
    labels = (found or {}).get("metadata", {}).get("labels") or {}
    if labels.get(LABEL_DEPLOYMENT) != deployment or labels.get(LABEL_MANAGED_BY) != MANAGED_BY:
        raise NotItsPodError(f"no pod {pod!r} of {deployment} in {namespace}")
    assert found is not None
    if container not in {c.get("name") for c in found.get("spec", {}).get("containers", [])}:
        raise NotItsPodError(f"pod {pod} has no container {container!r}")
    return kube.pod_log(namespace, pod, container, tail_lines=LOG_TAIL_LINES, limit_bytes=LOG_LIMIT_BYTES)


def _pod_view(pod: Mapping[str, Any]) -> PodView:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    containers = tuple(str(c.get("name", "")) for c in spec.get("containers", []))
    waiting = next(
        (str(s["state"]["waiting"].get("reason", "")) for s in statuses if "waiting" in s.get("state", {})),
        "",
    )
    return PodView(
        name=str(meta.get("name", "")),
        component=str((meta.get("labels") or {}).get(LABEL_COMPONENT, "")),
        phase="Terminating" if meta.get("deletionTimestamp") else str(status.get("phase", "Unknown")),
        ready=f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers)}",
        restarts=sum(int(s.get("restartCount", 0)) for s in statuses),
        created=_timestamp(meta.get("creationTimestamp")),
        node=str(spec.get("nodeName", "")),
        containers=containers,
        images=tuple(str(c.get("image", "")) for c in spec.get("containers", [])),
        waiting=waiting,
        owner=next((f"{r.get('kind')}/{r.get('name')}" for r in meta.get("ownerReferences") or ()), ""),
    )


def _event_view(event: Mapping[str, Any]) -> EventView:
    involved = event.get("involvedObject", {})
    seen = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    return EventView(
        type=str(event.get("type", "")),
        reason=str(event.get("reason", "")),
        object=f"{involved.get('kind')}/{involved.get('name')}",
        message=str(event.get("message", "")),
        count=int(event.get("count") or 1),
        last_seen=_timestamp(seen),
    )


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
