"""The per-cluster seed that generated passwords are derived from.

Rendering stays a pure function: passwords are HMAC(seed, namespace/name/purpose), so the same
repository renders the same Secrets on every sync, and the only random thing — the seed — is made
once and kept in a Secret in the state namespace.
"""

from __future__ import annotations

import base64
import secrets

from gitops_agent.core.errors import ConfigError
from gitops_agent.kube.client import KubeClient

SEED_SECRET = "gitops-agent-seed"


def load_or_create_seed(kube: KubeClient, namespace: str, *, create: bool) -> bytes:
    """The seed from the cluster; made on first use when `create`, else a throwaway one (dry runs)."""
    live = kube.get("v1", "Secret", SEED_SECRET, namespace)
    if live is not None:
        return base64.b64decode(live.get("data", {}).get("seed", ""))
    seed = secrets.token_bytes(32)
    if create:
        if kube.get("v1", "Namespace", namespace) is None:
            raise ConfigError(
                f"the state namespace {namespace!r} does not exist: create it or pass "
                "--state-namespace (gitops-agent never creates or deletes namespaces)"
            )
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": SEED_SECRET, "namespace": namespace},
                "type": "Opaque",
                "data": {"seed": base64.b64encode(seed).decode()},
            }
        )
    return seed
