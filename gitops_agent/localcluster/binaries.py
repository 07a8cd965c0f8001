"""Where the Go-built cluster binaries live, and building them when they are missing.

The build itself is `hack/build-k8s.sh` (a shell script, so CI can run it before any Python is
installed); this module only locates its output and calls it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitops_agent.core.errors import LocalClusterError

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.36.3")
BINARY_NAMES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "helm",
    "promtool",
    "kustomize",
)
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-k8s.sh"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the cluster's executables and of kwok's stage files."""

    bin_dir: Path

    def path(self, name: str) -> Path:
        """The executable called `name` (one of BINARY_NAMES)."""
        return self.bin_dir / name

    @property
    def kwok_stages_dir(self) -> Path:
        """kwok v0.8 ships no built-in stages; the build script copies them here."""
        return self.bin_dir.parent / "kwok-stages"

    @property
    def crds_dir(self) -> Path:
        """CRD manifests of the custom resources gitops-agent renders (KEDA, Gateway API)."""
        return self.bin_dir.parent / "crds"

    def missing(self) -> list[str]:
        """Names of binaries not (yet) built."""
        missing = [name for name in BINARY_NAMES if not os.access(self.path(name), os.X_OK)]
        return missing if any(self.crds_dir.glob("*.yaml")) else [*missing, "crds"]


def default_bin_dir() -> Path:
    """`$GITOPS_AGENT_K8S_BIN`, else `${XDG_CACHE_HOME:-~/.cache}/gitops-agent/k8s-<version>/bin`."""
    explicit = os.environ.get("GITOPS_AGENT_K8S_BIN")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "gitops-agent" / f"k8s-{K8S_VERSION}" / "bin"


def find_binaries() -> Binaries:
    """The binaries in the default location; raises if any is missing (with the command to build)."""
    binaries = Binaries(default_bin_dir())
    missing = binaries.missing()
    if missing:
        raise LocalClusterError(
            f"local cluster binaries missing in {binaries.bin_dir}: {', '.join(missing)}; "
            f"build them with `bash {BUILD_SCRIPT}` (cold build: ~30 min on 2 cores)"
        )
    return binaries


def ensure_binaries() -> Binaries:
    """Build whatever is missing (the script skips what is cached), then return the binaries."""
    binaries = Binaries(default_bin_dir())
    if binaries.missing():
        if not BUILD_SCRIPT.exists():
            raise LocalClusterError(f"cannot build the local cluster: {BUILD_SCRIPT} not found")
        env = {**os.environ, "K8S_VERSION": K8S_VERSION, "GITOPS_AGENT_K8S_BIN": str(binaries.bin_dir)}
        result = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, check=False)
        if result.returncode != 0:
            raise LocalClusterError(f"{BUILD_SCRIPT} failed with exit code {result.returncode}")
    return find_binaries()
