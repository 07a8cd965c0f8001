"""Label, annotation and environment names gitops-agent owns.

Ownership is how the sync engine tells its objects from everyone else's, so the names live in one
place that the renderer, the validator (which stops users from forging them) and the sync engine all
import.
"""

from __future__ import annotations

FIELD_MANAGER = "gitops-agent"
"""The server-side-apply field manager, and the value of the managed-by label."""
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_DEPLOYMENT = "gitops-agent.dev/deployment"
LABEL_OWNER = "gitops-agent.dev/instance"
"""The agent instance that owns an object or inventory (`--instance`, default its state namespace)."""
MANAGED_BY = FIELD_MANAGER
"""Value of LABEL_MANAGED_BY on every object gitops-agent applies."""

ANNOTATION_REDEPLOY = "gitops-agent.dev/redeploy"
"""On the agent pod templates: `spec.redeploy`, so changing it restarts the pods."""
ANNOTATION_SPEC_HASH = "gitops-agent.dev/spec-hash"
"""sha256 of the object as rendered (without this annotation, revision and commit)."""

RESERVED_PREFIX = "gitops-agent.dev/"
"""Label and annotation keys under this prefix belong to gitops-agent."""
RESERVED_LABELS = frozenset({LABEL_MANAGED_BY, LABEL_NAME, LABEL_INSTANCE, LABEL_COMPONENT})
"""Labels gitops-agent sets on rendered objects; users may not set them on deployments."""

MANIFESTS_UNIT = "manifests"
"""Name of the unit made of `manifests/`; reserved, no deployment may use it."""

# Values of LABEL_NAME / LABEL_COMPONENT per rendered component.
APP_API = "langgraph-api"
APP_QUEUE = "langgraph-queue"
APP_POSTGRES = "postgres"
APP_REDIS = "redis"
COMPONENT_API = "api-server"
COMPONENT_QUEUE = "queue"
COMPONENT_POSTGRES = "database"
COMPONENT_REDIS = "cache"

ENV_DEPLOYMENT = "GITOPS_AGENT_DEPLOYMENT"
ENV_PREFIX = "GITOPS_AGENT_"
RESERVED_ENV = frozenset(
    {
        "PORT",
        "DATABASE_URI",
        "POSTGRES_URI",
        "POSTGRES_URI_CUSTOM",
        "REDIS_URI",
        "REDIS_URI_CUSTOM",
        "N_JOBS_PER_WORKER",
        "MOUNT_PREFIX",
        "LANGGRAPH_MOUNT_PREFIX",
    }
)
"""Environment variables gitops-agent sets on agent containers (plus everything under ENV_PREFIX)."""


def env_name_reserved(name: str) -> bool:
    """True when gitops-agent sets `name` itself, so a user value would be silently overridden."""
    return name in RESERVED_ENV or name.startswith(ENV_PREFIX)


def selector_labels(app: str, instance: str) -> dict[str, str]:
    """The immutable selector of a workload: only name and instance, never user labels or hashes."""
    return {LABEL_NAME: app, LABEL_INSTANCE: instance}


def ownership_labels(*, deployment: str, app: str, component: str) -> dict[str, str]:
    """All labels gitops-agent puts on an object it renders for `deployment`."""
    return {
        **selector_labels(app, deployment),
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_DEPLOYMENT: deployment,
    }
