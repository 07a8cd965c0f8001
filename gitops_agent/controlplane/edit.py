"""Pure edits of `deployments/<name>.yaml`: YAML text in, YAML text out, comments and layout kept.

The control-plane verbs (`set-image`, `set-env`, `scale`) write commits that people review in pull
requests and read in `git log -p`, so a one-field edit must give a one-line diff. A PyYAML
load/dump would drop every comment and reflow the file; ruamel.yaml's round-trip mode keeps
comments, key order, flow/block style and quoting. This module adds what round-tripping alone does
not do: it reuses the indentation the file already has, never re-wraps long values, quotes new
strings the way the repository does (double quotes, only when needed) and keeps comment blocks next
to the keys they describe when keys are added, replaced or removed.

No Git and no validation here: `controlplane` runs `load_repository` on the result before anything
is written. The errors of the edit verbs live here, at the bottom of the dependency chain, so the
writer, the verbs and the CLI share them.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from gitops_agent.core.errors import GitopsAgentError
from gitops_agent.manifests import Problem, load_schema

_PLAIN = re.compile(r"^[A-Za-z0-9_/.@~+-][A-Za-z0-9_/.@~+:=-]*$")
_AUTOSCALING_ORDER = ("minReplicas", "maxReplicas", "targetCPUUtilization")


class EditError(GitopsAgentError):
    """An edit cannot be made as asked (the file's shape, a bad argument); nothing was written."""


class UnknownDeploymentError(EditError):
    """No `deployments/<name>.yaml` in the repository."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        listed = ", ".join(known) or "none"
        super().__init__(f"no deployment {name!r} in the repository (deployments: {listed})")
        self.name = name


class DeploymentExistsError(EditError):
    """`new` for a name the repository already has."""


class ValidationFailedError(EditError):
    """The edited repository would have problems the current one does not have."""

    def __init__(self, problems: Sequence[Problem], *, what: str = "the edit") -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{what} would make the repository invalid; nothing was written:\n{lines}")
        self.problems = tuple(problems)


class PushConflictError(EditError):
    """Someone else changed the same lines first; nothing was pushed and the clone is reset."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file


@dataclass(frozen=True)
class ScaleSpec:
    """A `scale` request: a fixed `replicas` count, or an autoscaling range (min..max, target CPU).

    `None` keeps what the file has (a missing min keeps the current minimum). `queue` edits
    `spec.queue` (the queue workers) instead of the API server.
    """

    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu: int | None = None
    queue: bool = False


# -- the edits ------------------------------------------------------------------------------------


def set_image(text: str, image: str) -> str:
    """`spec.image` replaced (its comments stay)."""
    yml, data = _load(text)
    _put(_spec(data), "image", yaml_string(image))
    return _dump(yml, data)


def set_suspend(text: str, suspend: bool) -> str:
    """`spec.suspend: true` written, or removed (false is the default)."""
    yml, data = _load(text)
    spec = _spec(data)
    if suspend:
        _put(spec, "suspend", True)
    elif "suspend" in spec:
        _delete(spec, "suspend")
    return _dump(yml, data)


def set_redeploy(text: str, value: str) -> str:
    """`spec.redeploy` set to `value` (a new value rolls the same spec out again)."""
    yml, data = _load(text)
    _put(_spec(data), "redeploy", yaml_string(value))
    return _dump(yml, data)


def set_env(text: str, *, set_vars: Mapping[str, str], unset: Sequence[str] = ()) -> str:
    """`spec.env` with `set_vars` set (new names appended) and `unset` removed (absent names ignored).

    An env mapping left empty is removed, and a missing one is added in schema order.
    """
    yml, data = _load(text)
    spec = _spec(data)
    env = spec.get("env")
    if env is None:
        env = CommentedMap()
    elif not isinstance(env, CommentedMap):
        raise EditError("spec.env is not a mapping")
    for name in unset:
        if name in env:
            _delete(env, name)
    for name, value in set_vars.items():
        _put(env, name, yaml_string(value), order=())
    if env:
        _put(spec, "env", env)
    elif "env" in spec:
        _delete(spec, "env")
    return _dump(yml, data)


def set_scale(text: str, scale: ScaleSpec) -> str:
    """`replicas` or `autoscaling` of the API server (or of `spec.queue`), the other one removed."""
    yml, data = _load(text)
    target, order = _spec(data), _spec_order()
    if scale.queue:
        queue = target.get("queue")
        if not isinstance(queue, CommentedMap) or queue.get("enabled") is not True:
            raise EditError("queue workers are not enabled (spec.queue.enabled: true); nothing to scale")
        target, order = queue, _queue_order()
    if scale.replicas is not None:
        _swap(target, "autoscaling", "replicas", scale.replicas, order=order)
        return _dump(yml, data)
    current = target.get("autoscaling")
    autoscaling = current if isinstance(current, CommentedMap) else CommentedMap()
    for key, value in zip(
        _AUTOSCALING_ORDER, (scale.min_replicas, scale.max_replicas, scale.target_cpu), strict=True
    ):
        if value is not None:
            _put(autoscaling, key, value, order=_AUTOSCALING_ORDER)
    if "maxReplicas" not in autoscaling:
        raise EditError("autoscaling needs a maximum (--max)")
    if "minReplicas" not in autoscaling and isinstance(target.get("replicas"), int):
        _put(autoscaling, "minReplicas", max(1, target["replicas"]), order=_AUTOSCALING_ORDER)
    _swap(target, "replicas", "autoscaling", autoscaling, order=order)
    return _dump(yml, data)


def describe_scale(text: str, *, queue: bool = False, cpu: bool = False) -> str:
    """What a scaled file now says, for the commit message: `scale 3`, `scale 2..8`, and with `cpu`
    (the CPU target was part of the request) `scale 2..8 at 70% CPU`."""
    spec = (yaml.safe_load(text) or {}).get("spec") or {}
    target = (spec.get("queue") or {}) if queue else spec
    prefix = "scale queue" if queue else "scale"
    autoscaling = target.get("autoscaling")
    if not isinstance(autoscaling, dict):
        return f"{prefix} {target.get('replicas', '?')}"
    span = f"{autoscaling.get('minReplicas', 1)}..{autoscaling.get('maxReplicas', '?')}"
    target_cpu = autoscaling.get("targetCPUUtilization")
    return f"{prefix} {span}" + (f" at {target_cpu}% CPU" if cpu and target_cpu is not None else "")


# -- YAML plumbing --------------------------------------------------------------------------------


def guess_indent(text: str) -> tuple[int, int, int]:
    """ruamel's (mapping, sequence, offset) from the file's first nested key and first `- ` item.

    ruamel applies one indentation to the whole file, so it must be the one the file uses, or every
    line would change. `offset` is where the dash sits under its key, `sequence` where the item's
    content starts. Defaults: two spaces, and `- ` indented under its key (`  - item`).
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    for parent, child in itertools.pairwise(lines):
        opener = parent.strip()
        if opener.startswith("- ") or not opener.endswith(":"):
            continue
        base = _indent_of(parent)
        if child.lstrip().startswith("- ") and sequence is None and _indent_of(child) >= base:
            dash = _indent_of(child)
            content = dash + 1 + _indent_of(child[dash + 1 :])
            sequence = (content - base, dash - base)
        elif _indent_of(child) > base and mapping is None:
            mapping = _indent_of(child) - base
    mapping = mapping or 2
    seq, offset = sequence or (mapping + 2, mapping)
    return mapping, seq, offset


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _load(text: str) -> tuple[YAML, CommentedMap]:
    mapping, sequence, offset = guess_indent(text)
    yml = YAML(typ="rt")
    yml.preserve_quotes = True
    yml.width = 4096  # never re-wrap a long value onto a second line
    yml.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        data = yml.load(text)
    except YAMLError as err:
        raise EditError(f"cannot parse the file as YAML: {err}") from err
    if not isinstance(data, CommentedMap):
        raise EditError("the file is not a YAML mapping")
    return yml, data


def _dump(yml: YAML, data: CommentedMap) -> str:
    out = io.StringIO()
    yml.dump(data, out)
    return out.getvalue()


def _spec(data: CommentedMap) -> CommentedMap:
    spec = data.get("spec")
    if not isinstance(spec, CommentedMap):
        raise EditError("the file has no `spec` mapping")
    return spec


def yaml_string(value: str) -> str:
    """A string that stays a string for every YAML reader: double-quoted only when it has to be.

    The agent reads files with PyYAML (YAML 1.1), where `on`, `no` or `1800` are not strings.
    """
    if not needs_quotes(value):
        return value
    quoted: str = DoubleQuotedScalarString(value)
    return quoted


def needs_quotes(value: str) -> bool:
    """Whether `value` written plain would not read back as this exact string."""
    if not _PLAIN.match(value):
        return True
    try:
        return bool(yaml.safe_load(value) != value)
    except yaml.YAMLError:  # `@x`, `...`: not even YAML when written plain
        return True


def _spec_order() -> tuple[str, ...]:
    return tuple(load_schema("agentdeployment")["properties"]["spec"]["properties"])


def _queue_order() -> tuple[str, ...]:
    return tuple(load_schema("agentdeployment")["properties"]["spec"]["properties"]["queue"]["properties"])


def _put(mapping: CommentedMap, key: str, value: Any, *, order: Sequence[str] | None = None) -> None:
    """Set in place when present; else insert before the first later key of `order` (default: the
    schema's spec order), or append, moving the old last item's trailing comment lines below it."""
    if key in mapping:
        mapping[key] = value
        return
    order = _spec_order() if order is None else order
    later = set(order[order.index(key) + 1 :]) if key in order else set()
    keys = list(mapping)
    position = next((i for i, k in enumerate(keys) if k in later), len(keys))
    if position == len(keys) and keys:
        trailer = _detach_trailer(mapping, keys[-1])
        mapping[key] = value
        _attach_trailer(mapping, key, trailer)
        return
    mapping.insert(position, key, value)


def _delete(mapping: CommentedMap, key: str) -> None:
    """Remove `key`; comment lines after it introduce what follows, so they stay."""
    keys = list(mapping)
    trailer = _detach_trailer(mapping, key)
    del mapping[key]
    index = keys.index(key)
    if trailer and index > 0:
        _attach_trailer(mapping, keys[index - 1], trailer)


def _swap(mapping: CommentedMap, old: str, new: str, value: Any, *, order: Sequence[str]) -> None:
    """Replace item `old` (if present) by `new` at the same position, keeping the lines after it."""
    if old not in mapping:
        _put(mapping, new, value, order=order)
        return
    position = list(mapping).index(old)
    trailer = _detach_trailer(mapping, old, keep_eol=False)
    del mapping[old]
    if new in mapping:
        mapping[new] = value
    else:
        mapping.insert(position, new, value)
    _attach_trailer(mapping, new, trailer)


def _last_leaf(container: Any, key: Any) -> tuple[Any, Any]:
    """Where ruamel keeps the comment lines after an item: on the deepest last item of a block value."""
    value = container[key]
    while isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        container, key = value, (list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1)
        value = container[key]
    return container, key


def _detach_trailer(mapping: CommentedMap, key: str, *, keep_eol: bool = True) -> str | None:
    """Cut the full-line comments (and blank lines) that ruamel glued to the item's end-of-line comment."""
    container, leaf = _last_leaf(mapping, key)
    entry = container.ca.items.get(leaf)
    token = entry[2] if entry and len(entry) > 2 else None
    if not isinstance(token, CommentToken):
        return None
    first, _, rest = token.value.partition("\n")
    if keep_eol and first.strip():
        token.value = first + "\n"
    else:
        entry[2] = None
    return rest or None


def _attach_trailer(mapping: CommentedMap, key: str, trailer: str | None) -> None:
    if not trailer:
        return
    container, leaf = _last_leaf(mapping, key)
    entry = container.ca.items.setdefault(leaf, [None, None, None, None])
    token = entry[2]
    if isinstance(token, CommentToken):
        token.value = token.value.rstrip("\n") + "\n" + trailer
    else:
        entry[2] = CommentToken("\n" + trailer, CommentMark(0), None)
