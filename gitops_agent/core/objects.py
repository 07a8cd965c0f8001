"""Rendered Kubernetes objects as the sync engine receives them, and their canonical serialisations.

Objects stay plain dicts (what server-side apply sends), wrapped with the stage they are applied in.
Canonical JSON (sorted keys, no whitespace) is what hashes are computed over, and the YAML dump uses
sorted keys too, so the same input always produces byte-identical output.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

MASK = "***"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object in the cluster; str() is `Kind/namespace/name` (`Kind/name` if unnamespaced)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        """API group ("" for the core group): `apps/v1` → `apps`."""
        return self.api_version.rpartition("/")[0]

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> ObjectKey:
        """The key of a manifest dict."""
        metadata = manifest.get("metadata", {})
        return cls(manifest["apiVersion"], manifest["kind"], metadata.get("namespace", ""), metadata["name"])

    def __str__(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


@dataclass(frozen=True)
class DesiredObject:
    """One object to apply, in its stage."""

    stage: int
    manifest: dict[str, Any]

    @property
    def key(self) -> ObjectKey:
        return ObjectKey.of(self.manifest)

    def sort_key(self) -> tuple[int, str, str, str]:
        key = self.key
        return self.stage, key.kind, key.namespace, key.name


@dataclass(frozen=True)
class RenderedUnit:
    """Everything one unit renders to; `spec_hash` changes exactly when any object changes."""

    name: str
    namespace: str
    objects: tuple[DesiredObject, ...]
    spec_hash: str

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """The objects' dicts in apply order (shared, not copied)."""
        return [o.manifest for o in self.objects]


def canonical_json(value: Any) -> str:
    """Key-sorted, whitespace-free JSON: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(value: Any) -> str:
    """Hex sha256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def is_secret(manifest: Mapping[str, Any] | None) -> bool:
    """A core/v1 Secret: its `data` and `stringData` values are never shown."""
    return manifest is not None and manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1"


def masked(manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy with every Secret value replaced by `***` (other kinds are returned unchanged)."""
    if not is_secret(manifest):
        return manifest
    out = copy.deepcopy(manifest)
    for field in ("data", "stringData"):
        if isinstance(out.get(field), dict):
            out[field] = dict.fromkeys(out[field], MASK)
    return out


class _Dumper(yaml.SafeDumper):
    """No anchors or aliases (shared sub-objects are written out); block style for multi-line text."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(documents: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """A multi-document YAML stream; each (source, object) gets a `# Source:` comment line."""
    parts = []
    for source, manifest in documents:
        body = yaml.dump(
            manifest, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=4096
        )
        parts.append(f"---\n# Source: {source}\n{body}")
    return "".join(parts)
