"""Property-based: whatever users write, loading and validating only ever report Problems.

And whatever loads as valid must render: a valid unit that fails to render would stop a sync with
an exception instead of a located problem.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_agent.manifests import PLACEHOLDER_SEED, Problem, load_repository, render_unit
from gitops_agent.manifests.yamlpos import YamlError, parse_documents

from .helpers import SAMPLE_REPO, SETTINGS

YAML_ALPHABET = st.sampled_from([*"abcXYZ019 :-_/.,'\"[]{}&*!|>#%@`?\n\t<=~", "\u00e9", "\ufeff", "\x00"])
YAML_TEXT = st.text(YAML_ALPHABET, max_size=200) | st.text(max_size=100)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
SAMPLE_DOC: dict[str, Any] = yaml.safe_load((SAMPLE_REPO / "deployments" / "support-bot.yaml").read_text())
RELAXED = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


SAMPLE_PATHS = _paths(SAMPLE_DOC)[1:]


def _check_repository(deployment_text: str | bytes) -> None:
    """Load a one-deployment repository; valid units must render and stamp."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gitops-agent.yaml").write_text(SETTINGS)
        (root / "deployments").mkdir()
        target = root / "deployments" / "support-bot.yaml"
        if isinstance(deployment_text, bytes):
            target.write_bytes(deployment_text)
        else:
            target.write_text(deployment_text, encoding="utf-8")
        loaded = load_repository(root)
        for problem in loaded.all_problems():
            assert isinstance(problem, Problem)
            assert problem.line >= 1 and problem.column >= 1
            assert str(problem).startswith(problem.file)
        assert loaded.settings is not None
        for unit in loaded.units:
            if unit.valid:
                rendered = render_unit(unit, loaded.settings, secret_seed=PLACEHOLDER_SEED)
                assert rendered.objects
                assert len(rendered.manifests) == len(rendered.objects)
            else:
                assert unit.deployment is None


@RELAXED
@given(YAML_TEXT)
def test_parser_only_raises_yaml_errors(text: str) -> None:
    try:
        docs = parse_documents(text)
    except YamlError as err:
        assert err.line >= 1 and err.column >= 1 and err.message
    else:
        assert all(d.start.line >= 1 for d in docs)


@RELAXED
@given(st.binary(max_size=300) | YAML_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_file_content_only_produces_problems(content: bytes) -> None:
    _check_repository(content)


@RELAXED
@given(JSONISH)
def test_any_document_only_produces_problems(document: Any) -> None:
    _check_repository(yaml.safe_dump(document))


@RELAXED
@given(st.sampled_from(SAMPLE_PATHS), JSONISH)
def test_mutated_sample_only_produces_problems(path: tuple[Any, ...], value: Any) -> None:
    document = copy.deepcopy(SAMPLE_DOC)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    _check_repository(yaml.safe_dump(document))


@RELAXED
@given(st.sampled_from(SAMPLE_PATHS))
def test_sample_with_a_field_removed_only_produces_problems(path: tuple[Any, ...]) -> None:
    document = copy.deepcopy(SAMPLE_DOC)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    _check_repository(yaml.safe_dump(document))
