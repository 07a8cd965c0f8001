"""Kubernetes Events on the owned Deployment, so `kubectl describe` tells what the agent did and why.

Reasons: RevisionRolledOut, SyncFailed, DriftCorrected, Pruned, RolledBack, RolloutFailed. Events are
rate-limited per (deployment, reason): a repeat within the interval is dropped, so a deployment that
fails every retry does not flood the API. Messages are built from names, revisions and error texts,
never from Secret values (errors are produced by layers that scrub credentials).
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

from gitops_agent.errors import ClusterError
from gitops_agent.kube import KubeClient
from gitops_agent.logs import get_logger

log = get_logger("events")
COMPONENT = "gitops-agent"
MESSAGE_LIMIT = 1000
WARNING_REASONS = frozenset({"SyncFailed", "RolledBack", "RolloutFailed"})


class EventRecorder:
    """Posts core/v1 Events about a deployment's Deployment object (best effort, never raises)."""

    def __init__(self, kube: KubeClient, *, instance: str, min_interval: float = 60.0) -> None:
        self.kube = kube
        self.instance = instance
        self.min_interval = min_interval
        self._last: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def record(self, *, deployment: str, namespace: str, reason: str, message: str) -> bool:
        """Post one Event; False when rate-limited, when the Deployment is absent or the API fails."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get((deployment, reason))
            if last and now - last[0] < self.min_interval and last[1] == message:
                return False
            self._last[(deployment, reason)] = (now, message)
        try:
            target = self.kube.get("apps/v1", "Deployment", deployment, namespace)
            if target is None:
                return False
            self.kube.create(self._event(target, reason, message[:MESSAGE_LIMIT]))
        except ClusterError as err:
            log.warning("could not record event %s for %s: %s", reason, deployment, err)
            return False
        return True

    def _event(self, target: dict[str, object], reason: str, message: str) -> dict[str, object]:
        meta = target["metadata"]
        assert isinstance(meta, dict)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if reason in WARNING_REASONS else "Normal",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
