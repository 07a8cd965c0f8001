"""`gitops-agent new`: the text of a new, commented `deployments/<name>.yaml`.

A scaffolded file is the first thing a new user reads about the format, so it is written as text
with a comment on every choice (what the value does, what the alternative is) rather than dumped
from a dict. Values are quoted with the same rule as the edit verbs; the result still goes through
`load_repository` (in `controlplane`) before anything is committed, so a bad flag value is reported
as file:line: field: message like any other problem.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from gitops_agent.controlplane.edit import EditError, needs_quotes

REFERENCE = "docs/manifest-reference.md"


@dataclass(frozen=True)
class SecretRef:
    """`NAME:KEY`: a key in an existing Secret."""

    name: str
    key: str

    @classmethod
    def parse(cls, text: str, *, flag: str) -> SecretRef:
        name, colon, key = text.partition(":")
        if not colon or not name or not key:
            raise EditError(f"{flag} wants SECRET:KEY, got {text!r}")
        return cls(name, key)


@dataclass(frozen=True)
class NewDeployment:
    """Everything `new` can set; `None` leaves a field to the repository defaults."""

    name: str
    image: str
    type: str | None = None
    namespace: str | None = None
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu: int | None = None
    cpu: str | None = None
    memory: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, SecretRef], ...] = ()
    queue: bool = False
    ingress_path: str | None = None
    ingress_host: str | None = None
    postgres_secret: SecretRef | None = None
    redis_secret: SecretRef | None = None


def render_new(new: NewDeployment) -> str:
    """The file's text; sections appear in schema order, each with a short why-comment."""
    if new.ingress_path and new.ingress_host:
        raise EditError("give --path or --host, not both")
    if new.replicas is not None and new.max_replicas is not None:
        raise EditError("give --replicas (fixed) or --min/--max (autoscaling), not both")
    lines = [
        f"# {new.name}, created with `gitops-agent new`. Reference: {REFERENCE}",
        "apiVersion: gitops-agent.dev/v1",
        "kind: AgentDeployment",
        "metadata:",
        f"  name: {yaml_string(new.name)}  # must match the file name",
    ]
    if new.namespace:
        lines.append(f"  namespace: {yaml_string(new.namespace)}")
    lines += [
        "spec:",
        "  # Built with `langgraph build`; pin a tag or digest (production rejects `:latest`).",
        f"  image: {yaml_string(new.image)}",
    ]
    lines += _type_and_scale(new)
    lines += _resources(new)
    lines += _env(new.env, new.secret_env)
    if new.queue:
        lines += [
            "  # Background runs execute in separate queue-worker pods.",
            "  queue:",
            "    enabled: true",
        ]
    lines += _backing("postgres", new.postgres_secret, "Postgres (threads, runs, checkpoints)")
    lines += _backing("redis", new.redis_secret, "Redis (signals to queue workers)")
    lines += _ingress(new)
    return "\n".join(lines) + "\n"


def yaml_string(value: str) -> str:
    """`value` as YAML text: plain when safe, else double-quoted (JSON escapes are valid YAML)."""
    return json.dumps(value) if needs_quotes(value) else value


def _type_and_scale(new: NewDeployment) -> list[str]:
    out = []
    if new.type:
        out.append(
            f"  type: {new.type}  # development: 1 replica, no PodDisruptionBudget; production: 2+ and a PDB"
        )
    if new.replicas is not None:
        out.append(f"  replicas: {new.replicas}  # fixed size; `gitops-agent scale` switches to autoscaling")
    elif new.max_replicas is not None:
        out += [
            "  # A HorizontalPodAutoscaler on CPU owns the replica count.",
            "  autoscaling:",
            f"    minReplicas: {new.min_replicas if new.min_replicas is not None else 1}",
            f"    maxReplicas: {new.max_replicas}",
        ]
        if new.target_cpu is not None:
            out.append(f"    targetCPUUtilization: {new.target_cpu}")
    return out


def _resources(new: NewDeployment) -> list[str]:
    requests = [f"{k}: {yaml_string(v)}" for k, v in (("cpu", new.cpu), ("memory", new.memory)) if v]
    if not requests:
        return ["  # resources: `defaults.resources` in gitops-agent.yaml, else sized by type"]
    return ["  resources:", f"    requests: {{{', '.join(requests)}}}"]


def _env(env: Sequence[tuple[str, str]], secret_env: Sequence[tuple[str, SecretRef]]) -> list[str]:
    out = []
    if env:
        out += ["  # Plain settings; values are strings. Never put credentials here.", "  env:"]
        out += [f"    {name}: {yaml_string(value)}" for name, value in env]
    if secret_env:
        out += ["  # Credentials stay in Secrets created out of band.", "  secretEnv:"]
        out += [
            f"    - {{name: {name}, secret: {yaml_string(ref.name)}, key: {yaml_string(ref.key)}}}"
            for name, ref in secret_env
        ]
    return out


def _backing(field: str, secret: SecretRef | None, what: str) -> list[str]:
    if secret is None:
        return [f"  # {what}, run in the cluster by gitops-agent.", f"  {field}:", "    managed: {}"]
    return [
        f"  # {what}, run elsewhere: its URI is read from a Secret.",
        f"  {field}:",
        "    external:",
        f"      uriSecret: {{name: {yaml_string(secret.name)}, key: {yaml_string(secret.key)}}}",
    ]


def _ingress(new: NewDeployment) -> list[str]:
    if new.ingress_path:
        return [
            "  # Served under the repository's shared host and base path (gitops-agent.yaml `ingress`).",
            "  ingress:",
            f"    path: {yaml_string(new.ingress_path)}",
        ]
    if new.ingress_host:
        return [
            "  # Served on its own host name.",
            "  ingress:",
            f"    host: {yaml_string(new.ingress_host)}",
        ]
    return ["  # No ingress: reachable inside the cluster through its Service only."]
