"""Semantic checks: what JSON Schema cannot express, each reported at the field that causes it.

The schema guarantees shapes; these checks catch mistakes that would otherwise surface much later
and far from the file (a Deployment the API server rejects, an HPA that never scales, two agents
fighting over one URL, a user variable silently overridden by an injected one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from gitops_agent.core.labels import (
    COMPONENT_API,
    COMPONENT_QUEUE,
    MANIFESTS_UNIT,
    RESERVED_LABELS,
    RESERVED_PREFIX,
    env_name_reserved,
)
from gitops_agent.manifests.model import (
    STARTUP_KEYS,
    AgentDeployment,
    AutoscalingMode,
    DeploymentType,
    ManagedPostgres,
    ManagedRedis,
    Problem,
    Resources,
    Routing,
    Settings,
)
from gitops_agent.manifests.syntax import ImageRef, parse_image, parse_quantity
from gitops_agent.manifests.yamlpos import Document, FieldPath, format_path

RESERVED_PATH = "/noauth"
"""LangGraph Server uses this prefix for its own loopback requests."""
OWN_CONTAINERS = frozenset({COMPONENT_API, COMPONENT_QUEUE})


@dataclass(frozen=True)
class Checker:
    """Collects problems for one file, locating each field path in its document."""

    doc: Document
    file: str

    def problem(self, path: FieldPath, message: str, *, on_key: bool = False) -> Problem:
        mark = self.doc.mark(path, prefer_key=on_key)
        return Problem(self.file, mark.line, mark.column, format_path(path), message)

    def written(self, path: FieldPath) -> bool:
        """True when the file itself sets `path` (as opposed to a default)."""
        return path in self.doc.values


def check_resources(check: Checker, resources: Resources, path: FieldPath) -> Iterator[Problem]:
    """Each limit must be at least its request (the API server rejects the pod otherwise).

    Only blocks written in this file are checked: defaults were checked where they are written.
    """
    if not check.written(path):
        return
    for what, request, limit in (
        ("cpu", resources.cpu_request, resources.cpu_limit),
        ("memory", resources.memory_request, resources.memory_limit),
    ):
        low = parse_quantity(request) if request else None
        high = parse_quantity(limit) if limit else None
        if low is not None and high is not None and high < low:
            yield check.problem(
                (*path, "limits", what), f"limit {limit} is smaller than the request {request}"
            )


def check_deployment(dep: AgentDeployment, check: Checker, settings: Settings, *, stem: str) -> list[Problem]:
    """Every semantic problem of one deployment file."""
    problems = [
        *_identity(dep, check, settings, stem),
        *_images(dep, check),
        *_sizes(dep, check),
        *_environment(dep, check),
        *_scaling(dep, check, settings),
        *_ingress(dep, check, settings),
        *_langsmith(dep, check, settings),
        *_pod(dep, check),
        *_metadata_keys(check),
    ]
    return sorted(set(problems))


def _identity(dep: AgentDeployment, check: Checker, settings: Settings, stem: str) -> Iterator[Problem]:
    if dep.name == MANIFESTS_UNIT:
        yield check.problem(("metadata", "name"), f"{MANIFESTS_UNIT!r} is reserved for the manifests/ folder")
    if dep.name != stem:
        yield check.problem(
            ("metadata", "name"),
            f"name {dep.name!r} does not match the file name {stem!r}: rename the file to {dep.name}.yaml "
            "or change the name",
        )
    if not settings.namespace_allowed(dep.namespace):
        allowed = ", ".join((settings.namespace, *settings.allowed_namespaces))
        yield check.problem(
            ("metadata", "namespace"),
            f"namespace {dep.namespace!r} is not allowed; allowed: {allowed} (see allowedNamespaces in "
            f"{settings.file})",
        )


def _images(dep: AgentDeployment, check: Checker) -> Iterator[Problem]:
    images: list[tuple[FieldPath, str]] = [(("spec", "image"), dep.image)]
    if isinstance(dep.postgres, ManagedPostgres):
        images.append((("spec", "postgres", "managed", "image"), dep.postgres.image))
    if isinstance(dep.redis, ManagedRedis):
        images.append((("spec", "redis", "managed", "image"), dep.redis.image))
    for path, reference in images:
        parsed = parse_image(reference)
        if not isinstance(parsed, ImageRef):
            yield check.problem(path, parsed)
        elif parsed.tag is None and parsed.digest is None:
            yield check.problem(
                path, f"image {reference!r} has no tag or digest; pin a version, e.g. {reference}:1.0.0"
            )
        elif parsed.tag == "latest" and parsed.digest is None and dep.type is DeploymentType.PRODUCTION:
            yield check.problem(
                path,
                f"image {reference!r} uses the 'latest' tag, which production deployments may not use: "
                "it cannot be rolled back to; pin a version or a digest",
            )


def _sizes(dep: AgentDeployment, check: Checker) -> Iterator[Problem]:
    yield from check_resources(check, dep.resources, ("spec", "resources"))
    yield from check_resources(check, dep.queue.resources, ("spec", "queue", "resources"))
    if isinstance(dep.postgres, ManagedPostgres):
        managed: FieldPath = ("spec", "postgres", "managed")
        yield from check_resources(check, dep.postgres.resources, (*managed, "resources"))
        size = parse_quantity(dep.postgres.storage)
        if size is not None and size < 2**20:
            yield check.problem(
                (*managed, "storage"), f"storage {dep.postgres.storage} is too small; use e.g. 10Gi"
            )
    if isinstance(dep.redis, ManagedRedis):
        yield from check_resources(check, dep.redis.resources, ("spec", "redis", "managed", "resources"))


def _environment(dep: AgentDeployment, check: Checker) -> Iterator[Problem]:
    for name, _ in dep.env:
        if env_name_reserved(name):
            yield check.problem(("spec", "env", name), _reserved_env(name), on_key=True)
    plain = {name for name, _ in dep.env}
    seen: set[str] = set()
    for index, var in enumerate(dep.secret_env):
        path: FieldPath = ("spec", "secretEnv", index, "name")
        if env_name_reserved(var.name):
            yield check.problem(path, _reserved_env(var.name))
        elif var.name in plain:
            yield check.problem(path, f"{var.name} is also set in spec.env; set it in one place only")
        elif var.name in seen:
            yield check.problem(path, f"{var.name} is listed more than once")
        seen.add(var.name)


def _reserved_env(name: str) -> str:
    return f"{name} is set by gitops-agent itself and cannot be overridden"


def _scaling(dep: AgentDeployment, check: Checker, settings: Settings) -> Iterator[Problem]:
    for base, scale_data in ((("spec",), dep.scale), (("spec", "queue"), dep.queue.scale)):
        block = (*base, "autoscaling")
        if not check.written(block):
            continue
        if check.written((*base, "replicas")):
            yield check.problem(block, "set either replicas or autoscaling, not both", on_key=True)
        low = check.doc.get((*block, "minReplicas"))
        high = check.doc.get((*block, "maxReplicas"))
        low = 1 if low is None else low
        if isinstance(high, int) and isinstance(low, int) and high < low:
            yield check.problem(
                (*block, "maxReplicas"), f"maxReplicas {high} is smaller than minReplicas {low}"
            )
        resources = dep.resources if base == ("spec",) else dep.queue.resources
        if scale_data.autoscaling is not None and resources.cpu_request is None:
            yield check.problem(
                block, "autoscaling on CPU needs a CPU request: set resources.requests.cpu", on_key=True
            )
        memory = scale_data.autoscaling and scale_data.autoscaling.target_memory_utilization
        if memory and resources.memory_request is None:
            yield check.problem(
                (*block, "targetMemoryUtilization"),
                "autoscaling on memory needs a memory request: set resources.requests.memory",
            )
        mode = check.doc.get((*block, "mode")) or settings.autoscaling_mode
        if check.written((*block, "targetMemoryUtilization")) and mode != AutoscalingMode.KEDA:
            yield check.problem(
                (*block, "targetMemoryUtilization"), "scaling on memory needs mode: keda", on_key=True
            )


def _ingress(dep: AgentDeployment, check: Checker, settings: Settings) -> Iterator[Problem]:
    if dep.ingress is None:
        return
    block: FieldPath = ("spec", "ingress")
    if dep.ingress.shared_host and not settings.ingress.host:
        yield check.problem(
            block,
            f"routing a path needs the shared host: set ingress.host in {settings.file}, or give this "
            "deployment its own spec.ingress.host",
            on_key=True,
        )
    if not dep.ingress.shared_host and dep.ingress.host == settings.ingress.host:
        yield check.problem(
            (*block, "host"), "this is the shared host; use spec.ingress.path instead of spec.ingress.host"
        )
    if dep.ingress.shared_host and check.written((*block, "tls")):
        yield check.problem(
            (*block, "tls"),
            f"TLS for the shared host comes from ingress.tlsSecretName in {settings.file}; "
            "spec.ingress.tls needs spec.ingress.host",
            on_key=True,
        )
    if dep.routing is Routing.GATEWAY:
        if settings.gateway is None:
            yield check.problem(
                ("spec", "routing") if check.written(("spec", "routing")) else block,
                f"routing through a Gateway needs the shared Gateway: set gateway.name in {settings.file}",
                on_key=not check.written(("spec", "routing")),
            )
        if check.written((*block, "tls")):
            yield check.problem(
                (*block, "tls"),
                "with routing: gateway, TLS is configured on the Gateway's listener, not here",
                on_key=True,
            )
    full = dep.ingress.path
    if full == RESERVED_PATH or full.startswith(RESERVED_PATH + "/"):
        yield check.problem((*block, "path"), f"path {full} is reserved by LangGraph Server")


def _langsmith(dep: AgentDeployment, check: Checker, settings: Settings) -> Iterator[Problem]:
    """The server needs a LangSmith API key or a license key at start-up: one must reach it."""
    own = {var.name for var in dep.secret_env} | {name for name, _ in dep.env}
    if own.intersection(STARTUP_KEYS) or dep.langsmith.key_refs:
        return
    where: FieldPath = ("spec", "langsmith") if check.written(("spec", "langsmith")) else ("spec",)
    yield check.problem(
        where,
        f"LangGraph Server would start with neither {' nor '.join(STARTUP_KEYS)} and exit: set "
        f"langsmith.apiKeySecret or langsmith.licenseKeySecret in {settings.file}, or in spec.langsmith, "
        "or list one of them in spec.secretEnv",
        on_key=True,
    )


def _pod(dep: AgentDeployment, check: Checker) -> Iterator[Problem]:
    """Names in the pod spec that only make sense together: mounts of declared volumes, unique containers."""
    volumes: set[str] = set()
    for index, volume in enumerate(dep.volumes):
        if volume["name"] in volumes:
            yield check.problem(
                ("spec", "volumes", index, "name"), f"volume {volume['name']!r} is listed twice"
            )
        volumes.add(volume["name"])
    for index, mount in enumerate(dep.volume_mounts):
        if mount["name"] not in volumes:
            known = ", ".join(sorted(volumes)) or "none"
            yield check.problem(
                ("spec", "volumeMounts", index, "name"),
                f"no volume {mount['name']!r} in spec.volumes (declared: {known})",
            )
    seen: set[str] = set()
    for field, containers in (("initContainers", dep.init_containers), ("sidecars", dep.sidecars)):
        for index, container in enumerate(containers):
            name = container["name"]
            if name in OWN_CONTAINERS:
                yield check.problem(
                    ("spec", field, index, "name"), f"{name!r} is the name of gitops-agent's own container"
                )
            elif name in seen:
                yield check.problem(("spec", field, index, "name"), f"container name {name!r} is used twice")
            seen.add(name)
            for m_index, mount in enumerate(container.get("volumeMounts", [])):
                if mount.get("name") not in volumes:
                    yield check.problem(
                        ("spec", field, index, "volumeMounts", m_index, "name"),
                        f"no volume {mount.get('name')!r} in spec.volumes",
                    )


def _metadata_keys(check: Checker) -> Iterator[Problem]:
    for field in ("labels", "annotations"):
        values = check.doc.get(("spec", field))
        if not isinstance(values, dict):
            continue
        for key in values:
            if key.startswith(RESERVED_PREFIX) or (field == "labels" and key in RESERVED_LABELS):
                yield check.problem(
                    ("spec", field, key), f"{key} is set by gitops-agent and cannot be set here", on_key=True
                )


def route_conflicts(
    entries: Iterable[tuple[AgentDeployment, Checker]],
) -> Iterator[tuple[str, Problem, tuple[str, ...]]]:
    """(deployment, problem, rivals) for every deployment whose host + path others also claim; each
    problem names where the other claims are (file:line:column)."""
    routes: dict[tuple[str, str], list[tuple[AgentDeployment, Checker]]] = defaultdict(list)
    for dep, check in entries:
        if dep.ingress is not None and dep.ingress.host:
            routes[(dep.ingress.host, dep.ingress.path)].append((dep, check))
    for (host, path), claimants in routes.items():
        if len(claimants) < 2:
            continue
        places = {dep.name: _route_place(check) for dep, check in claimants}
        for dep, check in claimants:
            rivals = tuple(d.name for d, _ in claimants if d is not dep)
            others = ", ".join(sorted(str(places[r][1]) for r in rivals))
            location = places[dep.name][0]
            message = f"route {host}{path} is also claimed by {others}"
            yield dep.name, check.problem(location, message, on_key=len(location) == 2), rivals


def _route_place(check: Checker) -> tuple[FieldPath, str]:
    """Where a deployment claims its route: the path (or host) it writes, and that as file:line:col."""
    candidates: list[FieldPath] = [("spec", "ingress", "path"), ("spec", "ingress", "host")]
    location = next((p for p in candidates if check.written(p)), ("spec", "ingress"))
    mark = check.doc.mark(location, prefer_key=len(location) == 2)
    return location, f"{check.file}:{mark.line}:{mark.column}"
