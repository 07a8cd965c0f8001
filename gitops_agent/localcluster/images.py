"""Container images the local cluster, the demo and the tests run, built on this machine.

Base images cannot be pulled here, so every image starts from a Debian bookworm root filesystem made
with mmdebstrap from the machine's package mirror, and Python packages come from wheels downloaded
on the host: image builds need no network. Each image is tagged with a hash of what went into it,
so a warm run finds it and builds nothing:
  localhost/gitops-agent-base:<hash of the mmdebstrap call>            the Debian base
  localhost/gitops-agent-langgraph-api:<hash of recipe, pins, wheels>  LangGraph Server (stand-in)
  ~/.cache/gitops-agent/langgraph-wheels-<hash of the pins>/           its wheelhouse

The LangGraph Server image is an offline stand-in for the licensed `langchain/langgraph-api` image
(recipe and what it reproduces: hack/images/langgraph-api/Containerfile), tagged like it
(`localhost/langchain/langgraph-api:3.11`): podman resolves the short name in `langgraph build`'s
`FROM langchain/langgraph-api:3.11` to that local image, so nothing is pulled.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gitops_agent.core.errors import LocalClusterError

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-agent"

BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "git", "openssh-client", "ca-certificates", "gnupg", "passwd")
"""What the images need of a base: python3 with venv (ensurepip), and what the agent runs."""
CONTAINERS_CONF = """\
# Debian's podman on these machines: crun fails ("cgroups in hybrid mode"), systemd is not pid 1,
# and the default ulimits cannot be raised in this sandbox.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""

LANGGRAPH_API_RECIPE = REPO_ROOT / "hack" / "images" / "langgraph-api"
LANGGRAPH_API_PYTHON = "3.11"
"""The tag `langgraph build` writes for a Python graph on the default (Debian) distro:
`FROM langchain/langgraph-api:3.11` (langgraph_cli/config.py docker_tag); Debian bookworm's python3."""
LANGGRAPH_API_TAG = f"localhost/langchain/langgraph-api:{LANGGRAPH_API_PYTHON}"
LANGGRAPH_API_BUILDS = "localhost/gitops-agent-langgraph-api:"
"""The stand-in's own tags: this prefix and the build's content hash."""
LANGGRAPH_PINS = {
    "langgraph-api": "0.16.7",
    "langgraph-runtime-inmem": "0.36.7",
    "langgraph-sdk": "0.4.14",
    "uv": "0.13.10",
    "pip": "26.3",
    "setuptools": "84.2.1",
    "wheel": "0.48.0",
}
"""Every package the stand-in installs by name (their dependencies follow langgraph-api's ranges)."""

Say = Callable[[str], None]


def _say_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(*args: str, timeout: float = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output (the last 4,000 characters of each stream)."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        raise LocalClusterError(f"{' '.join(args)} failed ({result.returncode}):\n{output}")
    return result  # type: ignore[no-any-return]


def digest(*parts: bytes) -> str:
    """A short hash of `parts`, each length-prefixed so that no two sequences collide."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def tree_bytes(folder: Path) -> list[bytes]:
    """Every file's path and content (symbolic links as their target), in a stable order."""
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix().encode()
        if path.is_symlink():
            parts += [rel, os.readlink(path).encode()]
        elif path.is_file():
            parts += [rel, path.read_bytes()]
    return parts


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
        tag = f"localhost/gitops-agent-base:{digest(' '.join(args).encode())}"
        if not self.exists(tag):
            scratch.mkdir(parents=True, exist_ok=True)
            tarball = scratch / "base.tar"
            run("mmdebstrap", "--quiet", *args, str(tarball), timeout=900)
            self("import", str(tarball), tag)
            tarball.unlink()
        return tag

    def forget_older_builds(self, prefix: str, keep: str) -> None:
        """Remove the images tagged `prefix…` other than `keep` (earlier builds of one recipe, each
        a few hundred MB), then the dangling build stages."""
        repository = prefix.rpartition(":")[0]
        listed = self("images", "--format", "{{.Repository}}:{{.Tag}}", repository)
        for image in listed.stdout.split():
            if image.startswith(prefix) and image != keep:
                self("rmi", "--force", image)
        self("image", "prune", "--force")


def langgraph_wheelhouse(say: Say = _say_to_stderr) -> Path:
    """Wheels of LANGGRAPH_PINS and their dependencies, from the package index this machine's pip
    uses (`pip wheel`, which also turns sdist-only dependencies such as forbiddenfruit into wheels);
    cached per pins and machine. The image's Python is bookworm's CPython 3.11, so the host's must be
    a CPython 3.11 on a glibc no newer than bookworm's (2.36) for the binary wheels to fit."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        raise LocalClusterError(
            f"the LangGraph Server wheelhouse is built by CPython {LANGGRAPH_API_PYTHON} (the image's);"
            f" this is {sys.implementation.name} {platform.python_version()}"
        )
    pins = [f"{name}=={version}" for name, version in sorted(LANGGRAPH_PINS.items())]
    key = digest(platform.machine().encode(), *(pin.encode() for pin in pins))
    folder = CACHE / f"langgraph-wheels-{key}"
    if (folder / ".complete").exists():
        return folder
    started = time.monotonic()
    scratch = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(scratch), *pins, timeout=900)
    (scratch / ".complete").touch()
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    say(f"langgraph wheelhouse built in {time.monotonic() - started:.1f}s: {folder}")
    return folder


def langgraph_api_image(podman: Podman, scratch: Path, say: Say = _say_to_stderr) -> str:
    """The offline LangGraph Server image, built (or found by its content hash) and tagged
    LANGGRAPH_API_TAG; returns that tag."""
    started = time.monotonic()
    base = podman.base_image(scratch)
    say(f"base image {base} ready in {time.monotonic() - started:.1f}s")
    wheels = langgraph_wheelhouse(say)
    wheel_names = sorted(path.name for path in wheels.glob("*.whl"))
    build_args = [f"BASE={base}"] + [
        f"{name.upper().replace('-', '_')}_VERSION={version}"
        for name, version in sorted(LANGGRAPH_PINS.items())
    ]
    key = digest(*(arg.encode() for arg in build_args), *tree_bytes(LANGGRAPH_API_RECIPE),
                 *(name.encode() for name in wheel_names))  # fmt: skip
    built = f"{LANGGRAPH_API_BUILDS}{key}"
    if podman.exists(built):
        say(f"langgraph-api image {built} found (cached)")
    else:
        started = time.monotonic()
        context = scratch / "langgraph-api-context"
        shutil.rmtree(context, ignore_errors=True)
        shutil.copytree(LANGGRAPH_API_RECIPE, context)
        (context / "wheels").mkdir()
        for name in wheel_names:
            _link_or_copy(wheels / name, context / "wheels" / name)
        podman("build", "--network", "none", "--tag", built,
               *(part for arg in build_args for part in ("--build-arg", arg)),
               "--file", str(context / "Containerfile"), str(context), timeout=1200)  # fmt: skip
        shutil.rmtree(context)
        podman.forget_older_builds(LANGGRAPH_API_BUILDS, keep=built)
        say(f"langgraph-api image {built} built in {time.monotonic() - started:.1f}s")
    podman("tag", built, LANGGRAPH_API_TAG)
    return LANGGRAPH_API_TAG


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the cache and the scratch folder share a file system, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
