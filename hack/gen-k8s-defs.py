#!/usr/bin/env python3
"""Copy Kubernetes' own types for the pod-spec fields of an AgentDeployment into its JSON Schema.

`spec.volumes`, `volumeMounts`, `initContainers`, `sidecars`, `affinity` and
`topologySpreadConstraints` are Kubernetes types. Writing their schemas by hand would drift from
what the apiserver accepts, and a free-form mapping would let typos through, so this script takes
them from the apiserver's own OpenAPI v3 document (`/openapi/v3/api/v1`) and stores them under
`$defs` as `io.k8s.*` entries, tightened for a hand-written file:

- every object with `properties` gets `additionalProperties: false` (Kubernetes' OpenAPI leaves it
  open, so `mountpath:` instead of `mountPath:` would pass);
- descriptions, defaults and `x-kubernetes-*` extensions are dropped (the reference links to the
  Kubernetes API reference instead);
- `Volume` keeps only the sources an agent needs and the tenant-safe ones: ConfigMap, Secret,
  emptyDir, PersistentVolumeClaim, projected, CSI, downward API, ephemeral and image volumes
  (no hostPath, no deprecated in-tree drivers, no gitRepo).

    .venv/bin/python hack/gen-k8s-defs.py                     # start a local apiserver, rewrite the schema
    .venv/bin/python hack/gen-k8s-defs.py --openapi FILE      # from a saved /openapi/v3/api/v1 document
    .venv/bin/python hack/gen-k8s-defs.py --check --openapi FILE   # exit 1 if the schema is stale
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schema" / "agentdeployment.schema.json"
PREFIX = "io.k8s."
ROOTS = (
    "io.k8s.api.core.v1.Container",
    "io.k8s.api.core.v1.Volume",
    "io.k8s.api.core.v1.Affinity",
    "io.k8s.api.core.v1.TopologySpreadConstraint",
)
VOLUME_SOURCES = (
    "name", "configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected", "csi",
    "downwardAPI", "ephemeral", "image",
)  # fmt: skip
DROPPED = ("description", "default", "format")


def fetch_openapi() -> dict[str, Any]:
    """/openapi/v3/api/v1 from a throwaway local apiserver (the version the tests run)."""
    sys.path.insert(0, str(ROOT))
    from gitops_agent.localcluster.cluster import LocalCluster

    with tempfile.TemporaryDirectory() as work, LocalCluster(Path(work)) as cluster:
        context = ssl.create_default_context(cafile=str(Path(work) / "pki" / "ca.crt"))
        context.check_hostname = False
        request = urllib.request.Request(
            cluster.server + "/openapi/v3/api/v1", headers={"Authorization": f"Bearer {cluster.admin_token}"}
        )
        with urllib.request.urlopen(request, context=context) as response:
            document: dict[str, Any] = json.load(response)
            return document


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _tighten(node: Any) -> Any:
    if isinstance(node, list):
        return [_tighten(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _tighten(v) for k, v in node.items() if k not in DROPPED and not k.startswith("x-kubernetes-")}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = "#/$defs/" + out["$ref"].rsplit("/", 1)[-1]
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
        del out["allOf"]
        out["$ref"] = all_of[0]["$ref"]
    if "properties" in out:
        out["additionalProperties"] = False
    return out


def kubernetes_defs(openapi: dict[str, Any]) -> dict[str, Any]:
    """The `io.k8s.*` `$defs` entries: the closure of ROOTS, tightened."""
    schemas: dict[str, Any] = openapi["components"]["schemas"]
    volume = dict(schemas["io.k8s.api.core.v1.Volume"])
    volume["properties"] = {k: v for k, v in volume["properties"].items() if k in VOLUME_SOURCES}
    schemas = {**schemas, "io.k8s.api.core.v1.Volume": volume}
    wanted: dict[str, Any] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted[name] = schemas[name]
        todo.extend(_refs(schemas[name]))
    return {name: _tighten(wanted[name]) for name in sorted(wanted)}


def updated_schema(openapi: dict[str, Any]) -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = {k: v for k, v in schema["$defs"].items() if not k.startswith(PREFIX)}
    schema["$defs"] = {**defs, **kubernetes_defs(openapi)}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openapi", type=Path, help="a saved /openapi/v3/api/v1 document")
    parser.add_argument("--check", action="store_true", help="exit 1 when the schema is out of date")
    args = parser.parse_args(argv)
    openapi = json.loads(args.openapi.read_text(encoding="utf-8")) if args.openapi else fetch_openapi()
    text = updated_schema(openapi)
    if args.check:
        if SCHEMA.read_text(encoding="utf-8") != text:
            print(f"{SCHEMA.relative_to(ROOT)} is out of date; run hack/gen-k8s-defs.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(ROOT)} ({len(kubernetes_defs(openapi))} Kubernetes types)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
