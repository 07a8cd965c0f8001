"""Views of live cluster state that spare per-object requests.

The sync asks a `LiveView` before it GETs an object. `ListedLive` fills itself with one LIST per
(namespace, kind) — a handful of requests for hundreds of objects — so it also knows which objects do
not exist (a cold sync then needs no GET per object). The running agent's watch cache implements the
same protocol with zero requests; it only holds objects with our labels, so an object it does not
know is looked up with a GET (it may exist without our labels, and we must not adopt it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.labels import LABEL_MANAGED_BY, MANAGED_BY
from gitops_agent.core.objects import ObjectKey
from gitops_agent.kube.client import KubeClient

OWNED_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY}"


class LiveView(Protocol):
    """Where the sync looks up live objects first."""

    def lookup(self, key: ObjectKey) -> tuple[bool, dict[str, Any] | None]:
        """(True, object) when known to exist, (True, None) when known absent, (False, None) if unsure."""
        ...


class NoLiveView:
    """Knows nothing: every object is fetched with a GET."""

    def lookup(self, key: ObjectKey) -> tuple[bool, dict[str, Any] | None]:
        return False, None


class ListedLive:
    """All objects of the given kinds and namespaces, from one LIST per (namespace, kind)."""

    def __init__(self) -> None:
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._listed: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    @classmethod
    def prefetch(cls, kube: KubeClient, keys: Iterable[ObjectKey]) -> ListedLive:
        view = cls()
        groups = sorted({(k.namespace, k.api_version, k.kind) for k in keys})
        for namespace, api_version, kind in groups:
            try:
                listed = kube.list(api_version, kind, namespace=namespace)
            except ClusterError:
                # Not served, or not allowed to list: each object is then fetched on its own, and a
                # refusal fails only the deployments that need that kind.
                continue
            with view._lock:
                view._listed.add((namespace, api_version, kind))
                for item in listed.items:
                    view._objects[ObjectKey.of(item)] = item
        return view

    def lookup(self, key: ObjectKey) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            found = self._objects.get(key)
            listed = (key.namespace, key.api_version, key.kind) in self._listed
        return (True, found) if found is not None or listed else (False, None)
