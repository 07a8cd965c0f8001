"""Kubernetes Events on the owned Deployment, so `kubectl describe` tells what the agent did and why.

Reasons: see `EventReason` (a revision's states, sync failures, drift, prunes). Events are
rate-limited per (deployment, reason): a repeat of the same message within the interval is dropped,
so a deployment that fails every retry does not flood the API (only a posted Event counts: one
that could not be posted may be tried again at once). A post that failed for a reason that may pass
(the apiserver throttled it past the budget, or is away) raises, for the caller to try again
(`agent.sinks.events` does, in order); any other failure is logged and given up. Messages are built
from names, revisions and error texts, never from Secret values (errors are produced by layers that scrub
credentials; URL userinfo is scrubbed here once more).

When the unit has no Deployment to carry the Event — a deployment torn down with its file (its
Deployment was just pruned), one whose first sync failed before anything was created, or the plain
`manifests` unit — the Event goes to the state namespace, about the unit's inventory ConfigMap
(`gitops-agent.<unit>`), whether or not that ConfigMap still exists:
`kubectl -n <state namespace> get events --field-selector involvedObject.name=gitops-agent.<unit>`.
What concerns the repository as a whole (RepositoryInvalid, PruneRefused) is posted there too, about
the instance's repository-status ConfigMap (`gitops-agent-repository`, see `state.repository`).
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.logs import get_logger
from gitops_agent.core.objects import ObjectKey
from gitops_agent.kube.client import KubeClient
from gitops_agent.source.urls import scrub_text
from gitops_agent.state.inventory import configmap_name

log = get_logger("events")
COMPONENT = "gitops-agent"
MESSAGE_LIMIT = 1000


class EventReason(enum.StrEnum):
    """The reasons of the Events the agent posts."""

    REVISION_DEPLOYING = "RevisionDeploying"
    REVISION_DEPLOYED = "RevisionDeployed"
    REVISION_DEPLOY_FAILED = "RevisionDeployFailed"
    REVISION_ROLLED_BACK = "RevisionRolledBack"
    SYNC_FAILED = "SyncFailed"
    DRIFT_CORRECTED = "DriftCorrected"
    PRUNED = "Pruned"
    REPOSITORY_INVALID = "RepositoryInvalid"
    PRUNE_REFUSED = "PruneRefused"
    COMMIT_REFUSED = "CommitRefused"

    @property
    def warning(self) -> bool:
        return self in (
            EventReason.SYNC_FAILED,
            EventReason.REVISION_ROLLED_BACK,
            EventReason.REVISION_DEPLOY_FAILED,
            EventReason.REPOSITORY_INVALID,
            EventReason.PRUNE_REFUSED,
            EventReason.COMMIT_REFUSED,
        )


class EventRecorder:
    """Posts core/v1 Events about a deployment's Deployment object (raises only retryable errors)."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        instance: str,
        state_namespace: str = "",
        min_interval: float = 60.0,
        read: Callable[[ObjectKey], Mapping[str, Any] | None] | None = None,
        owner: str = "",
    ) -> None:
        self.owner = owner
        self.kube = kube
        self.read = read or (lambda key: kube.get(key.api_version, key.kind, key.name, key.namespace))
        """How the Deployment an Event is about is looked up (the running agent: its watch cache)."""
        self.instance = instance
        self.state_namespace = state_namespace
        self.min_interval = min_interval
        self._last: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def record(self, *, deployment: str, namespace: str, reason: EventReason, message: str) -> bool:
        """Post one Event; False when rate-limited, when there is no target or the API refused it
        for good; a retryable ClusterError when it may be posted later."""
        return self._post(deployment, reason, message, lambda: self._target(deployment, namespace))

    def record_repository(self, *, configmap: str, reason: EventReason, message: str) -> bool:
        """An Event about the repository as a whole, on its status ConfigMap in the state namespace."""
        if not self.state_namespace:
            return False
        target = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": configmap,
            "namespace": self.state_namespace,
        }
        return self._post("", reason, message, lambda: {**target, "uid": ""})

    def _post(
        self, key: str, reason: EventReason, message: str, target_of: Callable[[], dict[str, str] | None]
    ) -> bool:
        message = scrub_text(message)[:MESSAGE_LIMIT]
        now = time.monotonic()
        with self._lock:
            last = self._last.get((key, reason))
            if last and now - last[0] < self.min_interval and last[1] == message:
                return False
        try:
            target = target_of()
            if target is None:
                return False
            self.kube.create(self._event(target, reason, message))
        except ClusterError as err:
            if err.retryable:
                raise
            log.warning("could not record event %s for %s: %s", reason, key or "the repository", err)
            return False
        with self._lock:
            self._last[(key, reason)] = (now, message)
        return True

    def _target(self, deployment: str, namespace: str) -> dict[str, str] | None:
        """The involved object: the Deployment when it exists, else the unit's inventory ConfigMap."""
        live = self.read(ObjectKey("apps/v1", "Deployment", namespace, deployment)) if namespace else None
        if live is not None:
            return _reference("apps/v1", "Deployment", live["metadata"])
        if not self.state_namespace:
            return None
        name = configmap_name(deployment, self.owner, self.state_namespace)
        inventory = self.kube.get("v1", "ConfigMap", name, self.state_namespace)
        meta = inventory["metadata"] if inventory else {"name": name, "namespace": self.state_namespace}
        return _reference("v1", "ConfigMap", meta)

    def _event(self, target: dict[str, str], reason: EventReason, message: str) -> dict[str, object]:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{target['name']}.{secrets.token_hex(8)}",
                "namespace": target["namespace"],
            },
            "involvedObject": target,
            "reason": reason.value,
            "message": message,
            "type": "Warning" if reason.warning else "Normal",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }


def _reference(api_version: str, kind: str, meta: dict[str, Any]) -> dict[str, str]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": str(meta["name"]),
        "namespace": str(meta["namespace"]),
        "uid": str(meta.get("uid", "")),
    }
