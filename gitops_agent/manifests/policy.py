"""What `manifests/` may hold, in the spirit of Argo CD's project resource allow lists.

Plain manifests are applied with the agent's own permissions, so by default they may only be of the
kinds the chart lets the agent write (the kinds table's WRITE kinds): anything else would fail at
apply time, far from the file, or — with broader RBAC — let anyone who can merge to the repository
create it. Two more refusals keep the repository from becoming a way around the cluster's security:

- a Secret with plaintext `data`/`stringData` (its values would live in Git for every reader): use
  External Secrets, Sealed Secrets or SOPS, or allow it with `manifests.allowPlaintextSecrets`;
- a pod that is privileged or reaches into its node (hostPath volumes, hostNetwork/hostPID/hostIPC),
  in a Pod or any workload's pod template: allow it with `manifests.allowPrivilegedPods`.

Every refusal is a problem at its file, line and field, like any other validation problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gitops_agent.core.credentials import credential_kind
from gitops_agent.core.kinds import kind_of
from gitops_agent.core.objects import ObjectKey
from gitops_agent.manifests.model import ManifestPolicy, Problem
from gitops_agent.manifests.validate import Checker
from gitops_agent.manifests.yamlpos import FieldPath

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
SECRET_STORES = "External Secrets, Sealed Secrets or SOPS"


def policy_problems(check: Checker, policy: ManifestPolicy) -> Iterator[Problem]:
    """Every way one plain object breaks the policy."""
    data = check.doc.data
    api_version, kind = str(data.get("apiVersion", "")), str(data.get("kind", ""))
    if not policy.allows_kind(api_version, kind):
        yield check.problem(
            ("kind",),
            f"kind {_qualified(api_version, kind)} is not allowed in manifests/ (allowed: "
            f"{', '.join(policy.allowed_kinds)}); add it to manifests.allowedKinds in gitops-agent.yaml and "
            "grant the agent the RBAC to write it",
        )
    if kind == "Secret" and api_version == "v1" and not policy.allow_plaintext_secrets:
        for field in ("data", "stringData"):
            if data.get(field):
                yield check.problem(
                    (field,),
                    f"a Secret with plaintext values is refused: they would be readable by everyone who can "
                    f"read the repository. Keep it out of Git ({SECRET_STORES}), or set "
                    "manifests.allowPlaintextSecrets: true in gitops-agent.yaml",
                    on_key=True,
                )
    base = _pod_spec_path(api_version, kind)
    pod = _at(data, base)
    if pod is not None and not policy.allow_privileged_pods:
        yield from _pod_problems(check, base, pod)


def plain_warnings(check: Checker) -> Iterator[Problem]:
    """Plain `env` values of a workload that look like credentials (a warning: they still apply)."""
    data = check.doc.data
    base = _pod_spec_path(str(data.get("apiVersion", "")), str(data.get("kind", "")))
    pod = _at(data, base)
    if pod is None:
        return
    for list_name, index, container in _containers(pod):
        for env_index, var in enumerate(container.get("env") or []):
            if not isinstance(var, Mapping) or not isinstance(var.get("value"), str):
                continue
            what = credential_kind(str(var.get("name", "")), var["value"])
            if what:
                path = (*base, list_name, index, "env", env_index, "value")
                yield check.problem(path, credential_message(str(var.get("name", "")), what))


def credential_message(name: str, what: str) -> str:
    return (
        f"the value of {name} looks like {what}: a plain value lives in Git and in the Deployment for "
        "everyone who can read them; read it from a Secret instead (secretEnv / valueFrom.secretKeyRef)"
    )


def _qualified(api_version: str, kind: str) -> str:
    group = api_version.rpartition("/")[0]
    return f"{group}/{kind}" if group else kind


def _pod_spec_path(api_version: str, kind: str) -> FieldPath:
    """Where the kinds table says this kind keeps its pod spec (empty: it is not a workload)."""
    return kind_of(ObjectKey(api_version, kind, "", "")).pod_spec


def _at(data: Mapping[str, Any], path: FieldPath) -> Mapping[str, Any] | None:
    """The mapping at `path` (None for an empty path or anything else there)."""
    if not path:
        return None
    node: Any = data
    for step in path:
        node = node.get(step) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(pod.get(list_name) or []):
            if isinstance(container, Mapping):
                yield list_name, index, container


def _pod_problems(check: Checker, base: FieldPath, pod: Mapping[str, Any]) -> Iterator[Problem]:
    allow = "or set manifests.allowPrivilegedPods: true in gitops-agent.yaml"
    for field in HOST_NAMESPACES:
        if pod.get(field) is True:
            yield check.problem(
                (*base, field), f"{field} shares the node's namespace with the pod; refused ({allow})"
            )
    for index, volume in enumerate(pod.get("volumes") or []):
        if isinstance(volume, Mapping) and "hostPath" in volume:
            path = volume["hostPath"].get("path", "?") if isinstance(volume["hostPath"], Mapping) else "?"
            yield check.problem(
                (*base, "volumes", index, "hostPath"),
                f"a hostPath volume ({path}) gives the pod the node's files; refused ({allow})",
                on_key=True,
            )
    for list_name, index, container in _containers(pod):
        context = container.get("securityContext")
        if isinstance(context, Mapping) and context.get("privileged") is True:
            yield check.problem(
                (*base, list_name, index, "securityContext", "privileged"),
                f"a privileged container has every capability of the node; refused ({allow})",
            )
