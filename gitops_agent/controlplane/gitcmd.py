"""Running the git CLI for the writing side (commit, rebase, push), with secrets kept out of output.

The source stage only reads (GitPython over a bare cache); writing needs a work tree, rebase and
push status, which are plainest as git commands. Every command gets the same environment (prompts
and editors off, C locale so messages can be matched, credentials from `source.auth`), and every
message that reaches a human is scrubbed of tokens and URL userinfo first.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source.urls import scrub_text

DEFAULT_AUTHOR = "gitops-agent <gitops-agent@localhost>"
_IDENTITY = re.compile(r"^\s*([^<>]*?)\s*<([^<>\s]+)>\s*$")
_MAX_MESSAGE = 1500
# A push that lost a race: plain non-fast-forward, or the server's ref lock taken by the winner.
_RACE_MARKERS = (
    "[rejected]",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
    "but expected",
)


class GitRunner:
    """git commands in one directory with one environment; failures become scrubbed SourceErrors."""

    def __init__(
        self,
        cwd: Path,
        *,
        env: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        timeout: float = 60,
    ) -> None:
        self.cwd = cwd
        self._env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": "true", "LC_ALL": "C"}
        self._env.update(env or {})
        self._extra = dict(env or {})
        self._secrets = secrets
        self._timeout = timeout

    def at(self, cwd: Path) -> GitRunner:
        """The same environment in another directory (e.g. the clone just made)."""
        return GitRunner(cwd, env=self._extra, secrets=self._secrets, timeout=self._timeout)

    def _call(
        self, args: tuple[str, ...], env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                env={**self._env, **(env or {})},
                capture_output=True,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise SourceError(f"git {args[0]} timed out after {self._timeout:g}s") from err
        except OSError as err:
            raise ConfigError(f"cannot run git: {err}") from err

    def run(self, *args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
        """stdout, stripped; a non-zero exit raises (unless `check=False`, which returns "")."""
        done = self._call(args, env)
        if done.returncode != 0:
            if not check:
                return ""
            raise SourceError(f"git {args[0]} failed: {self.scrub(done)}", retryable=False)
        return done.stdout.decode("utf-8", errors="replace").strip()

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> bool:
        """Whether the command succeeded (its output is dropped)."""
        return self._call(args, env).returncode == 0

    def raw(self, *args: str) -> bytes:
        """Binary stdout (e.g. `git archive`)."""
        done = self._call(args, None)
        if done.returncode != 0:
            raise SourceError(f"git {args[0]} failed: {self.scrub(done)}", retryable=False)
        return done.stdout

    def push(self, remote: str, branch: str) -> bool:
        """Push HEAD to `branch`: True when it landed, False when it lost a race with another push
        (not a fast-forward any more, or the server's ref lock was taken).

        Any other failure (auth, network, a protected branch or hook) raises, because fetching and
        rebasing cannot fix it.
        """
        done = self._call(("push", "--porcelain", remote, f"HEAD:refs/heads/{branch}"), None)
        if done.returncode == 0:
            return True
        text = self.scrub(done)
        if any(marker in text for marker in _RACE_MARKERS):
            return False
        raise SourceError(f"git push to {remote}/{branch} failed: {text}", retryable=False)

    def scrub(self, done: subprocess.CompletedProcess[bytes]) -> str:
        """git's messages on one line, with tokens and URL credentials removed."""
        raw = (done.stderr + b"\n" + done.stdout).decode("utf-8", errors="replace")
        lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
        text = scrub_text("; ".join(lines) or f"exit status {done.returncode}", self._secrets)
        return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + " …"


@dataclass(frozen=True)
class Identity:
    """Author and committer of the commits a verb makes."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        match = _IDENTITY.match(text)
        if not match or not match.group(1):
            raise ConfigError(f"author must look like 'Name <email>', got {text!r}")
        return cls(match.group(1), match.group(2))

    @classmethod
    def resolve(cls, git: GitRunner, author: str | None) -> Identity:
        """`author` if given, else git's `user.name`/`user.email`, else gitops-agent's own."""
        if author:
            return cls.parse(author)
        name = git.run("config", "user.name", check=False)
        email = git.run("config", "user.email", check=False)
        return cls(name, email) if name and email else cls.parse(DEFAULT_AUTHOR)

    def env(self) -> dict[str, str]:
        """Both author and committer, so commits and rebases work without any git configuration."""
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def export_tree(git: GitRunner, ref: str, sub_path: str, dest: Path) -> Path:
    """Files of `ref` (under `sub_path`) written to `dest`, without touching the work tree or index."""
    data = git.raw("archive", "--format=tar", ref, "--", sub_path or ".")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest / sub_path if sub_path else dest


def load_at(repo: Path, ref: str, dest: Path) -> Path:
    """The repository folder `repo` (anywhere inside a Git work tree) as it is at `ref`, exported to
    `dest`; returns the folder's path there (`validate --base`)."""
    git = GitRunner(repo)
    top = Path(git.run("rev-parse", "--show-toplevel"))
    prefix = git.run("rev-parse", "--show-prefix").rstrip("/")
    git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return export_tree(git.at(top), ref, prefix, dest)
