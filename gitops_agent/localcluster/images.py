"""Container images the local cluster, the demo and the tests run, built on this machine.

Base images cannot be pulled here, so every image starts from a Debian bookworm root filesystem made
with mmdebstrap from the machine's package mirror, tagged with a hash of the mmdebstrap call so a
warm run finds it and builds nothing: localhost/gitops-agent-base:<hash>.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
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
