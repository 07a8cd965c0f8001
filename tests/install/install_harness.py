"""What a team installs, built the way they would build it: the wheel and sdist (`python -m build`),
a wheelhouse of their dependencies, and the container image (podman, from a Debian base made with
mmdebstrap, since base images cannot be pulled here).

Built things are cached outside the repository by content hash, so a warm run rebuilds nothing:
  ~/.cache/gitops-agent/wheelhouse-<hash of pyproject.toml>/   dependency wheels (+ setuptools, wheel)
  localhost/gitops-agent-base:<hash of the mmdebstrap call>     the Debian bookworm base image
  localhost/gitops-agent:test-<hash of the build context>       the agent image
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gitops_agent.localcluster.binaries import default_bin_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-agent"

BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "git", "openssh-client", "ca-certificates", "gnupg", "passwd")
"""What the Dockerfile needs of a base: python3 with venv (ensurepip), and what the agent runs."""
KUSTOMIZE_VERSION = "v5.8.2"  # hack/build-k8s.sh's KUSTOMIZE_VERSION
CONTAINERS_CONF = """\
# Debian's podman on these machines: crun fails ("cgroups in hybrid mode"), systemd is not pid 1,
# and the default ulimits cannot be raised in this sandbox.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""


def run(*args: str, timeout: float = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output (the last 4,000 characters of each stream)."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{output}")
    return result  # type: ignore[no-any-return]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


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
    key = _digest((REPO_ROOT / "pyproject.toml").read_bytes(), sys.version.encode())
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


class Podman:
    """Debian's podman with the containers.conf our machines need (`CONTAINERS_CONF`)."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.conf = work / "containers.conf"
        self.conf.write_text(CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def __call__(
        self, *args: str, timeout: float = 900, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        return run("podman", *args, timeout=timeout, env=self.env, **kwargs)

    def exists(self, image: str) -> bool:
        result = subprocess.run(["podman", "image", "exists", image], env=self.env, check=False, timeout=60)
        return result.returncode == 0

    def base_image(self, scratch: Path) -> str:
        """A Debian base built with mmdebstrap from the machine's package mirror, imported once."""
        args = ("--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", BASE_SUITE)
        tag = f"localhost/gitops-agent-base:{_digest(' '.join(args).encode())}"
        if not self.exists(tag):
            tarball = scratch / "base.tar"
            run("mmdebstrap", "--quiet", *args, str(tarball), timeout=900)
            self("import", str(tarball), tag)
            tarball.unlink()
        return tag

    def kustomize_image(self, scratch: Path) -> str:
        """An image holding the Go-built kustomize at /app/kustomize, like the project's own image."""
        binary = default_bin_dir() / "kustomize"
        tag = f"localhost/gitops-agent-kustomize:{KUSTOMIZE_VERSION}-{_digest(binary.read_bytes())}"
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
        key = _digest(base.encode(), kustomize.encode(), *_tree_bytes(context))
        tag = f"localhost/gitops-agent:test-{key}"
        if self.exists(tag):
            return tag
        self("build", "--network", "host", "--tag", tag,
             "--build-arg", f"BASE={base}",
             "--build-arg", f"KUSTOMIZE_IMAGE={kustomize}",
             "--build-arg", "PIP_OPTIONS=--no-index --find-links /src/wheelhouse",
             str(context), timeout=1200)  # fmt: skip
        self._forget_older_builds(tag)
        return tag

    def _forget_older_builds(self, keep: str) -> None:
        """Earlier test images (each ~180 MB of virtualenv) and the dangling build stages."""
        listed = self("images", "--format", "{{.Repository}}:{{.Tag}}", "localhost/gitops-agent")
        for image in listed.stdout.split():
            if image.startswith("localhost/gitops-agent:test-") and image != keep:
                self("rmi", "--force", image)
        self("image", "prune", "--force")


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


def _tree_bytes(folder: Path) -> list[bytes]:
    """Every file's path and content (symbolic links as their target), in a stable order."""
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix().encode()
        if path.is_symlink():
            parts += [rel, os.readlink(path).encode()]
        elif path.is_file():
            parts += [rel, path.read_bytes()]
    return parts
