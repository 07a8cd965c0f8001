"""The `diff` stage: what would change, object by object, and how to show it.

Pure functions. The comparison is between the server-side-apply *dry-run* result and the live
object, both stripped of what the server manages (status, managedFields, resourceVersion, ...):
server defaults then appear on both sides, so a freshly synced repository shows no diff at all.
Secret values are masked in every rendering; a changed value shows as changed, never its content.
"""

from __future__ import annotations

import base64
import copy
import difflib
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_agent.core.credentials import credential_kind
from gitops_agent.core.labels import ANNOTATION_SPEC_HASH
from gitops_agent.core.objects import MASK, ObjectKey, is_secret

SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
SERVER_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
)
MASK_CHANGED = "*** (changed)"


class Action(enum.StrEnum):
    """What the sync does (or would do) to one object."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PRUNE = "prune"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ObjectChange:
    """One object's action, its masked YAML diff (empty when unchanged) and why it was skipped."""

    unit: str
    key: ObjectKey
    action: Action
    diff: str = ""
    reason: str = ""
    summary: str = ""
    """What changed, in one line (`image 1.4.2 → 1.5.0, env +LOG_LEVEL`); see `describe_change`."""

    def to_json(self) -> dict[str, str]:
        out = {"unit": self.unit, "object": str(self.key), "action": self.action.value}
        if self.summary:
            out["summary"] = self.summary
        if self.diff:
            out["diff"] = self.diff
        if self.reason:
            out["reason"] = self.reason
        return out


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without status and server-managed metadata: what two versions are compared on."""
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for field in SERVER_METADATA:
            meta.pop(field, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for name in SERVER_ANNOTATIONS:
                annotations.pop(name, None)
            if not annotations:
                meta.pop("annotations")
    return out


def same(dry_run: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """True when applying would change nothing the user cares about."""
    return comparable(dry_run) == comparable(live)


def is_subset(desired: Any, live: Any) -> bool:
    """True when every field of `desired` is in `live` with the same value (lists: same length, in order).

    A cheap, local test used to skip the dry-run: if it holds (and the rendered spec did not change
    since the last apply), applying would be a no-op. If it fails, the dry-run decides.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
    return bool(desired == live)


