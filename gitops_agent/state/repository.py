"""The repository-level verdict of the last sync, kept in the cluster next to the inventories.

Per-deployment state lives in each unit's inventory; what belongs to no single deployment — the
settings file does not load, the repository is empty, a prune was refused, a database's volume is left
without its database — is recorded here, in one
ConfigMap per agent instance, so that `gitops-agent status` (reading the cluster) and a standby
replica show the same refusal the leader saw. It is written only when the verdict changes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gitops_agent.core.labels import FIELD_MANAGER, LABEL_OWNER
from gitops_agent.engine.volumes import OrphanedVolume
from gitops_agent.kube.client import KubeClient

NAME = "gitops-agent-repository"
DATA_KEY = "repository.json"
LABEL_REPOSITORY = "gitops-agent.dev/repository"


@dataclass(frozen=True)
class RepositoryStatus:
    """What the last sync said about the repository as a whole."""

    commit: str = ""
    problems: tuple[str, ...] = ()
    """Load problems that belong to no single deployment (settings file, layout)."""
    prune_refused: str = ""
    blocked: tuple[str, ...] = ()
    """Deployments left out of sync by the above (not pruned, or not synced at all)."""
    orphaned_volumes: tuple[OrphanedVolume, ...] = ()
    """Managed Postgres data no database uses (a deleted deployment's kept volume, an old move)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.prune_refused

    def reason(self) -> str:
        """One line saying why the blocked deployments are not in sync."""
        if self.prune_refused:
            return f"not pruned: {self.prune_refused}"
        if self.problems:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return f"not synced: the repository has problems: {self.problems[0]}{more}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepositoryStatus:
        return cls(
            commit=str(data.get("commit", "")),
            problems=tuple(str(p) for p in data.get("problems", [])),
            prune_refused=str(data.get("prune_refused", "")),
            blocked=tuple(str(b) for b in data.get("blocked", [])),
            orphaned_volumes=tuple(OrphanedVolume(**v) for v in data.get("orphaned_volumes", [])),
        )


class RepositoryStatusStore:
    """Reads and writes one agent instance's repository verdict in its state namespace."""

    def __init__(self, kube: KubeClient, namespace: str, owner: str = "") -> None:
        self.kube = kube
        self.namespace = namespace
        self.owner = owner or namespace
        self.name = NAME if self.owner == namespace else f"{NAME}.{self.owner}"
        self._saved: RepositoryStatus | None = None
        self._lock = threading.Lock()

    def load(self) -> RepositoryStatus | None:
        live = self.kube.get("v1", "ConfigMap", self.name, self.namespace)
        if live is None:
            return None
        try:
            return RepositoryStatus.from_json(json.loads(live["data"][DATA_KEY]))
        except (KeyError, TypeError, ValueError):
            return None  # damaged: the next sync writes it again

    def save(self, status: RepositoryStatus) -> bool:
        """Apply the ConfigMap when the verdict differs from the last one written; True if written."""
        with self._lock:
            if status == self._saved:
                return False
            self.kube.apply(self._configmap(status), force=True)
            self._saved = status
            return True

    def _configmap(self, status: RepositoryStatus) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                # Not labelled managed-by: it is the agent's own record, never an object it applies.
                "labels": {LABEL_REPOSITORY: "true", LABEL_OWNER: self.owner},
                "annotations": {"gitops-agent.dev/field-manager": FIELD_MANAGER},
            },
            "data": {DATA_KEY: json.dumps(status.to_json(), sort_keys=True, indent=1)},
        }
