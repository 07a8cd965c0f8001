"""Health against real controllers: kwok pods become Ready, the controller-manager sets deadlines.

The verdicts come from the same code as the fixture tests, but here the status fields are written by
the real Deployment, StatefulSet, EndpointSlice and PV controllers, so a rule that misreads them
(or a field the controllers set later than we assume) shows up as a hang or a wrong verdict.
"""

from __future__ import annotations

from typing import Any

import pytest
from kobjects import deployment

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, UnitHealth, check_unit, progress_line, wait_for_health
from gitops_agent.kube.client import KubeClient


def _service(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8000}]},
    }


def _statefulset(namespace: str, name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "postgres", "image": "example.test/postgres:16"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "kwok-volume",
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }


def _apply(kube: KubeClient, *manifests: dict[str, Any]) -> list[ObjectKey]:
    return [ObjectKey.of(kube.apply(manifest)) for manifest in manifests]


@pytest.mark.full
def test_deployment_and_its_service_become_healthy(kube: KubeClient, namespace: str) -> None:
    keys = _apply(
        kube,
        deployment("app", "example.test/app:1", namespace=namespace, replicas=2),
        _service(namespace, "app"),
    )
    lines: list[str] = []
    result = wait_for_health(
        kube,
        {"app": keys},
        timeout_seconds=60,
        poll_seconds=0.5,
        on_progress=lambda unit: lines.append(progress_line(unit)),
    )
    unit = result["app"]
    assert unit.health is Health.HEALTHY, unit
    deployment_message, service_message = (o.message for o in unit.objects)
    assert deployment_message == "2/2 replicas ready"
    # The EndpointSlice controller may lag the ReplicaSet by a pod: one ready endpoint is enough.
    assert service_message in ("1 ready endpoint", "2 ready endpoints")
    assert lines[-1] == "app           Healthy      all 2 objects healthy"
    assert len(lines) == len(set(lines))  # reported on change only


@pytest.mark.full
def test_a_rollout_past_its_deadline_is_degraded(kube: KubeClient, namespace: str) -> None:
    keys = _apply(
        kube,
        deployment(
            "stuck", "example.test/never-ready:1", namespace=namespace, replicas=1, progressDeadlineSeconds=5
        ),
    )
    unit = wait_for_health(kube, {"stuck": keys}, timeout_seconds=60, poll_seconds=0.5)["stuck"]
    assert unit.health is Health.DEGRADED, unit
    assert unit.summary.startswith("ProgressDeadlineExceeded: "), unit.summary
    assert "has timed out progressing" in unit.summary


@pytest.mark.full
def test_a_bad_update_is_never_healthy_and_degrades_at_its_deadline(kube: KubeClient, namespace: str) -> None:
    """The race that matters for auto-rollback: right after the apply, the old status must not pass."""
    good = deployment("bot", "example.test/bot:1", namespace=namespace, replicas=2, progressDeadlineSeconds=5)
    keys = _apply(kube, good)
    assert (
        wait_for_health(kube, {"bot": keys}, timeout_seconds=60, poll_seconds=0.5)["bot"].health
        is Health.HEALTHY
    )
    bad = deployment(
        "bot", "example.test/never-ready:2", namespace=namespace, replicas=2, progressDeadlineSeconds=5
    )
    _apply(kube, bad)
    assert check_unit(kube, "bot", keys).health is Health.PROGRESSING
    seen: list[str] = []
    unit = wait_for_health(
        kube,
        {"bot": keys},
        timeout_seconds=60,
        poll_seconds=0.5,
        on_progress=lambda u: seen.append(u.summary),
    )["bot"]
    assert unit.health is Health.DEGRADED, unit
    assert "ProgressDeadlineExceeded" in unit.summary
    assert "all 1 objects healthy" not in seen, seen


@pytest.mark.full
def test_statefulset_with_a_volume_claim_becomes_healthy(kube: KubeClient, namespace: str) -> None:
    [sts] = _apply(kube, _statefulset(namespace, "db"))
    pvc = ObjectKey("v1", "PersistentVolumeClaim", namespace, "data-db-0")
    # The claim is created by the StatefulSet controller: Missing first, which keeps us waiting.
    result = wait_for_health(kube, {"db": [sts, pvc]}, timeout_seconds=60, poll_seconds=0.5)
    unit = result["db"]
    assert unit.health is Health.HEALTHY, unit
    assert unit.objects[0].message == "1/1 replicas ready"
    assert unit.objects[1].message.startswith("Bound to pvc-")


@pytest.mark.full
def test_wait_times_out_while_a_rollout_is_still_progressing(kube: KubeClient, namespace: str) -> None:
    keys = _apply(kube, deployment("slow", "example.test/never-ready:1", namespace=namespace, replicas=1))
    seen: list[UnitHealth] = []
    result = wait_for_health(
        kube, {"slow": keys}, timeout_seconds=1.5, poll_seconds=0.5, on_progress=seen.append
    )
    assert result["slow"].health is Health.PROGRESSING
    assert seen and seen[-1] == result["slow"]


def test_missing_objects_and_unserved_kinds(kube: KubeClient, namespace: str) -> None:
    [config] = _apply(
        kube, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env", "namespace": namespace}}
    )
    absent = ObjectKey("v1", "ConfigMap", namespace, "absent")
    widget = ObjectKey("example.com/v1", "Widget", namespace, "w")
    unit = check_unit(kube, "u", [config, absent, widget])
    assert [(o.health, o.message) for o in unit.objects[:2]] == [
        (Health.HEALTHY, "exists"),
        (Health.MISSING, "not found in the cluster"),
    ]
    assert unit.objects[2].health is Health.MISSING and "example.com/v1" in unit.objects[2].message
    assert unit.health is Health.MISSING