def secret_subset(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """is_subset for a Secret rendered with stringData (the server stores it base64'd in data)."""
    string_data = desired.get("stringData") or {}
    rest = {k: v for k, v in desired.items() if k != "stringData"}
    live_data = live.get("data") or {}
    for key, value in string_data.items():
        encoded = base64.b64encode(str(value).encode()).decode()
        if live_data.get(key) != encoded:
            return False
    return is_subset(rest, live)


def desired_in_live(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """The fast-path test for any kind."""
    if is_secret(desired):
        return secret_subset(desired, live)
    return is_subset(desired, live)


def mask_secrets(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Any, Any]:
    """Copies of both sides with Secret values replaced; a value that differs is marked changed."""
    if not is_secret(before) and not is_secret(after):
        return before, after
    before, after = copy.deepcopy(before), copy.deepcopy(after)
    for field in ("data", "stringData"):
        old = (before or {}).get(field) or {}
        new = (after or {}).get(field) or {}
        if before is not None and old:
            before[field] = dict.fromkeys(old, MASK)
        if after is not None and new:
            after[field] = {k: MASK if old.get(k) == v else MASK_CHANGED for k, v in new.items()}
    return before, after


def _mask_env(before: Any, after: Any) -> None:
    """In place: every `env` entry whose plain value looks like a credential (`core.credentials`),
    on either side, is shown as `***` (`*** (changed)` on the new side when it changed)."""
    if isinstance(after, dict) or isinstance(before, dict):
        old, new = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
        for key in set(old) | set(new):
            if key == "env":
                _mask_env_list(old.get(key), new.get(key))
            else:
                _mask_env(old.get(key), new.get(key))
    elif isinstance(after, list) or isinstance(before, list):
        old_items, new_items = (
            before if isinstance(before, list) else [],
            after if isinstance(after, list) else [],
        )
        for index in range(max(len(old_items), len(new_items))):
            _mask_env(
                old_items[index] if index < len(old_items) else None,
                new_items[index] if index < len(new_items) else None,
            )


def _mask_env_list(before: Any, after: Any) -> None:
    def entries(env: Any) -> list[dict[str, Any]]:
        return (
            [e for e in env if isinstance(e, dict) and isinstance(e.get("value"), str)]
            if isinstance(env, list)
            else []
        )

    old = {str(e.get("name")): e["value"] for e in entries(before)}
    sensitive = {
        str(e.get("name"))
        for e in entries(before) + entries(after)
        if credential_kind(str(e.get("name")), e["value"])
    }
    for entry in entries(before):
        if entry.get("name") in sensitive:
            entry["value"] = MASK
    for entry in entries(after):
        if entry.get("name") in sensitive:
            unchanged = not isinstance(before, list) or old.get(str(entry.get("name"))) == entry["value"]
            entry["value"] = MASK if unchanged else MASK_CHANGED


def yaml_diff(key: ObjectKey, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """A unified diff of the two versions as YAML (masked, server noise stripped)."""
    old = comparable(before) if before is not None else None
    new = comparable(after) if after is not None else None
    _mask_env(old, new)  # on the copies `comparable` made
    old, new = mask_secrets(old, new)
    old_lines = _yaml_lines(old)
    new_lines = _yaml_lines(new)
    label = str(key)
    lines = difflib.unified_diff(old_lines, new_lines, f"live/{label}", f"desired/{label}", n=3)
    return "".join(lines)


_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter when PyYAML has it (its wheels do): the same text as the pure-Python one (the
representer is the same), ~4.5x faster, which a cold sync of thousands of objects (a create's diff is
the whole object) feels."""


def _yaml_lines(obj: Any) -> list[str]:
    if obj is None:
        return []
    text = yaml.dump(obj, Dumper=_DUMPER, sort_keys=True, default_flow_style=False, width=4096)
    return text.splitlines(keepends=True)


# -- one-line summaries ------------------------------------------------------------------------


def describe_change(live: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> str:
    """What applying `desired` over `live` changes, in words: `image 1.4.2 → 1.5.0, env +LOG_LEVEL`.

    Only fields the render sets are compared (server defaults are not the user's change). Workloads
    are described by image, env, replicas and resources; anything else by the paths that differ.
    Secret values are never shown, only their keys.
    """
    if live is None:
        return f"new {desired.get('kind', 'object')}"
    parts: list[str] = []
    if _pod_spec(desired) is not None:
        parts += _workload_changes(live, desired)
        desired = _without_containers_and_replicas(desired)
    if is_secret(desired):
        parts += _key_changes("data", live.get("data") or {}, _secret_keys(desired))
        desired = {k: v for k, v in desired.items() if k not in ("data", "stringData")}
    paths = _differing_paths(desired, live)
    parts += [f"{p} changed" for p in paths[:3]] + (
        [f"{len(paths) - 3} more fields"] if len(paths) > 3 else []
    )
    return ", ".join(parts)


def unit_summary(changes: Iterable[ObjectChange]) -> str:
    """One line for a deployment: each object's summary, repeated fragments said once."""
    seen: list[str] = []
    for change in changes:
        fragments = [change.summary] if change.action is not Action.PRUNE else [f"-{change.key.kind}"]
        for part in ", ".join(f for f in fragments if f).split(", "):
            if part and part not in seen:
                seen.append(part)
    return ", ".join(seen)


def _pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = (obj.get("spec") or {}).get("template", {}).get("spec")
    return spec if isinstance(spec, Mapping) else None


def _workload_changes(live: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    old_containers = {c.get("name"): c for c in (_pod_spec(live) or {}).get("containers") or []}
    for container in (_pod_spec(desired) or {}).get("containers") or []:
        old = old_containers.get(container.get("name"), {})
        if old.get("image") != container.get("image"):
            parts.append(_image_change(str(old.get("image", "")), str(container.get("image", ""))))
        parts += _env_changes(old.get("env") or [], container.get("env") or [])
        old_res, new_res = old.get("resources") or {}, container.get("resources") or {}
        for bound in ("requests", "limits"):
            for name, value in (new_res.get(bound) or {}).items():
                before = (old_res.get(bound) or {}).get(name)
                if str(before) != str(value):
                    parts.append(
                        f"{name} {bound[:-1] if bound == 'requests' else 'limit'} {before} → {value}"
                    )
    old_replicas, new_replicas = (
        (live.get("spec") or {}).get("replicas"),
        (desired.get("spec") or {}).get("replicas"),
    )
    if new_replicas is not None and old_replicas != new_replicas:
        parts.append(f"replicas {old_replicas} → {new_replicas}")
    return parts


def _image_change(old: str, new: str) -> str:
    old_repo, _, old_tag = old.rpartition(":") if "@" not in old else (old, "", "")
    new_repo, _, new_tag = new.rpartition(":") if "@" not in new else (new, "", "")
    if old_repo and old_repo == new_repo and "/" not in old_tag and "/" not in new_tag:
        return f"image {old_tag} → {new_tag}"
    return f"image {old or '?'} → {new}"


def _env_changes(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> list[str]:
    before = {str(e.get("name")): e for e in old}
    after = {str(e.get("name")): e for e in new}
    added = [f"+{n}" for n in after if n not in before]
    removed = [f"-{n}" for n in before if n not in after]
    changed = [f"~{n}" for n in after if n in before and not is_subset(after[n], before[n])]
    names = added + removed + changed
    return [f"env {' '.join(names)}"] if names else []


def _key_changes(field: str, old: Mapping[str, Any], new_keys: set[str]) -> list[str]:
    names = [f"+{k}" for k in sorted(new_keys - set(old))] + [f"-{k}" for k in sorted(set(old) - new_keys)]
    return [f"{field} {' '.join(names)}"] if names else []


def _secret_keys(secret: Mapping[str, Any]) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def _without_containers_and_replicas(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    spec = out.get("spec") or {}
    spec.pop("replicas", None)
    pod = spec.get("template", {}).get("spec") or {}
    pod.pop("containers", None)
    return out


def _differing_paths(desired: Any, live: Any, path: str = "") -> list[str]:
    """Dotted paths of fields `desired` sets to something `live` does not hold (metadata noise aside)."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        out: list[str] = []
        for key, value in desired.items():
            if path == "" and key in ("apiVersion", "kind", "status"):
                continue
            if path == "metadata.annotations" and key == ANNOTATION_SPEC_HASH:
                continue  # follows every other change
            out += _differing_paths(value, live.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if is_subset(desired, live) else [path]


# -- output formats ----------------------------------------------------------------------------


def format_changes(changes: Sequence[ObjectChange], fmt: str, *, problems: Iterable[str] = ()) -> str:
    """Render changes as `text` (terminal), `json` (machines) or `markdown` (a PR comment)."""
    problems = list(problems)
    if fmt == "json":
        return json.dumps({"changes": [c.to_json() for c in changes], "problems": problems}, indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(changes, problems)
    return _text(changes, problems)


def summary_counts(changes: Iterable[ObjectChange]) -> dict[str, int]:
    """How many objects per action (all actions present, in a stable order)."""
    counts = {action.value: 0 for action in Action}
    for change in changes:
        counts[change.action.value] += 1
    return counts


def _summary_line(changes: Sequence[ObjectChange]) -> str:
    counts = summary_counts(changes)
    return ", ".join(f"{n} to {a}" if a != "unchanged" else f"{n} unchanged" for a, n in counts.items() if n)


def _by_unit(changes: Sequence[ObjectChange]) -> dict[str, str]:
    """Each deployment with a real change, and its one-line summary."""
    units: dict[str, list[ObjectChange]] = {}
    for change in changes:
        if change.action is not Action.UNCHANGED:
            units.setdefault(change.unit, []).append(change)
    return {unit: unit_summary(unit_changes) for unit, unit_changes in sorted(units.items())}


def _text(changes: Sequence[ObjectChange], problems: list[str]) -> str:
    out = [f"{unit}: {summary}\n" for unit, summary in _by_unit(changes).items()]
    if out:
        out.append("\n")
    for change in changes:
        if change.action is Action.UNCHANGED:
            continue
        reason = f" ({change.reason})" if change.reason else ""
        out.append(f"{change.action.value:<9} {change.unit:<24} {change.key}{reason}\n")
        if change.diff:
            out.append(change.diff if change.diff.endswith("\n") else change.diff + "\n")
    out.extend(f"error     {p}\n" for p in problems)
    out.append(f"{_summary_line(changes) or 'no objects'}\n")
    return "".join(out)


def _markdown(changes: Sequence[ObjectChange], problems: list[str]) -> str:
    out = ["### gitops-agent diff\n\n", f"{_summary_line(changes) or 'No objects.'}\n\n"]
    if problems:
        out.append("**Errors**\n\n")
        out.extend(f"- `{p}`\n" for p in problems)
        out.append("\n")
    changed = [c for c in changes if c.action is not Action.UNCHANGED]
    if changed:
        out.append("| deployment | change |\n|---|---|\n")
        out.extend(f"| {unit} | {summary} |\n" for unit, summary in _by_unit(changes).items())
        out.append("\n| action | deployment | object |\n|---|---|---|\n")
        out.extend(f"| {c.action.value} | {c.unit} | `{c.key}` |\n" for c in changed)
        for change in changed:
            if change.diff:
                out.append(
                    f"\n<details><summary>{change.key}</summary>\n\n```diff\n{change.diff}```\n</details>\n"
                )
    return "".join(out)
