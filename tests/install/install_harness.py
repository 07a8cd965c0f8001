"""What a team installs, built the way they would build it: the wheel and sdist (`python -m build`),
a wheelhouse of their dependencies, and the container image (podman, from a Debian base made with
mmdebstrap, since base images cannot be pulled here).

Built things are cached outside the repository by content hash, so a warm run rebuilds nothing:
  ~/.cache/gitops-agent/wheelhouse-<hash of pyproject.toml>/   dependency wheels (+ setuptools, wheel)
  localhost/gitops-agent-base:<hash of the mmdebstrap call>     the Debian bookworm base image
  localhost/gitops-agent:test-<hash of the build context>       the agent image
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from gitops_agent.localcluster.binaries import default_bin_dir
from gitops_agent.localcluster.images import CACHE, REPO_ROOT, digest, run, tree_bytes
from gitops_agent.localcluster.images import Podman as BasePodman

__all__ = ["CACHE", "REPO_ROOT", "Podman", "build_distributions", "run", "wheelhouse"]

KUSTOMIZE_VERSION = "v5.8.2"  # hack/build-k8s.sh's KUSTOMIZE_VERSION


# -- wheel, sdist, wheelhouse --------------------------------------------------------------------


def build_distributions(out: Path) -> tuple[Path, Path]:
    """`python -m build` of the checkout (sdist, then the wheel from the sdist): (wheel, sdist)."""
    run(sys.executable, "-m", "build", "--outdir", str(out), str(REPO_ROOT), timeout=600)
    [wheel] = out.glob("gitops_agent-*.whl")
    [sdist] = out.glob("gitops_agent-*.tar.gz")
    return wheel, sdist


def wheelhouse() -> Path:
    """Wheels of every dependency, plus setuptools and wheel (to build the project offline), from
    the package index this machine's pip uses; cached per pyproject.toml and Python version."""
    key = digest((REPO_ROOT / "pyproject.toml").read_bytes(), sys.version.encode())
    folder = CACHE / f"wheelhouse-{key}"
    if (folder / ".complete").exists():
        return folder
    scratch = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(scratch),
        str(REPO_ROOT), "setuptools>=77", "wheel", timeout=900)  # fmt: skip
    for own in scratch.glob("gitops_agent-*.whl"):  # only the dependencies are cached
        own.unlink()
    (scratch / ".complete").touch()
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    return folder


# -- podman ----------------------------------------------------------------------------------------


class Podman(BasePodman):
    """The package's podman (its containers.conf and Debian base image) plus the agent's images."""

    def kustomize_image(self, scratch: Path) -> str:
        """An image holding the Go-built kustomize at /app/kustomize, like the project's own image."""
        binary = default_bin_dir() / "kustomize"
        tag = f"localhost/gitops-agent-kustomize:{KUSTOMIZE_VERSION}-{digest(binary.read_bytes())}"
        if not self.exists(tag):
            context = scratch / "kustomize-context"
            context.mkdir()
            shutil.copy2(binary, context / "kustomize")
            (context / "Containerfile").write_text("FROM scratch\nCOPY kustomize /app/kustomize\n")
            self("build", "--quiet", "--tag", tag, str(context))
        return tag

    def agent_image(self, scratch: Path) -> str:
        """The repository's Dockerfile, built offline from a wheelhouse on the Debian base."""
        base, kustomize, wheels = self.base_image(scratch), self.kustomize_image(scratch), wheelhouse()
        context = scratch / "context"
        _build_context(context, wheels)
        key = digest(base.encode(), kustomize.encode(), *tree_bytes(context))
        tag = f"localhost/gitops-agent:test-{key}"
        if self.exists(tag):
            return tag
        self("build", "--network", "host", "--tag", tag,
             "--build-arg", f"BASE={base}",
             "--build-arg", f"KUSTOMIZE_IMAGE={kustomize}",
             "--build-arg", "PIP_OPTIONS=--no-index --find-links /src/wheelhouse",
             str(context), timeout=1200)  # fmt: skip
        self.forget_older_builds("localhost/gitops-agent:test-", keep=tag)
        return tag


def _build_context(context: Path, wheels: Path) -> None:
    """What `.dockerignore` lets into the context (read from it), plus the wheelhouse."""
    allowed = [
        line[1:].strip().rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    context.mkdir()
    for name in ("Dockerfile", ".dockerignore", *allowed):
        source = REPO_ROOT / name
        if name == "wheelhouse":
            shutil.copytree(wheels, context / name, ignore=shutil.ignore_patterns(".complete"))
        elif source.is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, context / name, symlinks=True, ignore=skip)
        else:
            shutil.copy2(source, context / name)
