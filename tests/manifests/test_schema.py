"""The JSON Schemas: well-formed, fully documented, self-consistent, and found when installed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gitops_agent.manifests.schemas import SCHEMA_NAMES, load_schema, schema_default, schema_text

from .helpers import REPO_ROOT

NAMES = list(SCHEMA_NAMES)


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every subschema with its JSON pointer-ish path."""
    if isinstance(node, Mapping):
        yield path, node
        for key, value in node.items():
            if key in ("examples", "default", "const", "enum"):
                continue
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_every_field_has_a_description(name: str) -> None:
    """Ours, that is: the Kubernetes types copied by hack/gen-k8s-defs.py are documented by Kubernetes."""
    missing = [
        f"{path}/properties/{field}"
        for path, node in _walk(load_schema(name))
        for field, child in node.get("properties", {}).items()
        if isinstance(node.get("properties"), Mapping)
        and "description" not in child
        and "/io.k8s." not in path
    ]
    assert missing == []


@pytest.mark.parametrize("name", NAMES)
def test_every_object_with_fields_rejects_unknown_fields(name: str) -> None:
    open_objects = [
        path
        for path, node in _walk(load_schema(name))
        if isinstance(node.get("properties"), Mapping) and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize("name", NAMES)
def test_examples_and_defaults_are_valid_values(name: str) -> None:
    schema = load_schema(name)
    root = Draft202012Validator(schema)
    checked = 0
    for path, node in _walk(schema):
        values = [*node.get("examples", []), *([node["default"]] if "default" in node else [])]
        for value in values:
            errors = [e.message for e in root.evolve(schema=node).iter_errors(value)]
            assert errors == [], (path, value)
            checked += 1
    assert checked > 10


def test_shipped_schema_is_the_repository_schema() -> None:
    for name in NAMES:
        on_disk = (REPO_ROOT / "schema" / f"{name}.schema.json").read_text(encoding="utf-8")
        assert schema_text(name) == on_disk
        assert json.loads(on_disk) == load_schema(name)


def test_code_defaults_come_from_the_schema() -> None:
    assert schema_default("agentdeployment", "spec.queue.jobsPerWorker") == 10
    assert schema_default("agentdeployment", "spec.autoscaling.targetCPUUtilization") == 80
    assert schema_default("agentdeployment", "spec.postgres.managed.image") == "pgvector/pgvector:pg16"
    assert schema_default("agentdeployment", "spec.redis.managed.image") == "redis:7"
    assert schema_default("settings", "sync.prune.maxShare") == 0.5
    with pytest.raises(KeyError):
        schema_default("agentdeployment", "spec.image")


def test_reference_doc_is_up_to_date() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_reference", REPO_ROOT / "hack" / "gen-reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (REPO_ROOT / "docs" / "manifest-reference.md").read_text(encoding="utf-8")
    assert current == module.render(), "run .venv/bin/python hack/gen-reference.py"
    assert "`spec.postgres.managed.keepVolumeOnDelete`" in current
