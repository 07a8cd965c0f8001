"""Loading `gitops-agent.yaml`, the repository-wide settings file.

Every deployment is resolved against these settings (namespace, shared ingress, defaults), so an
invalid settings file makes the whole repository unusable: `load_settings` then returns None and the
problems, and nothing gets applied.
"""

from __future__ import annotations

from pathlib import Path

from gitops_agent.manifests.build import settings_from
from gitops_agent.manifests.model import Problem, Routing, Settings
from gitops_agent.manifests.schemas import validate_document
from gitops_agent.manifests.validate import RESERVED_PATH, Checker, check_resources
from gitops_agent.manifests.yamlpos import Document, YamlError, format_path, load_file

SETTINGS_FILE = "gitops-agent.yaml"


def load_settings(root: Path) -> tuple[Settings | None, list[Problem]]:
    """The repository settings, or None and the reasons they cannot be used."""
    path = root / SETTINGS_FILE
    if not path.is_file():
        return None, [
            Problem(
                SETTINGS_FILE, 1, 1, "", f"{SETTINGS_FILE} not found at the repository root; it is required"
            )
        ]
    try:
        (doc,) = load_file(path, multi=False, what="Settings", root=root)
    except YamlError as err:
        return None, [Problem(SETTINGS_FILE, err.line, err.column, format_path(err.path), err.message)]
    problems = validate_document(doc, "settings", file=SETTINGS_FILE)
    if problems:
        return None, problems
    settings = settings_from(doc.data, file=SETTINGS_FILE)
    problems = _semantic(settings, doc)
    return (None, problems) if problems else (settings, [])


def _semantic(settings: Settings, doc: Document) -> list[Problem]:
    check = Checker(doc, SETTINGS_FILE)
    problems: list[Problem] = []
    if settings.defaults.resources is not None:
        problems.extend(check_resources(check, settings.defaults.resources, ("defaults", "resources")))
    if settings.routing is Routing.GATEWAY and settings.gateway is None:
        problems.append(
            check.problem(("routing",), "routing: gateway needs the shared Gateway: set gateway.name")
        )
    base = settings.ingress.base_path
    if base == RESERVED_PATH or base.startswith(RESERVED_PATH + "/"):
        problems.append(check.problem(("ingress", "basePath"), f"{base} is reserved by LangGraph Server"))
    return problems
