"""Leader election with a coordination.k8s.io Lease, so that of several replicas exactly one applies.

The protocol is client-go's: the holder renews `renewTime` every retry period; a candidate takes the
Lease over only when `renewTime + leaseDurationSeconds` has passed. Every write is an update guarded
by resourceVersion, so two candidates can never both win. A leader that cannot renew within the
renew deadline stops applying *before* its Lease can expire for the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gitops_agent.core.errors import ClusterError
from gitops_agent.core.logs import get_logger
from gitops_agent.kube.client import ConflictError, KubeClient

LEASE_API = "coordination.k8s.io/v1"
log = get_logger("leader")


@dataclass(frozen=True)
class LeaseConfig:
    """Timings follow client-go's defaults (15 s / 10 s / 2 s)."""

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def _now() -> datetime:
    return datetime.now(UTC)


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LeaderElector:
    """Runs the election loop in its own thread and calls back on gaining and losing leadership."""

    def __init__(
        self,
        kube: KubeClient,
        config: LeaseConfig,
        *,
        on_started_leading: Callable[[], None],
        on_stopped_leading: Callable[[], None],
    ) -> None:
        self.kube = kube
        self.config = config
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self.leading = False
        self.holder: str | None = None
        self._last_renew = 0.0

    def run(self, stop: threading.Event) -> None:
        """Campaign until `stop` is set; then release the Lease if held."""
        while not stop.is_set():
            acquired = self._try_acquire_or_renew()
            if acquired:
                self._last_renew = time.monotonic()
                if not self.leading:
                    self.leading = True
                    log.info("became leader", extra={"fields": {"lease": self.config.name}})
                    self._on_started()
            elif self.leading and time.monotonic() - self._last_renew > self.config.renew_deadline:
                self._step_down("could not renew the lease within the renew deadline")
            stop.wait(self.config.retry_period)
        if self.leading:
            self.release()
            self._step_down("shutting down")

    def _step_down(self, why: str) -> None:
        self.leading = False
        log.warning("stopped leading: %s", why)
        self._on_stopped()

    def _try_acquire_or_renew(self) -> bool:
        try:
            lease = self.kube.get(LEASE_API, "Lease", self.config.name, self.config.namespace)
            if lease is None:
                self.kube.create(self._lease({}, transitions=0))
                self.holder = self.config.identity
                return True
            spec = lease.get("spec", {})
            self.holder = spec.get("holderIdentity") or None
            if self.holder not in (None, self.config.identity) and not self._expired(spec):
                return False
            lease["spec"] = self._spec(spec)
            self.kube.replace(lease)
            self.holder = self.config.identity
            return True
        except ConflictError:
            return False  # another candidate wrote first
        except ClusterError as err:
            log.warning("lease request failed: %s", err)
            return False

    def _expired(self, spec: dict[str, Any]) -> bool:
        renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        return renewed is None or renewed + timedelta(seconds=duration) < _now()

    def _spec(self, old: dict[str, Any]) -> dict[str, Any]:
        now = _micro_time(_now())
        taking_over = old.get("holderIdentity") != self.config.identity
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": int(self.config.lease_duration),
            "acquireTime": now if taking_over else old.get("acquireTime", now),
            "renewTime": now,
            "leaseTransitions": int(old.get("leaseTransitions") or 0) + (1 if taking_over and old else 0),
        }

    def _lease(self, old: dict[str, Any], *, transitions: int) -> dict[str, Any]:
        spec = self._spec(old)
        spec["leaseTransitions"] = transitions
        return {
            "apiVersion": LEASE_API,
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": spec,
        }

    def release(self) -> None:
        """Give the Lease up at once (graceful shutdown), so a standby takes over without waiting."""
        try:
            lease = self.kube.get(LEASE_API, "Lease", self.config.name, self.config.namespace)
            if lease is None or lease.get("spec", {}).get("holderIdentity") != self.config.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            self.kube.replace(lease)
            log.info("released the lease")
        except ClusterError as err:
            log.warning("could not release the lease: %s", err)
