"""Per-deployment inventory and revision history, kept in the cluster as one ConfigMap per unit.

Why an inventory: pruning must delete exactly what an earlier sync applied, so it works from a
record of applied objects (with their uids) and never by sweeping labels alone. The same record
carries the revision counter and a bounded history, so a restarted agent (or another replica) knows
which revision is live without asking Git.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.core.labels import (
    FIELD_MANAGER,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    MANAGED_BY,
)
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.prune import InventoryEntry
from gitops_agent.kube.client import KubeClient

LABEL_INVENTORY = "gitops-agent.dev/inventory"
DATA_KEY = "inventory.json"
HISTORY_LIMIT = 20
MESSAGE_LIMIT = 2000
NAME_PREFIX = "gitops-agent."


class InventoryError(GitopsAgentError):
    """An inventory ConfigMap exists but cannot be read: never prune from a record we do not trust."""


class RevisionState(enum.StrEnum):
    """Where a revision is in its life (the transitions are in `state.revisions`)."""

    QUEUED = "Queued"
    """Seen in Git, not applied yet (the cluster could not take it yet: it is retried)."""
    DEPLOYING = "Deploying"
    """Applied; its rollout is being watched."""
    DEPLOYED = "Deployed"
    """Applied and healthy: what runs."""
    DEPLOY_FAILED = "DeployFailed"
    """Rejected by the apiserver, or not healthy by its progress deadline."""
    ROLLED_BACK = "RolledBack"
    """Not healthy, and the previous Deployed revision was put back."""
    SUPERSEDED = "Superseded"
    """Was Deployed; a newer revision is Deployed now."""
    SKIPPED = "Skipped"
    """Replaced by a newer revision before it became Deployed."""

    @classmethod
    def _missing_(cls, value: object) -> RevisionState | None:
        return cls.DEPLOY_FAILED if value == "Failed" else None  # histories written before the lifecycle


@dataclass(frozen=True)
class RevisionRecord:
    """One revision of a deployment: a distinct rendered spec, first seen at `commit`."""

    revision: int
    commit: str
    spec_hash: str
    author: str = ""
    message: str = ""
    time: str = ""
    result: RevisionState = RevisionState.DEPLOYED
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "commit": self.commit,
            "specHash": self.spec_hash,
            "author": self.author,
            "message": self.message[:MESSAGE_LIMIT],
            "time": self.time,
            "result": self.result.value,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RevisionRecord:
        return cls(
            revision=int(data["revision"]),
            commit=str(data["commit"]),
            spec_hash=str(data["specHash"]),
            author=str(data.get("author", "")),
            message=str(data.get("message", "")),
            time=str(data.get("time", "")),
            result=RevisionState(data.get("result", RevisionState.DEPLOYED.value)),
            reason=str(data.get("reason", "")),
        )


@dataclass(frozen=True)
class Inventory:
    """What the agent applied for one unit, and the unit's revision history (newest first)."""

    unit: str
    objects: tuple[InventoryEntry, ...] = ()
    history: tuple[RevisionRecord, ...] = field(default=())
    error: str = ""
    """Why the unit's last sync failed ("" after a successful one): what `status` shows from the cluster."""

    @property
    def latest(self) -> RevisionRecord | None:
        """The newest revision attempted (whatever its result)."""
        return self.history[0] if self.history else None

    @property
    def keys(self) -> frozenset[ObjectKey]:
        return frozenset(entry.key for entry in self.objects)

    def last_with(self, result: RevisionState) -> RevisionRecord | None:
        return next((r for r in self.history if r.result is result), None)

    def record(self, revision: RevisionRecord) -> Inventory:
        """History with `revision` added or updated in place (the transitions are `state.revisions`')."""
        rest = [r for r in self.history if r.revision != revision.revision]
        history = sorted([revision, *rest], key=lambda r: r.revision, reverse=True)[:HISTORY_LIMIT]
        return replace(self, history=tuple(history))

    def find(self, revision: int) -> RevisionRecord | None:
        return next((r for r in self.history if r.revision == revision), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "objects": [e.to_json() for e in sorted(self.objects, key=lambda e: e.key)],
            "history": [r.to_json() for r in self.history],
            **({"error": self.error[:MESSAGE_LIMIT]} if self.error else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Inventory:
        return cls(
            unit=str(data["unit"]),
            objects=tuple(InventoryEntry.from_json(o) for o in data.get("objects", [])),
            history=tuple(RevisionRecord.from_json(r) for r in data.get("history", [])),
            error=str(data.get("error", "")),
        )


def with_applied(
    inventory: Inventory, applied: Iterable[tuple[ObjectKey, Mapping[str, Any] | None]]
) -> Inventory:
    """The inventory with the applied objects (key, live object) added; older entries stay until pruned.

    An entry keeps its known uid when the apply returned no object to read a new one from.
    """
    entries = {e.key: e for e in inventory.objects}
    for key, live in applied:
        uid = str((live or {}).get("metadata", {}).get("uid", ""))
        entries[key] = InventoryEntry(key, uid or (entries[key].uid if key in entries else ""))
    return replace(inventory, objects=tuple(entries.values()))


def without(inventory: Inventory, keys: Collection[ObjectKey]) -> Inventory:
    """The inventory without the entries of `keys` (pruned objects)."""
    return replace(inventory, objects=tuple(e for e in inventory.objects if e.key not in keys))


def configmap_name(unit: str, owner: str = "", namespace: str = "") -> str:
    """`gitops-agent.<unit>`; an instance other than its state namespace's default adds its id, so
    two instances can share one state namespace."""
    return f"{NAME_PREFIX}{unit}" if owner in ("", namespace) else f"{NAME_PREFIX}{owner}.{unit}"


class InventoryStore:
    """Reads and writes one agent instance's inventories in its state namespace."""

    def __init__(self, kube: KubeClient, namespace: str, owner: str = "") -> None:
        self.kube = kube
        self.namespace = namespace
        self.owner = owner or namespace

    def load_all(self) -> dict[str, Inventory]:
        """Every unit's inventory of this instance, in one LIST request."""
        listed = self.kube.list(
            "v1", "ConfigMap", namespace=self.namespace, label_selector=f"{LABEL_INVENTORY}=true"
        )
        inventories = {}
        for item in listed.items:
            if self._mine(item):
                inventory = parse_configmap(item)
                inventories[inventory.unit] = inventory
        return inventories

    def load(self, unit: str) -> Inventory | None:
        """One unit's inventory, in one GET (None when it has none)."""
        live = self.kube.get("v1", "ConfigMap", self.name(unit), self.namespace)
        return parse_configmap(live) if live is not None and self._mine(live) else None

    def save(self, inventory: Inventory) -> None:
        """Server-side apply the unit's ConfigMap (we are its only writer)."""
        self.kube.apply(to_configmap(inventory, self.namespace, self.owner), force=True)

    def delete(self, unit: str) -> None:
        self.kube.delete("v1", "ConfigMap", self.name(unit), self.namespace)

    def name(self, unit: str) -> str:
        return configmap_name(unit, self.owner, self.namespace)

    def _mine(self, configmap: Mapping[str, Any]) -> bool:
        """Labelled with this instance; unlabelled ones (older agents) belong to the default instance."""
        owner = (configmap.get("metadata", {}).get("labels") or {}).get(LABEL_OWNER)
        return owner == self.owner if owner else self.owner == self.namespace


def to_configmap(inventory: Inventory, namespace: str, owner: str = "") -> dict[str, Any]:
    owner = owner or namespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(inventory.unit, owner, namespace),
            "namespace": namespace,
            "labels": {
                LABEL_INVENTORY: "true",
                LABEL_MANAGED_BY: MANAGED_BY,
                LABEL_DEPLOYMENT: inventory.unit,
                LABEL_OWNER: owner,
            },
            "annotations": {"gitops-agent.dev/field-manager": FIELD_MANAGER},
        },
        "data": {DATA_KEY: json.dumps(inventory.to_json(), sort_keys=True, indent=1)},
    }


def parse_configmap(configmap: Mapping[str, Any]) -> Inventory:
    """The inventory in a ConfigMap; InventoryError when it is damaged."""
    name = configmap.get("metadata", {}).get("name", "?")
    try:
        return Inventory.from_json(json.loads(configmap["data"][DATA_KEY]))
    except (KeyError, TypeError, ValueError) as err:
        raise InventoryError(
            f"inventory ConfigMap {name} is unreadable ({err}); not pruning from it"
        ) from err
