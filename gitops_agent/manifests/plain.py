"""The optional `manifests/` folder: plain Kubernetes objects applied as written (folders with a
`kustomization.yaml` are built with kustomize first: see `manifests.kustomize`).

Plain objects are owned like rendered ones (labelled, pruned), so they get the checks that keep
ownership safe: namespaced kinds only (gitops-agent's permissions and prune logic are per namespace),
namespaces from the allowed list, no forged ownership labels, no fields the cluster sets (pasted
`kubectl get -o yaml` output would make server-side apply fail on `resourceVersion`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_agent.core.labels import LABEL_MANAGED_BY, MANAGED_BY, RESERVED_PREFIX
from gitops_agent.manifests import kustomize
from gitops_agent.manifests.kustomize import build_roots, kustomization_file, kustomized_folders
from gitops_agent.manifests.model import Problem, Settings
from gitops_agent.manifests.policy import plain_warnings, policy_problems
from gitops_agent.manifests.validate import Checker
from gitops_agent.manifests.yamlpos import Document, FieldPath, Mark, YamlError, format_path, load_file

MANIFESTS_DIR = "manifests"
YAML_SUFFIXES = (".yaml", ".yml")

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService", "CertificateSigningRequest", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding",
        "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "FlowSchema", "IngressClass",
        "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
        "Namespace", "Node", "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration",
        "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration", "VolumeAttachment",
    }
)  # fmt: skip
"""Kinds known to be cluster-scoped; rejected because gitops-agent only manages namespaced objects."""

SERVER_SET_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                     "managedFields", "selfLink", "ownerReferences")  # fmt: skip

_API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class PlainObject:
    """One object from `manifests/`, normalised (namespace filled in), with where it was written."""

    manifest: dict[str, Any]
    file: str
    name_mark: Mark


def manifest_files(root: Path) -> list[Path]:
    """YAML files under `manifests/`, recursively, in a stable order (hidden entries skipped), except
    those in kustomized folders (kustomize reads them)."""
    folder = root / MANIFESTS_DIR
    kustomized = kustomized_folders(folder)
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix in YAML_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and not any(p.is_relative_to(k) for k in kustomized)
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def source_files(root: Path) -> list[str]:
    """What the `manifests` unit is written in: its plain files and the kustomizations it builds."""
    folder = root / MANIFESTS_DIR
    built = [kustomization_file(f) for f in build_roots(folder, root)]
    paths = [*manifest_files(root), *(k for k in built if k is not None)]
    return sorted(p.relative_to(root).as_posix() for p in paths)


@dataclass(frozen=True)
class PlainLoad:
    """Every object in `manifests/`, every problem with them, and warnings (credential-like values)."""

    objects: list[PlainObject]
    problems: list[Problem]
    warnings: list[Problem]


def directory_links(root: Path) -> list[Problem]:
    """Symbolic links to directories under `manifests/`: never followed, so reported (like file links)."""
    folder = root / MANIFESTS_DIR
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_symlink() or not path.is_dir():
            continue
        rel = path.relative_to(root).as_posix()
        inside = path.resolve().is_relative_to(root.resolve())
        why = (
            "symbolic link to a directory is not followed; move the files here or link them one by one"
            if inside
            else "symbolic link points outside the repository; refused"
        )
        found.append(Problem(rel, 1, 1, "", why))
    return found


def load_plain(root: Path, settings: Settings) -> PlainLoad:
    """Every object in `manifests/`, every problem with them (policy included), and warnings."""
    objects: list[PlainObject] = []
    problems: list[Problem] = directory_links(root)
    warnings: list[Problem] = []
    for rel, documents in _sources(root, problems):
        for doc in documents:
            check = Checker(doc, rel)
            found = list(_object_problems(check, settings))
            if not found:
                found = list(policy_problems(check, settings.manifests))
            problems.extend(found)
            warnings.extend(plain_warnings(check))
            if not found:
                objects.append(_normalised(doc, rel, settings))
    problems.extend(_duplicates(objects))
    return PlainLoad(objects, sorted(set(problems)), sorted(set(warnings)))


def _sources(root: Path, problems: list[Problem]) -> Iterator[tuple[str, list[Document]]]:
    """(where, documents) of each plain file and each kustomize build; failures go to `problems`."""
    for path in manifest_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            yield rel, load_file(path, multi=True, what="a Kubernetes object", root=root)
        except YamlError as err:
            problems.append(Problem(rel, err.line, err.column, format_path(err.path), err.message))
    for folder in build_roots(root / MANIFESTS_DIR, root):
        built = kustomize.build(folder, root)
        problems.extend(built.problems)
        if built.documents:
            yield built.source, built.documents


def _object_problems(check: Checker, settings: Settings) -> Iterator[Problem]:
    data = check.doc.data
    api_version, kind, metadata = data.get("apiVersion"), data.get("kind"), data.get("metadata")
    if not isinstance(api_version, str) or not _API_VERSION.match(api_version):
        yield check.problem(("apiVersion",), "apiVersion must be set, e.g. v1 or apps/v1", on_key=True)
    if not isinstance(kind, str) or not _KIND.match(kind):
        yield check.problem(("kind",), "kind must be set, e.g. ConfigMap", on_key=True)
    elif kind.endswith("List"):
        yield check.problem(("kind",), f"{kind} is not supported; write one YAML document per object")
    elif kind in CLUSTER_SCOPED_KINDS:
        yield check.problem(
            ("kind",), f"{kind} is cluster-scoped; manifests/ may only hold namespaced objects"
        )
    if "status" in data:
        yield check.problem(("status",), "status is set by the cluster; remove it", on_key=True)
    if not isinstance(metadata, dict):
        yield check.problem(("metadata",), "metadata (with a name) is required", on_key=True)
        return
    yield from _metadata_problems(check, metadata, settings)


def _metadata_problems(check: Checker, metadata: dict[str, Any], settings: Settings) -> Iterator[Problem]:
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if "generateName" in metadata:
        yield check.problem(
            ("metadata", "generateName"), "generateName is not supported; set a fixed name", on_key=True
        )
    if not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
        yield check.problem(
            ("metadata", "name"), "name must be set: lowercase letters, digits, '-' and '.'", on_key=True
        )
    if namespace is not None and (
        not isinstance(namespace, str) or not settings.namespace_allowed(namespace)
    ):
        allowed = ", ".join((settings.namespace, *settings.allowed_namespaces))
        yield check.problem(
            ("metadata", "namespace"), f"namespace {namespace!r} is not allowed; allowed: {allowed}"
        )
    for field in SERVER_SET_FIELDS:
        if field in metadata:
            yield check.problem(("metadata", field), f"{field} is set by the cluster; remove it", on_key=True)
    for field in ("labels", "annotations"):
        yield from _string_map(check, ("metadata", field), metadata.get(field))


def _string_map(check: Checker, path: FieldPath, values: Any) -> Iterator[Problem]:
    if values is None:
        return
    if not isinstance(values, dict):
        yield check.problem(path, "must be a mapping of strings")
        return
    for key, value in values.items():
        if not isinstance(value, str):
            yield check.problem((*path, key), "value must be a string (quote it)")
        if key.startswith(RESERVED_PREFIX) or (key == LABEL_MANAGED_BY and value != MANAGED_BY):
            yield check.problem((*path, key), f"{key} is set by gitops-agent", on_key=True)


def _normalised(doc: Document, file: str, settings: Settings) -> PlainObject:
    manifest = copy.deepcopy(doc.data)
    manifest["metadata"].setdefault("namespace", settings.namespace)
    return PlainObject(manifest, file, doc.mark(("metadata", "name"), prefer_key=False))


def object_identity(manifest: dict[str, Any]) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what the API server considers the same object."""
    group = manifest["apiVersion"].rpartition("/")[0]
    metadata = manifest["metadata"]
    return group, manifest["kind"], metadata.get("namespace", ""), metadata["name"]


def _duplicates(objects: list[PlainObject]) -> Iterator[Problem]:
    seen: dict[tuple[str, str, str, str], PlainObject] = {}
    for obj in objects:
        identity = object_identity(obj.manifest)
        first = seen.setdefault(identity, obj)
        if first is not obj:
            _, kind, namespace, name = identity
            yield Problem(
                obj.file, obj.name_mark.line, obj.name_mark.column, "metadata.name",
                f"{kind}/{namespace}/{name} is already defined in {first.file}:{first.name_mark.line}",
            )  # fmt: skip
