"""The JSON Schemas and their translation into positioned, human problems.

`schema/*.schema.json` at the repository root is the single source of truth for the shape of the
files, their defaults and their reference documentation. The package reaches it through
`gitops_agent/manifests/schema_data`, a symlink to `schema/` that packaging follows (package data), so
the same path works from a checkout and from an installed wheel. jsonschema's own messages
("'x' does not match '^[a-z]...$'") are written for schema authors; here every error becomes a message
for the person editing the YAML, located at the key or value it is about.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from gitops_agent.core.errors import ConfigError
from gitops_agent.manifests.model import Problem
from gitops_agent.manifests.yamlpos import Document, FieldPath, format_path

SCHEMA_NAMES = ("agentdeployment", "settings")

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def schema_text(name: str) -> str:
    """The schema file `name` (`agentdeployment` or `settings`) exactly as shipped."""
    if name not in SCHEMA_NAMES:
        raise ConfigError(f"unknown schema {name!r}; choose one of {', '.join(SCHEMA_NAMES)}")
    filename = f"{name}.schema.json"
    packaged = resources.files("gitops_agent.manifests").joinpath("schema_data", filename)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "schema" / filename
    try:
        return checkout.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"schema {filename} is missing from the installation") from err


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """The parsed schema `name` (cached; treat as read-only)."""
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name))


def schema_default(name: str, path: str) -> Any:
    """The `default` the schema declares for a dotted property path, e.g. `spec.queue.jobsPerWorker`.

    Code reads defaults from the schema instead of repeating them, so the documented default and the
    applied default cannot drift apart.
    """
    node: Mapping[str, Any] = load_schema(name)
    for step in path.split("."):
        node = _resolve(name, node)["properties"][step]
    node = _resolve(name, node)
    if "default" not in node:
        raise KeyError(f"{name} schema declares no default for {path}")
    return node["default"]


def _resolve(name: str, node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local `$ref`s, keeping the referring node's own keywords (its default wins)."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    target: Mapping[str, Any] = load_schema(name)
    for step in ref.removeprefix("#/").split("/"):
        target = target[step]
    merged = dict(_resolve(name, target))
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def validate_document(doc: Document, schema: str, *, file: str) -> list[Problem]:
    """Every schema violation in `doc`, each at its key or value, sorted by position."""
    problems = {
        Problem(file, mark.line, mark.column, format_path(path), message)
        for error in _validator(schema).iter_errors(doc.data)
        for path, message, on_key in _explain(error, doc)
        for mark in [doc.mark(path, prefer_key=on_key)]
    }
    return sorted(problems)


def _explain(error: ValidationError, doc: Document) -> Iterator[tuple[FieldPath, str, bool]]:
    """(field path, message, whether to point at the key rather than the value) for one error."""
    path: FieldPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    custom = schema.get("errorMessage")
    if "propertyNames" in error.absolute_schema_path:
        key_path = (*path, str(instance))
        yield key_path, f"invalid name {instance!r}: {custom or _generic(error, doc, key_path)}", True
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        yield from _unknown_fields(sorted(schema.get("properties", {})), instance, path)
    elif keyword == "required" and isinstance(instance, dict):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        for name in required:
            if name not in instance:
                yield (*path, name), f"missing required field {name!r}", True
    elif custom and keyword in ("pattern", "minProperties", "maxProperties", "minLength", "maxLength"):
        yield path, _with_value(custom, instance, keyword), False
    else:
        yield path, _generic(error, doc, path), False


def _unknown_fields(
    known: list[str], instance: dict[str, Any], path: FieldPath
) -> Iterator[tuple[FieldPath, str, bool]]:
    for key in instance:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
        yield (*path, key), f"unknown field {key!r}{hint}", True


def _with_value(message: str, instance: Any, keyword: str) -> str:
    if keyword in ("pattern", "minLength", "maxLength") and isinstance(instance, str):
        return f"{instance!r} {message}"
    return message


def _generic(error: ValidationError, doc: Document, path: FieldPath) -> str:
    """A plain-language message for the keywords the schemas use (jsonschema's wording otherwise)."""
    keyword = str(error.validator)
    instance: Any = error.instance
    expected: Any = error.validator_value
    if keyword == "type":
        return _type_message(expected, instance, doc.sources.get(path))
    bound = {"minimum": "at least", "maximum": "at most", "minLength": "at least", "maxLength": "at most"}
    messages: dict[str, Callable[[], str]] = {
        "const": lambda: f"must be {expected!r}, not {instance!r}",
        "enum": lambda: f"must be one of {', '.join(map(str, expected))}; got {instance!r}",
        "minimum": lambda: f"must be {bound[keyword]} {expected}; got {instance!r}",
        "maximum": lambda: f"must be {bound[keyword]} {expected}; got {instance!r}",
        "minLength": lambda: f"must be {bound[keyword]} {expected} characters long; got {len(instance)}",
        "maxLength": lambda: f"must be {bound[keyword]} {expected} characters long; got {len(instance)}",
        "uniqueItems": lambda: "contains the same entry more than once",
        "pattern": lambda: f"{instance!r} has an invalid format",
    }
    explain = messages.get(keyword)
    return explain() if explain else error.message


def _type_message(expected: Any, instance: Any, source: str | None) -> str:
    wanted = " or ".join(
        _TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
    )
    message = f"expected {wanted}, got {_describe(instance)}"
    if source is not None and "string" in str(expected) and not isinstance(instance, dict | list):
        message += f'; quote it if you meant the text: "{source}"'
    return message


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
