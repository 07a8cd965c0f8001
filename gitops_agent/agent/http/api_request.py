"""Request bodies of the control-plane API → typed edits; every refusal names its field path.

A body is parsed (400 when it is not JSON), checked against its JSON Schema from `api_schema` and
for strings Git and YAML cannot carry, then the rules that span fields (`path` or `host`, `replicas`
or a range) are checked here, where the error can name the field. The answers are 422 with
`{errors: [{file, line, column, field, message}]}`: `file` is null for the body, and names the
manifest for what the repository's validation finds later (`api.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from gitops_agent.agent.http.api_schema import CREATE_REQUEST, MAX_ENTRIES, REVISION_REQUEST, ROLLBACK_REQUEST
from gitops_agent.agent.http.server import Request, Response
from gitops_agent.controlplane.edit import ScaleSpec
from gitops_agent.controlplane.scaffold import NewDeployment, SecretRef

MAX_DEPTH = 8
"""Deepest nesting of a body (the schemas need 4: `secretEnv.NAME.key`)."""

CREATE = Draft202012Validator(CREATE_REQUEST)
REVISION = Draft202012Validator(REVISION_REQUEST)
ROLLBACK = Draft202012Validator(ROLLBACK_REQUEST)


class RequestError(Exception):
    """A request the API refuses before anything is written; carries its answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class RevisionRequest:
    """A revision request: image, env changes and scale, applied to the file in that order."""

    image: str | None
    env: dict[str, str]
    unset: tuple[str, ...]
    scale: ScaleSpec | None
    cpu: bool

    @classmethod
    def parse(cls, body: dict[str, Any]) -> RevisionRequest:
        env, unset = dict(body.get("env", {})), tuple(body.get("unsetEnv", ()))
        for index, key in enumerate(unset):
            if key in env:
                raise invalid(f"unsetEnv[{index}]", f"{key} is set in `env` too")
        scale = _scale(body["scale"]) if "scale" in body else None
        if body.get("image") is None and not env and not unset and scale is None:
            raise invalid("", "nothing to change: give image, env, unsetEnv and/or scale")
        cpu = "targetCPU" in body.get("scale", {})
        return cls(body.get("image"), env, unset, scale, cpu)


def new_deployment(body: dict[str, Any]) -> NewDeployment:
    """The `new` request as a NewDeployment; the rules that span fields are checked here."""
    _exclusive(body, "path", "host")
    _exclusive(body, "replicas", "autoscaling")
    postgres, redis = _backing(body, "Postgres"), _backing(body, "Redis")
    autoscaling = body.get("autoscaling", {})
    return NewDeployment(
        name=body["name"],
        image=body["image"],
        type=body.get("type"),
        namespace=body.get("namespace"),
        replicas=body.get("replicas"),
        min_replicas=autoscaling.get("min"),
        max_replicas=autoscaling.get("max"),
        target_cpu=autoscaling.get("targetCPU"),
        cpu=body.get("cpu"),
        memory=body.get("memory"),
        env=tuple(body.get("env", {}).items()),
        secret_env=tuple((k, SecretRef(v["name"], v["key"])) for k, v in body.get("secretEnv", {}).items()),
        queue=bool(body.get("queue", False)),
        ingress_path=body.get("path"),
        ingress_host=body.get("host"),
        postgres_secret=postgres,
        redis_secret=redis,
    )


def _exclusive(body: dict[str, Any], first: str, second: str) -> None:
    if first in body and second in body:
        raise invalid(second, f"give `{first}` or `{second}`, not both")


def _backing(body: dict[str, Any], what: str) -> SecretRef | None:
    managed, secret = body.get(f"managed{what}"), body.get(f"{what.lower()}Secret")
    if managed is True and secret is not None:
        raise invalid(
            f"{what.lower()}Secret", f"give `managed{what}: true` or `{what.lower()}Secret`, not both"
        )
    if managed is False and secret is None:
        raise invalid(f"managed{what}", f"false needs `{what.lower()}Secret` (the URI of an external {what})")
    return SecretRef(secret["name"], secret["key"]) if secret else None


