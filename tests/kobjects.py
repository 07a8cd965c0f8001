"""Plain Kubernetes objects the cluster tests create directly (not rendered by gitops-agent)."""

from __future__ import annotations

from typing import Any


def deployment(
    name: str, image: str, *, replicas: int = 2, namespace: str | None = None, **spec: Any
) -> dict[str, Any]:
    """A one-container Deployment selecting `app: name`; `spec` adds fields (progressDeadlineSeconds)."""
    labels = {"app": name}
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }
