"""Pieces every rendered object of a deployment shares: metadata, pod basics, Secret references.

Kept apart so each renderer builds its object top to bottom and labels are applied the same way
everywhere: user labels first, ownership labels over them (the validator already rejects user labels
that would collide), selectors from `selector_labels` only.
"""

from __future__ import annotations

from typing import Any

from gitops_agent.core.labels import ownership_labels, selector_labels
from gitops_agent.manifests.model import AgentDeployment, SecretKeyRef


def object_meta(dep: AgentDeployment, name: str, *, app: str, component: str) -> dict[str, Any]:
    """`metadata` of an object rendered for `dep`."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": dep.namespace,
        "labels": {**dict(dep.labels), **ownership_labels(deployment=dep.name, app=app, component=component)},
    }
    if dep.annotations:
        meta["annotations"] = dict(dep.annotations)
    return meta


def pod_meta(dep: AgentDeployment, *, app: str, component: str) -> dict[str, Any]:
    """`template.metadata` of a workload: the same labels and annotations, no name."""
    meta = object_meta(dep, "", app=app, component=component)
    del meta["name"], meta["namespace"]
    return meta


def selector(dep: AgentDeployment, app: str) -> dict[str, Any]:
    """`spec.selector` of a workload (immutable once created, so never derived from user input)."""
    return {"matchLabels": selector_labels(app, dep.name)}


def secret_env(name: str, ref: SecretKeyRef) -> dict[str, Any]:
    """An env entry read from a Secret key."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def pull_secrets(dep: AgentDeployment) -> dict[str, Any]:
    """`imagePullSecrets` when the deployment lists any (shared by all its pods)."""
    return (
        {"imagePullSecrets": [{"name": n} for n in dep.image_pull_secrets]} if dep.image_pull_secrets else {}
    )


def exec_probe(command: list[str], *, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    """An exec probe with timings chosen for databases (Kubernetes' 1 s default timeout is too tight)."""
    probe: dict[str, Any] = {
        "exec": {"command": list(command)},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe
