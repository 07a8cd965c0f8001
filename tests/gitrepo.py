"""Real Git repositories for tests: a bare "remote" and a working clone that commits and pushes.

Shared by the source, sync and agent tests (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The helper git runs ignore the machine's own git configuration, so tests are reproducible.
HELPER_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Alice Example",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Example",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run the git CLI for test setup; raises with git's stderr on failure."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **HELPER_ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


@dataclass
class Upstream:
    """A bare "remote" repository and a working clone that pushes to it."""

    bare: Path
    work: Path

    def commit(
        self,
        files: dict[str, str | None],
        message: str,
        *,
        date: str = "2024-05-01T12:00:00+02:00",
        sign_key: Path | None = None,
    ) -> str:
        """Write (or delete, for None) files, commit them with a fixed date (signed with the SSH key
        `sign_key`, when given); returns the sha."""
        for name, content in files.items():
            path = self.work / name
            if content is None:
                git("rm", "-q", "-r", name, cwd=self.work)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git("add", name, cwd=self.work)
        dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        signing = ("-c", "gpg.format=ssh", "-c", f"user.signingkey={sign_key}", "-c", "commit.gpgsign=true")
        options = signing if sign_key else ()
        git(*options, "commit", "-q", "--allow-empty", "-m", message, cwd=self.work, env=dates)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work)

    def push(self, *refs: str, force: bool = False) -> None:
        flags = ["--force"] if force else []
        git("push", "-q", *flags, "origin", *(refs or ("HEAD",)), cwd=self.work)


def ssh_key(folder: Path, name: str) -> Path:
    """A fresh ed25519 key pair (no passphrase): returns the private key's path (`.pub` beside it)."""
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def allowed_signers(folder: Path, *keys: Path) -> Path:
    """git's allowed_signers format: `<principal> <key type> <key>` per line."""
    path = folder / "allowed_signers"
    path.write_text("".join(f"{k.name}@example.com {k.with_suffix('.pub').read_text()}" for k in keys))
    return path
