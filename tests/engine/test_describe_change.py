"""One-line change summaries (no cluster): `engine.diff.describe_change` and `unit_summary`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.diff import Action, ObjectChange, describe_change, unit_summary


def _deployment(
    image: str = "ghcr.io/acme/bot:1.4.2", env: dict[str, str] | None = None, replicas: int = 2
) -> Any:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bot", "annotations": {"gitops-agent.dev/spec-hash": image}},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": image,
                            "env": [{"name": k, "value": v} for k, v in (env or {"A": "1"}).items()],
                            "resources": {"requests": {"cpu": "500m"}},
                        }
                    ]
                }
            },
        },
    }


def _with_server_defaults(obj: Any) -> Any:
    live = copy.deepcopy(obj)
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    live["status"] = {"replicas": 2}
    return live


@pytest.mark.parametrize(
    ("live", "desired", "expected"),
    [
        (_deployment(), _deployment("ghcr.io/acme/bot:1.5.0"), "image 1.4.2 → 1.5.0"),
        (
            _deployment(),
            _deployment("ghcr.io/other/bot:1.4.2"),
            "image ghcr.io/acme/bot:1.4.2 → ghcr.io/other/bot:1.4.2",
        ),
        (_deployment(), _deployment(env={"A": "1", "LOG_LEVEL": "info"}), "env +LOG_LEVEL"),
        (_deployment(env={"A": "1", "B": "2"}), _deployment(env={"A": "2"}), "env -B ~A"),
        (_deployment(), _deployment(replicas=3), "replicas 2 → 3"),
        (
            _deployment(),
            _deployment("ghcr.io/acme/bot:1.5.0", env={"A": "1", "LOG_LEVEL": "x"}, replicas=3),
            "image 1.4.2 → 1.5.0, env +LOG_LEVEL, replicas 2 → 3",
        ),
        (None, _deployment(), "new Deployment"),
    ],
)
def test_workload_changes(live: Any, desired: Any, expected: str) -> None:
    live = _with_server_defaults(live) if live is not None else None
    assert describe_change(live, desired) == expected


def test_other_kinds_name_the_fields_and_secrets_only_their_keys() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    changed = copy.deepcopy(service)
    changed["spec"]["ports"][0]["port"] = 8080
    assert describe_change(service, changed) == "spec.ports changed"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA=="}}
    new = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"a": "y", "b": "s3cr3t"},
    }
    assert describe_change(secret, new) == "data +b"
    assert "s3cr3t" not in describe_change(secret, new)


def test_a_deployment_summary_says_each_fragment_once() -> None:
    key = ObjectKey("apps/v1", "Deployment", "ns", "bot")
    queue = ObjectKey("apps/v1", "Deployment", "ns", "bot-queue")
    ingress = ObjectKey("networking.k8s.io/v1", "Ingress", "ns", "bot")
    changes = [
        ObjectChange("bot", key, Action.UPDATE, summary="image 1.4.2 → 1.5.0, env +LOG_LEVEL"),
        ObjectChange("bot", queue, Action.UPDATE, summary="image 1.4.2 → 1.5.0"),
        ObjectChange("bot", ingress, Action.PRUNE),
        ObjectChange("bot", key, Action.UNCHANGED),
    ]
    assert unit_summary(changes) == "image 1.4.2 → 1.5.0, env +LOG_LEVEL, -Ingress"