def _scale(body: dict[str, Any]) -> ScaleSpec:
    replicas = body.get("replicas")
    ranged = [key for key in ("min", "max", "targetCPU") if key in body]
    if replicas is not None and ranged:
        raise invalid(f"scale.{ranged[0]}", "give a fixed `replicas` count or a range (min/max), not both")
    if replicas is None and not ranged:
        raise invalid("scale", "nothing to change: give `replicas`, or `min`/`max`/`targetCPU`")
    return ScaleSpec(
        replicas=replicas,
        min_replicas=body.get("min"),
        max_replicas=body.get("max"),
        target_cpu=body.get("targetCPU"),
        queue=bool(body.get("queue", False)),
    )


# -- bodies and answers ---------------------------------------------------------------------------


def json_response(data: Any, status: int, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(data, indent=2).encode(), "application/json", headers)


def parse_body(request: Request, validator: Draft202012Validator) -> dict[str, Any]:
    """The JSON body, checked against its schema (400: not JSON; 422: the fields that are wrong)."""
    try:
        data = json.loads(request.body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise RequestError(json_response({"error": f"the body is not valid JSON: {err}"}, 400)) from err
    return check_body(data, validator)


def check_body(data: Any, validator: Draft202012Validator) -> dict[str, Any]:
    """A decoded body checked against its schema and for strings Git cannot carry (422 if not).

    What it costs to check and apply is bounded first (`bounded`): 50,000 env entries fit in a
    megabyte, and editing them into a file would hold the writer for minutes."""
    too_big = bounded(data)
    if too_big is not None:
        raise RequestError(json_response({"errors": [too_big]}, 422))
    errors = [problem(path, "strings must be UTF-8 text without NUL") for path in _bad_strings(data)]
    errors += [problem(_field(e), e.message) for e in validator.iter_errors(data)]
    if errors:
        raise RequestError(json_response({"errors": errors}, 422))
    assert isinstance(data, dict)
    return data


def bounded(data: Any) -> dict[str, Any] | None:
    """The first object or array with more than MAX_ENTRIES entries, or nested deeper than
    MAX_DEPTH, as a problem; None when the body is within bounds. One pass, no recursion; it stops
    at the first one found."""
    pending: list[tuple[Any, str, int]] = [(data, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            return problem(path, f"nested more than {MAX_DEPTH} levels deep")
        if len(value) > MAX_ENTRIES:
            return problem(path, f"at most {MAX_ENTRIES:,} entries; got {len(value):,}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            child = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))
            pending.append((item, child, depth + 1))
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bad_strings(value: Any, path: str = "") -> Iterator[str]:
    """Field paths of strings (keys too) git and YAML cannot take: NUL, unpaired surrogates."""
    if isinstance(value, str):
        if "\x00" in value or _unencodable(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            yield from _bad_strings(key, child)
            yield from _bad_strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_strings(item, f"{path}[{index}]")


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _field(error: ValidationError) -> str:
    """The body field an error is about: `scale.min`, `unsetEnv[0]`, `name` when it is missing."""
    path: list[Any] = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "required" and isinstance(instance, dict):
        wanted = error.validator_value if isinstance(error.validator_value, list) else []
        path += [next((k for k in wanted if k not in instance), "")]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
        path += [next((k for k in instance if k not in known), "")]
    elif "propertyNames" in error.absolute_schema_path:  # the error is about a key: name it
        path += [instance]
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problem(field: str, message: str, **where: Any) -> dict[str, Any]:
    return {"file": None, "line": None, "column": None, **where, "field": field, "message": message}


def invalid(field: str, message: str) -> RequestError:
    return RequestError(json_response({"errors": [problem(field, message)]}, 422))
