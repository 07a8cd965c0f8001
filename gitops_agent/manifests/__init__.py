"""The manifest layer: a deployments repository on disk → validated units → Kubernetes objects.

Pure code, no cluster. The sync engine uses exactly this surface:

- `load_repository(root)` → `RepositoryLoad(settings, units, problems)`; never raises for bad input.
- `render_unit(unit, settings, secret_seed=...)` → `RenderedUnit` (ordered `DesiredObject`s, spec hash).

Stages: `yamlpos` (YAML with positions) → `schemas` (JSON Schema) → `build` (model with defaults) →
`validate` (semantic and cross-file checks) → `render*` (objects). Labels and reserved names live in
`labels`.
"""

from gitops_agent.core.kinds import Stage
from gitops_agent.core.labels import (
    ANNOTATION_SPEC_HASH,
    ENV_DEPLOYMENT,
    LABEL_COMPONENT,
    LABEL_DEPLOYMENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    MANAGED_BY,
    MANIFESTS_UNIT,
)
from gitops_agent.core.objects import DesiredObject, ObjectKey, RenderedUnit, dump_yaml, masked
from gitops_agent.manifests.model import (
    AgentDeployment,
    DeploymentType,
    Problem,
    RepositoryLoad,
    Settings,
    Unit,
)
from gitops_agent.manifests.render import PLACEHOLDER_SEED, render_unit
from gitops_agent.manifests.repository import load_repository
from gitops_agent.manifests.schemas import load_schema, schema_text

__all__ = [
    "ANNOTATION_SPEC_HASH",
    "ENV_DEPLOYMENT",
    "LABEL_COMPONENT",
    "LABEL_DEPLOYMENT",
    "LABEL_INSTANCE",
    "LABEL_MANAGED_BY",
    "LABEL_NAME",
    "MANAGED_BY",
    "MANIFESTS_UNIT",
    "PLACEHOLDER_SEED",
    "AgentDeployment",
    "DeploymentType",
    "DesiredObject",
    "ObjectKey",
    "Problem",
    "RenderedUnit",
    "RepositoryLoad",
    "Settings",
    "Stage",
    "Unit",
    "dump_yaml",
    "load_repository",
    "load_schema",
    "masked",
    "render_unit",
    "schema_text",
]
