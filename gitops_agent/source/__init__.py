"""The `source` stage: bring the deployments repository in as an immutable `Snapshot`.

`open_source()` picks the source from what the user passed:

* a URL (`https://`, `http://`, `ssh://`, `git://`, `file://`, or scp-like `git@host:path`) →
  `GitSource`;
* an existing directory that is a bare Git repository → `GitSource` on that path;
* any other existing directory → `DirSource` (its files as they are on disk, uncommitted edits
  included: the fast dev loop), unless `use_git=True` asks for the committed `ref` of a local
  checkout instead. `ref` is ignored by a `DirSource`.

Everything else is a ConfigError. Snapshot fields, credentials and errors are described in
`snapshot.py`, `auth.py` and `gitsource.py`.
"""

from __future__ import annotations

from pathlib import Path

from gitops_agent.core.errors import ConfigError
from gitops_agent.source.auth import GitAuth, ssh_command
from gitops_agent.source.dirsource import DirSource
from gitops_agent.source.gitsource import GitSource
from gitops_agent.source.snapshot import LOCAL_COMMIT, CommitInfo, CommitLog, Snapshot, Source
from gitops_agent.source.urls import is_url
from gitops_agent.source.verify import CommitRefusedError, CommitVerifier

__all__ = [
    "LOCAL_COMMIT",
    "CommitInfo",
    "CommitLog",
    "CommitRefusedError",
    "CommitVerifier",
    "DirSource",
    "GitAuth",
    "GitSource",
    "Snapshot",
    "Source",
    "open_source",
    "ssh_command",
]


def open_source(
    repo: str,
    *,
    ref: str = "main",
    sub_path: str = "",
    cache_dir: Path,
    auth: GitAuth | None = None,
    use_git: bool = False,
    timeout_seconds: float = 60,
    verifier: CommitVerifier | None = None,
) -> Source:
    """A GitSource or DirSource for `repo` (see the module docstring for the rules); with a
    `verifier`, only a Git repository will do (a folder has no signatures)."""
    local = Path(repo).expanduser()
    if is_url(repo) and not local.exists():
        return GitSource(
            repo, ref=ref, sub_path=sub_path, cache_dir=cache_dir, auth=auth, timeout_seconds=timeout_seconds,
            verifier=verifier,
        )  # fmt: skip
    if not local.is_dir():
        raise ConfigError(f"repository {repo!r} is neither a Git URL nor an existing directory")
    bare = _is_bare_repo(local)
    if use_git and not bare and not (local / ".git").exists():
        raise ConfigError(f"{local} is not a Git repository (no .git and not a bare repository)")
    if use_git or bare:
        return GitSource(
            str(local.absolute()),
            ref=ref,
            sub_path=sub_path,
            cache_dir=cache_dir,
            auth=auth,
            timeout_seconds=timeout_seconds,
            verifier=verifier,
        )
    if verifier is not None:
        raise ConfigError(
            f"{local} is a folder, not a Git repository: commits cannot be verified (use --git)"
        )
    return DirSource(local, sub_path=sub_path)


def _is_bare_repo(path: Path) -> bool:
    """A bare repository has HEAD, objects/ and refs/ at its top and no work tree."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
