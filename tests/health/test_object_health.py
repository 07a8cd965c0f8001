"""The health rules, one YAML fixture per rule: a live object and the verdict it must get.

Each fixture in fixtures/ holds `live` (the object as the API returns it, or null), `expect`
(`health`, and a substring of `message`), optionally `ready_endpoints` for Services and `key` when
`live` is null. Adding a rule means adding a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.health import (
    Health,
    ObjectHealth,
    UnitHealth,
    object_health,
    progress_line,
    worst,
)

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.yaml"))


def _key(case: dict[str, Any]) -> ObjectKey:
    if case["live"] is not None:
        return ObjectKey.of(case["live"])
    key = case["key"]
    return ObjectKey(key["apiVersion"], key["kind"], key["namespace"], key["name"])


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_rule(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    key = _key(case)
    verdict = object_health(case["live"], key, ready_endpoints=case.get("ready_endpoints"))
    got = f"{case['description']}: got {verdict.health.value}: {verdict.message!r}"
    assert verdict.key == key
    assert verdict.health is Health(case["expect"]["health"]), got
    assert case["expect"]["message"] in verdict.message, got


def test_every_kind_with_a_rule_has_fixtures() -> None:
    stems = {p.stem.split("-")[0] for p in FIXTURES}
    expected = {"deployment", "statefulset", "pvc", "service", "ingress", "hpa", "configmap", "missing"}
    assert expected <= stems


def test_rules_never_mutate_the_live_object() -> None:
    for path in FIXTURES:
        case = yaml.safe_load(path.read_text())
        before = yaml.safe_dump(case["live"])
        object_health(case["live"], _key(case), ready_endpoints=case.get("ready_endpoints"))
        assert yaml.safe_dump(case["live"]) == before, path.name


@pytest.mark.parametrize(
    ("healths", "expected"),
    [
        ([], Health.HEALTHY),
        ([Health.HEALTHY, Health.HEALTHY], Health.HEALTHY),
        ([Health.HEALTHY, Health.PROGRESSING], Health.PROGRESSING),
        ([Health.PROGRESSING, Health.MISSING, Health.HEALTHY], Health.MISSING),
        ([Health.MISSING, Health.DEGRADED, Health.PROGRESSING], Health.DEGRADED),
    ],
)
def test_worst(healths: list[Health], expected: Health) -> None:
    assert worst(healths) is expected
    assert worst(iter(healths)) is expected


DEPLOY = ObjectKey("apps/v1", "Deployment", "agents", "support-bot")
SERVICE = ObjectKey("v1", "Service", "agents", "support-bot")
PVC = ObjectKey("v1", "PersistentVolumeClaim", "agents", "data-postgres-0")


def test_unit_summary_names_the_object_that_decides_the_health() -> None:
    unit = UnitHealth(
        "support-bot",
        Health.DEGRADED,
        (
            ObjectHealth(SERVICE, Health.PROGRESSING, "no ready endpoints"),
            ObjectHealth(DEPLOY, Health.DEGRADED, "ProgressDeadlineExceeded: timed out"),
        ),
    )
    assert unit.culprit is unit.objects[1]
    assert unit.summary == "ProgressDeadlineExceeded: timed out"


def test_healthy_unit_summary() -> None:
    objects = (ObjectHealth(DEPLOY, Health.HEALTHY, "2/2 replicas ready"),) * 3
    unit = UnitHealth("support-bot", Health.HEALTHY, objects)
    assert unit.culprit is None
    assert unit.summary == "all 3 objects healthy"


def test_progress_lines_align_and_name_the_object() -> None:
    waiting = UnitHealth(
        "support-bot",
        Health.PROGRESSING,
        (
            ObjectHealth(SERVICE, Health.HEALTHY, "1 ready endpoint"),
            ObjectHealth(DEPLOY, Health.PROGRESSING, "1/2 replicas ready"),
        ),
    )
    done = UnitHealth("db", Health.HEALTHY, (ObjectHealth(PVC, Health.HEALTHY, "Bound to pvc-1"),))
    assert progress_line(waiting) == (
        "support-bot   Progressing  Deployment/agents/support-bot: 1/2 replicas ready"
    )
    assert progress_line(done) == "db            Healthy      all 1 objects healthy"
    assert progress_line(done, width=2) == "db Healthy      all 1 objects healthy"


@pytest.mark.parametrize(
    ("status", "health", "message"),
    [
        ({"conditions": [{"type": "Ready", "status": "True", "reason": "ScaledObjectReady"}]}, Health.HEALTHY,
         "Ready (ScaledObjectReady)"),
        ({"conditions": [{"type": "Ready", "status": "False", "reason": "ScaledObjectCheckFailed",
                          "message": "no scale target"}]},
         Health.DEGRADED, "not Ready: ScaledObjectCheckFailed"),
        ({"conditions": [{"type": "Ready", "status": "Unknown"}]}, Health.PROGRESSING, "Ready unknown"),
        ({}, Health.PROGRESSING, "no Ready condition yet"),
        ({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}, Health.PROGRESSING,
         "observe generation 2"),
    ],
)  # fmt: skip
def test_the_ready_condition_rule_for_custom_resources(
    status: dict[str, Any], health: Health, message: str
) -> None:
    """The rule a custom resource's kind record names (`HealthRule.READY_CONDITION`)."""
    from gitops_agent.core.kinds import HealthRule
    from gitops_agent.engine.health import _RULES

    live = {"metadata": {"name": "x", "generation": 2}, "status": status}
    got, text = _RULES[HealthRule.READY_CONDITION](live)
    assert got is health and message in text, (got, text)
