"""A watch-fed cache of the objects the agent owns: the self-heal trigger and a zero-request LiveView.

One stream per (namespace, kind): LIST (label-selected on our managed-by label), then WATCH from the
list's resourceVersion with bookmarks; a 410 Gone (history compacted) re-lists, any other error
re-lists after a back-off. Changes that are not only status (someone scaled, edited, deleted an owned
object) call `on_drift(unit)` so the controller re-syncs that deployment; the sync itself then reads
live objects from here instead of the apiserver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.kinds import watched_kinds
from gitops_agent.core.labels import LABEL_DEPLOYMENT
from gitops_agent.core.logs import get_logger
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import comparable
from gitops_agent.engine.live import OWNED_SELECTOR
from gitops_agent.kube.client import GoneError, KubeClient, NotFoundError

log = get_logger("watch")
UNSERVED_RETRY_SECONDS = 60.0
"""How often a stream of a kind the apiserver does not serve (no CRD) looks again."""


Stream = tuple[str, str, str]  # (namespace, api_version, kind)


class WatchCache:
    """Implements `LiveView.lookup` from watches; `on_drift(unit)` fires on non-status changes."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        on_drift: Callable[[str], None],
        on_change: Callable[[str], None] | None = None,
        on_resume: Callable[[], None] | None = None,
        retry_seconds: float = 2.0,
    ) -> None:
        self.kube = kube
        self.on_drift = on_drift
        self.on_change = on_change  # any change, status included (rollout tracking)
        self.on_resume = on_resume  # a stream listed again after failing: the apiserver is back
        self.retry_seconds = retry_seconds
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._synced: set[Stream] = set()
        self._threads: dict[Stream, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.relists = 0

    # -- LiveView ------------------------------------------------------------------------------

    def lookup(self, key: ObjectKey) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            found = self._objects.get(key)
        if found is not None:
            return True, found
        return False, None  # absent from *our* objects: a namesake we do not own may exist; GET it

    def watching(self) -> bool:
        """Whether any stream was started (the first sync's namespaces are watched after it)."""
        return bool(self._threads)

    # -- streams -------------------------------------------------------------------------------

    def ensure(self, namespaces: Iterable[str]) -> None:
        """Start streams for any namespace not watched yet."""
        for namespace in namespaces:
            for api_version, kind in ((k.api_version, k.kind) for k in watched_kinds()):
                stream = (namespace, api_version, kind)
                if stream not in self._threads:
                    thread = threading.Thread(
                        target=self._run, args=(stream,), daemon=True, name=f"watch-{kind}-{namespace}"
                    )
                    self._threads[stream] = thread
                    thread.start()

    def wait_synced(self, timeout: float) -> bool:
        """True once every started stream has listed at least once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if set(self._threads) <= self._synced:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop.set()

    def _run(self, stream: Stream) -> None:
        namespace, api_version, kind = stream
        failing = unserved = False
        while not self._stop.is_set():
            try:
                version = self._relist(stream)
                if failing and self.on_resume is not None:
                    self.on_resume()
                failing = False
                events = self.kube.watch(
                    api_version,
                    kind,
                    namespace=namespace,
                    label_selector=OWNED_SELECTOR,
                    resource_version=version,
                    timeout_seconds=240,
                )
                for event_type, obj in events:
                    if self._stop.is_set():
                        return
                    self._apply_event(event_type, obj, api_version, kind)
            except GoneError:
                continue  # compacted: list again
            except NotFoundError as err:  # a custom resource whose CRD is not installed (yet)
                if not unserved:
                    log.info(
                        "not watching %s in %s: %s; checking again every %.0f s",
                        kind,
                        namespace,
                        err,
                        UNSERVED_RETRY_SECONDS,
                    )
                unserved = True
                with self._lock:
                    self._synced.add(stream)  # nothing of this kind can exist: the cache is complete
                self._stop.wait(UNSERVED_RETRY_SECONDS)
            except ClusterError as err:
                if self._stop.is_set():
                    return
                failing = True
                log.warning("watch of %s in %s failed, re-listing: %s", kind, namespace, err)
                self._stop.wait(self.retry_seconds)

    def _relist(self, stream: Stream) -> str:
        namespace, api_version, kind = stream
        listed = self.kube.list(api_version, kind, namespace=namespace, label_selector=OWNED_SELECTOR)
        fresh = {ObjectKey.of(item): _slim(item) for item in listed.items}
        with self._lock:
            first = stream not in self._synced
            mine = {k: v for k, v in self._objects.items() if (k.namespace, k.api_version, k.kind) == stream}
            for key in mine.keys() - fresh.keys():
                self._notify(self._objects.pop(key))  # deleted while we were not watching
            for key, obj in fresh.items():
                # Changed while we were not watching; on the first list, anything may have drifted since
                # the sync that started this stream, so every unit gets one (cheap, no-op) check.
                if first or key not in mine or comparable(mine[key]) != comparable(obj):
                    self._notify(obj)
            self._objects.update(fresh)
            self._synced.add(stream)
            self.relists += 1
        return listed.resource_version

    def _apply_event(self, event_type: str, obj: dict[str, Any], api_version: str, kind: str) -> None:
        if event_type == "BOOKMARK":
            return
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        _slim(obj)
        key = ObjectKey.of(obj)
        with self._lock:
            old = self._objects.get(key)
            if event_type == "DELETED":
                self._objects.pop(key, None)
            else:
                self._objects[key] = obj
        if event_type == "DELETED" or old is None or comparable(old) != comparable(obj):
            self._notify(obj)
        elif self.on_change is not None:
            unit = _unit_of(obj)
            if unit:
                self.on_change(unit)

    def _notify(self, obj: dict[str, Any]) -> None:
        unit = _unit_of(obj)
        if unit:
            self.on_drift(unit)
            if self.on_change is not None:
                self.on_change(unit)


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without `metadata.managedFields`: nothing reads them from the cache (diffs and
    comparisons drop them), and they are a third to a half of what a cached object weighs."""
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def _unit_of(obj: dict[str, Any]) -> str | None:
    unit = (obj.get("metadata", {}).get("labels") or {}).get(LABEL_DEPLOYMENT)
    return str(unit) if unit else None
