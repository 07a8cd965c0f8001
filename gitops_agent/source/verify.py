"""Signed commits: sync only what a trusted key signed (`--verify-commits`).

Like Flux's `spec.verify`: the commit the agent is about to sync must carry a signature that
verifies against the keys you trust — SSH keys in an `allowed_signers` file (git's own format, as
used with `gpg.format=ssh`), or OpenPGP public keys in a keyring file. git itself checks
(`git verify-commit`, which runs `ssh-keygen -Y verify` or gpg); an unsigned commit, a signature by
another key, or a broken one raises `CommitRefusedError`: the fetch fails, nothing is synced, and the
agent keeps what runs until a verified commit arrives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source.auth import config_env


class CommitRefusedError(SourceError):
    """The commit to sync is not signed by a trusted key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class CommitVerifier:
    """The trusted keys: an SSH allowed_signers file, an OpenPGP keyring, or both."""

    allowed_signers: Path | None = None
    gpg_keyring: Path | None = None

    def __post_init__(self) -> None:
        if self.allowed_signers is None and self.gpg_keyring is None:
            raise ConfigError("--verify-commits needs --allowed-signers and/or --gpg-keyring")
        for path in (self.allowed_signers, self.gpg_keyring):
            if path is not None and not path.is_file():
                raise ConfigError(f"cannot read the trusted keys file {path}")
        if self.gpg_keyring is not None and shutil.which("gpg") is None:
            raise ConfigError("--gpg-keyring needs gpg, which is not installed here")

    def verify(self, git_dir: Path, commit: str) -> str:
        """Who signed `commit` (git's verdict line); raises CommitRefusedError when no trusted key did."""
        with tempfile.TemporaryDirectory(prefix="gitops-agent-verify-") as home:
            config = [("gpg.ssh.allowedSignersFile", str(self.allowed_signers or os.devnull))]
            base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
            run_env = {**base, **config_env(config), "GNUPGHOME": home, "LC_ALL": "C"}
            if self.gpg_keyring is not None:
                imported = subprocess.run(
                    ["gpg", "--batch", "--quiet", "--homedir", home, "--import", str(self.gpg_keyring)],
                    capture_output=True, text=True, timeout=30, check=False,
                )  # fmt: skip
                if imported.returncode != 0:
                    raise ConfigError(
                        f"cannot import the keyring {self.gpg_keyring}: {imported.stderr.strip()}"
                    )
            signed = _git(git_dir, run_env, "cat-file", "commit", commit)
            short = commit[:12]
            header = signed.stdout.split("\n\n", 1)[0].splitlines()
            if not any(line.startswith("gpgsig") for line in header):
                raise CommitRefusedError(f"commit {short} is not signed; only signed commits are synced")
            result = _git(git_dir, run_env, "verify-commit", commit)
            said = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            if result.returncode != 0:
                why = said[-1] if said else "signature does not verify"
                raise CommitRefusedError(f"commit {short} is not signed by a trusted key: {why}")
            return next((line for line in said if line.startswith("Good")), said[-1] if said else "verified")


def _git(git_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
