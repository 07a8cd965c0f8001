"""The kinds table: one record per kind, and every stage's order derived from it (no cluster)."""

from __future__ import annotations

import pytest
from manifests.helpers import SAMPLE_REPO

from gitops_agent.core.kinds import KINDS, WRITE, HealthRule, Recreate, Stage, kind_of, watched_kinds
from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import Health, object_health
from gitops_agent.engine.prune import InventoryEntry, plan_prune
from gitops_agent.manifests import PLACEHOLDER_SEED, load_repository, render_unit


def _key(api_version: str, kind: str, name: str = "x") -> ObjectKey:
    return ObjectKey(api_version, kind, "ns", name)


@pytest.mark.parametrize(
    ("api_version", "kind", "stage", "rank"),
    [
        ("v1", "Secret", Stage.CONFIG, 5),
        ("apps/v1", "StatefulSet", Stage.DATA, 4),
        ("apps/v1", "Deployment", Stage.WORKLOAD, 3),
        ("v1", "Service", Stage.SERVICE, 2),
        ("networking.k8s.io/v1", "Ingress", Stage.ROUTING, 1),
        ("autoscaling/v2", "HorizontalPodAutoscaler", Stage.SCALING, 0),
        # unknown kinds (custom resources, other workloads) are applied and deleted with the workloads
        ("example.com/v1", "Widget", Stage.WORKLOAD, 3),
        ("batch/v1", "CronJob", Stage.WORKLOAD, 3),
    ],
)
def test_stage_and_delete_rank(api_version: str, kind: str, stage: Stage, rank: int) -> None:
    record = kind_of(_key(api_version, kind))
    assert record.stage is stage
    assert record.delete_rank == rank


def test_prune_deletes_in_the_reverse_of_the_apply_stages() -> None:
    keys = [
        _key("v1", "ConfigMap"),
        _key("example.com/v1", "Widget"),  # unknown: with the workloads, not last
        _key("apps/v1", "Deployment"),
        _key("autoscaling/v2", "HorizontalPodAutoscaler"),
        _key("v1", "Service"),
        _key("apps/v1", "StatefulSet"),
    ]
    plan = plan_prune({"a": [InventoryEntry(k) for k in keys]}, {"a": frozenset()}, repo_units=["a"])
    order = [e.key.kind for e in plan.by_unit["a"]]
    assert order == ["HorizontalPodAutoscaler", "Service", "Deployment", "Widget", "StatefulSet", "ConfigMap"]


def test_one_record_per_group_and_kind() -> None:
    seen = [(k.group, k.kind) for k in KINDS]
    assert len(seen) == len(set(seen))


def test_watched_kinds_are_applied_kinds_the_chart_lets_us_write() -> None:
    for kind in watched_kinds():
        assert kind.stage is not None and kind.verbs == WRITE, kind


def test_every_rendered_kind_is_in_the_table_and_watched() -> None:
    """A kind the renderer makes but the table lacks would lose self-heal and its delete order."""
    loaded = load_repository(SAMPLE_REPO)
    assert loaded.settings is not None
    rendered = {
        (o.key.api_version, o.key.kind)
        for unit in loaded.units
        if unit.deployment is not None
        for o in render_unit(unit, loaded.settings, secret_seed=PLACEHOLDER_SEED).objects
    }
    assert len(rendered) >= 6
    for api_version, kind in rendered:
        record = kind_of(_key(api_version, kind))
        assert record.resource and record.watched, (api_version, kind)


def test_statefulsets_are_recreated_only_on_request() -> None:
    assert kind_of(_key("apps/v1", "StatefulSet")).recreate is Recreate.ON_REQUEST
    assert kind_of(_key("apps/v1", "Deployment")).recreate is Recreate.ALWAYS
    assert kind_of(_key("example.com/v1", "Widget")).recreate is Recreate.NEVER


def test_health_rule_comes_from_the_table() -> None:
    assert kind_of(_key("apps/v1", "Deployment")).health is HealthRule.DEPLOYMENT
    widget = object_health({"metadata": {"name": "x"}}, _key("example.com/v1", "Widget"))
    assert widget.health is Health.HEALTHY and widget.message == "exists"
