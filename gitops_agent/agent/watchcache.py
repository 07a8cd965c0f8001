"""A watch-fed cache of the objects the agent owns: the self-heal trigger and a zero-request LiveView.

One stream per (namespace, kind): LIST (label-selected on our managed-by label), then WATCH from the
list's resourceVersion with bookmarks, resumed from the last version seen each time it times out; a
410 Gone (history compacted) re-lists, any other error re-lists after a back-off. Changes that are
not only status (someone scaled, edited, deleted an owned object) call `on_drift(unit)` so the
controller re-syncs that deployment; the sync itself then reads live objects from here instead of
the apiserver.

The sync tells the cache what it makes each object to be (`expect`, before it writes). An object that
holds every field of that is not drift — a sync of its deployment would find it unchanged — whether
the change came from the agent's own write, a controller (a revision annotation, replicas an
autoscaler owns, status) or anything else, and whether it is seen in an event or in a list: a push
syncs its deployment once, not twice, and a first convergence syncs each deployment once. A stream's
first list leaves objects no sync has described yet to the first full sync, which starts with the
streams; later, an object the sync has not described is compared with its previous version.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.kinds import watched_kinds
from gitops_agent.core.labels import LABEL_DEPLOYMENT
from gitops_agent.core.logs import get_logger
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import comparable, desired_in_live
from gitops_agent.engine.live import OWNED_SELECTOR
from gitops_agent.kube.client import GoneError, KubeClient, NotFoundError
from gitops_agent.state.inventory import LABEL_INVENTORY

log = get_logger("watch")
WATCHED = f"{OWNED_SELECTOR},!{LABEL_INVENTORY}"
"""What the streams watch: the objects the agent owns, but not its inventories (the agent's own
bookkeeping, written after every sync: not drift, and not something a sync would put back)."""
WATCH_SECONDS = 240
"""How long one watch request runs before it is resumed (from the last version it saw)."""
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
        self._objects: dict[ObjectKey, str] = {}
        """Each object as compact JSON text: a sixth of what the decoded dicts weigh (5,750 objects,
        1,000 deployments: ~10 MB instead of ~58 MB); decoding one on lookup takes microseconds."""
        self._synced: set[Stream] = set()
        self._expected: dict[ObjectKey, str] = {}
        """What the agent's last sync made each object (its desired manifest, as compact JSON)."""
        self._threads: dict[Stream, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.relists = 0

    # -- LiveView ------------------------------------------------------------------------------

    def lookup(self, key: ObjectKey) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            found = self._objects.get(key)
        if found is not None:
            return True, json.loads(found)
        return False, None  # absent from *our* objects: a namesake we do not own may exist; GET it

    def expect(self, key: ObjectKey, desired: Mapping[str, Any]) -> None:
        """The sync makes `key` what `desired` says: a version of it that holds all that is not drift."""
        text = _text(desired)
        with self._lock:
            self._expected[key] = text

    def watching(self) -> bool:
        """Whether any stream was started (the controller starts them with its first full sync)."""
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
                    with self._lock:
                        self._threads[stream] = thread
                    thread.start()

    def synced(self) -> bool:
        """Whether streams were started and every one has listed at least once."""
        with self._lock:
            return bool(self._threads) and set(self._threads) <= self._synced

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
        version = ""  # where the watch resumes; "" lists first
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._relist(stream)
                    if failing and self.on_resume is not None:
                        self.on_resume()
                    failing = False
                started = time.monotonic()
                events = self.kube.watch(
                    api_version,
                    kind,
                    namespace=namespace,
                    label_selector=WATCHED,
                    resource_version=version,
                    timeout_seconds=WATCH_SECONDS,
                )
                for event_type, obj in events:
                    if self._stop.is_set():
                        return
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    self._apply_event(event_type, obj, api_version, kind)
                # the watch timed out: resume from the last version seen (bookmarks keep it fresh),
                # as client-go's reflector does, instead of listing every object again
                if time.monotonic() - started < 1.0:
                    self._stop.wait(self.retry_seconds)  # ended at once: do not spin
            except GoneError:
                version = ""  # compacted: list again
                continue
            except NotFoundError as err:  # a custom resource whose CRD is not installed (yet)
                version = ""
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
                failing, version = True, ""
                log.warning("watch of %s in %s failed, re-listing: %s", kind, namespace, err)
                self._stop.wait(self.retry_seconds)

    def _relist(self, stream: Stream) -> str:
        """List the stream's objects page by page (a page's decoded objects are dropped before the
        next arrives: listing 1,000 Deployments does not hold them all as dicts at once)."""
        namespace, api_version, kind = stream
        listed: set[ObjectKey] = set()
        version = ""
        with self._lock:
            first = stream not in self._synced
        for page in self.kube.pages(api_version, kind, namespace=namespace, label_selector=WATCHED):
            version = page.resource_version
            for item in page.items:
                obj = _slim(item)
                key, text = ObjectKey.of(obj), _text(obj)
                listed.add(key)
                with self._lock:
                    old = self._objects.get(key)
                    self._objects[key] = text
                    described = key in self._expected
                    if described and self._is_expected(key, obj):
                        continue  # as the agent makes it
                # Not as the last sync made it. A first list leaves what no sync has described yet to
                # the first full sync (the streams start with it); a later one compares with the cache.
                drifted = described if first else _changed(old, text, obj)
                if drifted:
                    self._notify(obj)
        with self._lock:
            ours = (k for k in self._objects if (k.namespace, k.api_version, k.kind) == stream)
            gone = [key for key in ours if key not in listed]
            removed = [self._objects.pop(key) for key in gone]
            for key in gone:
                self._expected.pop(key, None)
            self._synced.add(stream)
            self.relists += 1
        for text in removed:
            self._notify(json.loads(text))  # deleted while we were not watching
        return version

    def _apply_event(self, event_type: str, obj: dict[str, Any], api_version: str, kind: str) -> None:
        if event_type == "BOOKMARK":
            return
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        _slim(obj)
        key = ObjectKey.of(obj)
        text = _text(obj)
        with self._lock:
            old = self._objects.get(key)
            own = event_type != "DELETED" and self._is_expected(key, obj)
            if event_type == "DELETED":
                self._objects.pop(key, None)
                self._expected.pop(key, None)
            else:
                self._objects[key] = text
        if not own and (event_type == "DELETED" or _changed(old, text, obj)):
            self._notify(obj)
        elif self.on_change is not None:
            unit = _unit_of(obj)
            if unit:
                self.on_change(unit)

    def _is_expected(self, key: ObjectKey, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` holds everything the sync made it. Called with the lock held."""
        desired = self._expected.get(key)
        return desired is not None and desired_in_live(json.loads(desired), obj)

    def _notify(self, obj: dict[str, Any]) -> None:
        unit = _unit_of(obj)
        if unit:
            self.on_drift(unit)
            if self.on_change is not None:
                self.on_change(unit)


def _text(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _changed(old: str | None, text: str, new: Mapping[str, Any]) -> bool:
    """Whether `new` (`text`) differs from the cached `old` other than in status and server fields."""
    if old is None:
        return True
    return old != text and comparable(json.loads(old)) != comparable(new)


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without `metadata.managedFields`: nothing reads them from the cache (diffs and
    comparisons drop them), and they are a third to a half of what a cached object weighs."""
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def _unit_of(obj: dict[str, Any]) -> str | None:
    unit = (obj.get("metadata", {}).get("labels") or {}).get(LABEL_DEPLOYMENT)
    return str(unit) if unit else None
