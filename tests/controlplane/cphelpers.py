"""Helpers for the control-plane tests: sample-repo on a bare remote, clones, and commit inspection."""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from gitrepo import git

from gitops_agent.cli import main
from gitops_agent.controlplane.repo_writer import RepoTarget

SAMPLE_REPO = Path(__file__).resolve().parents[2] / "sample-repo"
AUTHOR = "Test Bot <bot@example.com>"


@dataclass
class Remote:
    """A bare repository holding sample-repo on `main`."""

    bare: Path
    tmp: Path

    def clone(self, name: str) -> Path:
        """A working clone (as a user would have), on main."""
        path = self.tmp / name
        git("clone", "-q", str(self.bare), str(path), cwd=self.tmp)
        return path

    def rev(self, ref: str = "main") -> str:
        return git("rev-parse", ref, cwd=self.bare)

    def count(self, ref: str = "main") -> int:
        return int(git("rev-list", "--count", ref, cwd=self.bare))

    def show(self, path: str, ref: str = "main") -> str:
        return git("show", f"{ref}:{path}", cwd=self.bare) + "\n"

    def stat(self, ref: str = "main") -> list[str]:
        """`git show --stat` lines of the commit, without the summary line."""
        out = git("show", "--stat=200", "--format=", ref, cwd=self.bare)
        return [line.strip() for line in out.splitlines() if "|" in line]

    def diff(self, ref: str = "main") -> list[str]:
        """The commit's changed lines (`+x` / `-x`), without headers."""
        out = git("show", "--format=", "--unified=0", ref, cwd=self.bare)
        return [line for line in out.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]

    def subject(self, ref: str = "main") -> str:
        return git("log", "-1", "--format=%s", ref, cwd=self.bare)

    def author(self, ref: str = "main") -> str:
        return git("log", "-1", "--format=%an <%ae>", ref, cwd=self.bare)

    def branches(self) -> set[str]:
        out = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=self.bare)
        return set(out.split())

    def target(self, **overrides: object) -> RepoTarget:
        fields: dict[str, object] = {"location": str(self.bare), "author": AUTHOR, **overrides}
        return RepoTarget(**fields)  # type: ignore[arg-type]


def make_remote(tmp: Path, *, settings_namespace: str | None = None) -> Remote:
    bare, work = tmp / "remote.git", tmp / "seed"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp)
    shutil.copytree(SAMPLE_REPO, work)
    if settings_namespace:
        settings = work / "gitops-agent.yaml"
        text = settings.read_text().replace("namespace: agents\n", f"namespace: {settings_namespace}\n")
        settings.write_text(text)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Import sample-repo", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return Remote(bare, tmp)


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`gitops-agent ARGV` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def status(path: Path) -> str:
    """`git status --porcelain` of a working clone ("" when clean, untracked files included)."""
    return git("status", "--porcelain", cwd=path)
