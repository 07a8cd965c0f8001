"""Render a valid unit into the ordered Kubernetes objects the sync engine applies.

Rendering is a pure function of (unit, settings, secret_seed): no clock, no randomness, no cluster.
That makes the spec hash meaningful (it changes exactly when the desired state changes, which is what
bumps a deployment's revision) and lets `gitops-agent render` show users precisely what will be
applied. Revision and commit are never written to objects: they live in the revision history, so
a new revision writes only the objects whose spec really changed.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_agent.core.errors import ManifestError
from gitops_agent.core.kinds import Stage, kind_of
from gitops_agent.core.labels import (
    ANNOTATION_SPEC_HASH,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    MANIFESTS_UNIT,
)
from gitops_agent.core.objects import DesiredObject, ObjectKey, RenderedUnit, sha256_of
from gitops_agent.manifests import render_agent, render_backing
from gitops_agent.manifests.model import AgentDeployment, ManagedPostgres, ManagedRedis, Settings, Unit

PLACEHOLDER_SEED = b"gitops-agent offline placeholder seed - not for clusters"
"""Seed for offline renders (CLI, tests); the in-cluster agent keeps its real seed in a Secret."""


def render_unit(unit: Unit, settings: Settings, *, secret_seed: bytes) -> RenderedUnit:
    """Ordered desired objects of a valid unit; raises ManifestError for an invalid one."""
    if not unit.valid:
        first = unit.problems[0]
        more = f" (and {len(unit.problems) - 1} more problems)" if len(unit.problems) > 1 else ""
        raise ManifestError(f"cannot render {unit.name}: {first}{more}")
    if unit.deployment is not None:
        staged = _deployment_objects(unit.deployment, secret_seed=secret_seed)
        namespace = unit.deployment.namespace
    elif unit.name == MANIFESTS_UNIT:
        staged = [(_plain_stage(m), _owned_plain(m)) for m in unit.plain_objects]
        namespace = settings.namespace
    else:
        raise ManifestError(f"cannot render {unit.name}: it holds no deployment")
    objects = sorted(
        (DesiredObject(int(stage), _with_spec_hash(m)) for stage, m in staged), key=DesiredObject.sort_key
    )
    spec_hash = sha256_of([o.manifest for o in objects])
    return RenderedUnit(name=unit.name, namespace=namespace, objects=tuple(objects), spec_hash=spec_hash)


def _plain_stage(manifest: dict[str, Any]) -> Stage:
    """A plain manifest is applied in its kind's stage (see `core.kinds`)."""
    stage = kind_of(ObjectKey.of(manifest)).stage
    return Stage.WORKLOAD if stage is None else stage


def _deployment_objects(dep: AgentDeployment, *, secret_seed: bytes) -> list[tuple[Stage, dict[str, Any]]]:
    staged: list[tuple[Stage, dict[str, Any]]] = []
    backing: list[dict[str, Any]] = []
    if isinstance(dep.postgres, ManagedPostgres):
        backing += render_backing.postgres_objects(dep, dep.postgres, secret_seed=secret_seed)
    if isinstance(dep.redis, ManagedRedis):
        backing += render_backing.redis_objects(dep, dep.redis, secret_seed=secret_seed)
    for manifest in backing:
        staged.append((Stage.CONFIG if manifest["kind"] == "Secret" else Stage.DATA, manifest))
    staged.append((Stage.WORKLOAD, render_agent.api_deployment(dep)))
    if dep.queue.enabled:
        staged.append((Stage.WORKLOAD, render_agent.queue_deployment(dep)))
    staged.append((Stage.SERVICE, render_agent.service(dep)))
    route = render_agent.route(dep)
    if route is not None:
        staged.append((Stage.ROUTING, route))
    staged.extend((Stage.SCALING, m) for m in render_agent.scaling_objects(dep))
    return staged


def _owned_plain(manifest: dict[str, Any]) -> dict[str, Any]:
    """A plain manifest with the ownership labels added (other user labels are kept as written)."""
    out = copy.deepcopy(manifest)
    labels = out["metadata"].setdefault("labels", {})
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    labels[LABEL_DEPLOYMENT] = MANIFESTS_UNIT
    return out


def _with_spec_hash(manifest: dict[str, Any]) -> dict[str, Any]:
    """Annotate the object with the hash of its own content, so drift in the desired spec is cheap to see."""
    digest = sha256_of(manifest)
    manifest["metadata"].setdefault("annotations", {})[ANNOTATION_SPEC_HASH] = digest
    return manifest
