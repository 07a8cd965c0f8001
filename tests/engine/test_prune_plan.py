"""Prune planning and its guards, as tables (no cluster): `engine.prune`."""

from __future__ import annotations

import pytest

from gitops_agent.core.objects import ObjectKey
from gitops_agent.engine.prune import InventoryEntry, PrunePolicy, PruneRefusedError, check_guards, plan_prune


def _entries(*names: str) -> tuple[InventoryEntry, ...]:
    return tuple(InventoryEntry(ObjectKey("v1", "ConfigMap", "ns", n)) for n in names)


def _keys(*names: str) -> frozenset[ObjectKey]:
    return frozenset(e.key for e in _entries(*names))


OWNED = {"a": _entries("a1", "a2"), "b": _entries("b1"), "gone": _entries("g1", "g2")}


@pytest.mark.parametrize(
    ("desired", "repo_units", "teardown", "by_unit", "removed"),
    [
        # a synced unit prunes what left its render; a unit gone from the repository is torn down
        (
            {"a": _keys("a1"), "b": _keys("b1")},
            ["a", "b"],
            True,
            {"a": ["a2"], "gone": ["g1", "g2"]},
            {"gone"},
        ),
        # not while the repository has problems (the "gone" file may only have failed to parse)
        ({"a": _keys("a1"), "b": _keys("b1")}, ["a", "b"], False, {"a": ["a2"]}, set()),
        # a unit that failed to render this time keeps everything
        ({"a": _keys("a1")}, ["a", "b"], True, {"a": ["a2"], "gone": ["g1", "g2"]}, {"gone"}),
        # nothing left the render
        (
            {"a": _keys("a1", "a2"), "b": _keys("b1"), "gone": _keys("g1", "g2")},
            ["a", "b", "gone"],
            True,
            {},
            set(),
        ),
    ],
)
def test_plan_prune(
    desired: dict[str, frozenset[ObjectKey]],
    repo_units: list[str],
    teardown: bool,
    by_unit: dict[str, list[str]],
    removed: set[str],
) -> None:
    plan = plan_prune(OWNED, desired, repo_units=repo_units, allow_teardown=teardown)
    assert {u: [e.key.name for e in entries] for u, entries in plan.by_unit.items()} == by_unit
    assert plan.removed_units == removed


@pytest.mark.parametrize(
    ("prune", "repo_units", "policy", "refusal"),
    [
        (["a2"], 3, PrunePolicy(), None),  # 1 of 5: fine
        (["a2"], 3, PrunePolicy(enabled=False), "pruning is disabled"),
        (["a2"], 0, PrunePolicy(), "renders no deployments but 5 objects are owned"),
        (["a1", "a2", "b1"], 3, PrunePolicy(), r"refusing to prune 3 of 5 owned objects \(60% > 50%\)"),
        (["a1", "a2", "b1"], 3, PrunePolicy(allow_mass_prune=True), None),
        (["a1", "a2", "b1"], 3, PrunePolicy(max_share=0.6), None),
        ([], 3, PrunePolicy(enabled=False), None),  # nothing to prune: nothing to refuse
    ],
)
def test_guards(prune: list[str], repo_units: int, policy: PrunePolicy, refusal: str | None) -> None:
    owned = {"a": _entries("a1", "a2"), "b": _entries("b1"), "c": _entries("c1", "c2")}
    desired = {
        u: frozenset(e.key for e in entries if e.key.name not in prune) for u, entries in owned.items()
    }
    plan = plan_prune(owned, desired, repo_units=list(owned))
    if refusal is None:
        check_guards(plan, owned, repo_units=repo_units, policy=policy)
    else:
        with pytest.raises(PruneRefusedError, match=refusal):
            check_guards(plan, owned, repo_units=repo_units, policy=policy)
