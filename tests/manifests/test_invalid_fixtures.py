"""Table-driven: every folder under tests/fixtures/invalid is a tiny repository with known mistakes.

`expected.yaml` in each folder lists every problem with its exact file:line:column and field path,
so both a missed problem and a wrongly located one fail the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_agent.manifests import load_repository

from .helpers import FIXTURES

CASES = sorted(p for p in (FIXTURES / "invalid").iterdir() if p.is_dir())


def test_fixture_table_is_not_empty() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_fixture_reports_exact_problems(case: Path) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    loaded = load_repository(case)

    assert not loaded.valid
    problems = loaded.all_problems()
    found = sorted((f"{p.file}:{p.line}:{p.column}", p.field) for p in problems)
    wanted = sorted((e["at"], e["field"]) for e in expected)
    assert found == wanted, "\n".join(str(p) for p in problems)
    for entry in expected:
        messages = [
            p.message
            for p in problems
            if (f"{p.file}:{p.line}:{p.column}", p.field) == (entry["at"], entry["field"])
        ]
        assert any(entry["message"] in m for m in messages), (entry, messages)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_invalid_unit_is_marked_and_has_no_deployment(case: Path) -> None:
    loaded = load_repository(case)
    for unit in loaded.units:
        if not unit.valid:
            assert unit.deployment is None
            assert unit.plain_objects == ()
