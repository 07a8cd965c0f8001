"""Helpers for manifest tests: tiny repositories written from strings."""

from __future__ import annotations

import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REPO = REPO_ROOT / "sample-repo"
FIXTURES = REPO_ROOT / "tests" / "fixtures"

SETTINGS = """\
apiVersion: gitops-agent.dev/v1
kind: Settings
namespace: agents
allowedNamespaces: [agents-staging]
ingress:
  host: agents.example.com
  className: nginx
  tlsSecretName: agents-tls
  basePath: /agents
langsmith:
  apiKeySecret: {name: langsmith, key: api-key}
"""

MINIMAL = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: {name}
spec:
  image: ghcr.io/example/{name}:1.0.0
"""


def write_repo(root: Path, files: dict[str, str], *, settings: str | None = SETTINGS) -> Path:
    """Write `files` (path → YAML text, dedented) under `root`, plus a settings file unless None."""
    if settings is not None:
        files = {"gitops-agent.yaml": settings, **files}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def deployment(name: str, spec_extra: str = "") -> str:
    """A minimal valid AgentDeployment, with extra lines (indented by two spaces) under `spec`."""
    return MINIMAL.format(name=name) + textwrap.indent(textwrap.dedent(spec_extra), "  ")
