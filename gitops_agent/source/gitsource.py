"""The Git source: a cached bare mirror, incremental fetches, and one clean tree per commit.

The agent polls the repository often, so it clones once into `cache_dir/<sha256(url)[:16]>/repo.git`
and afterwards only fetches what changed. Branches land in `refs/remotes/origin/*` and tags in
`refs/tags/*`, both forced (force-pushes and moved tags are followed) and pruned (deleted branches
disappear). The asked-for ref is resolved as branch, then tag, then commit sha, and that exact
commit is checked out into `worktrees/<sha>` (see `worktrees.py`).

Fetches are serialized per cache directory: a thread lock for this process and an advisory file
lock for other processes (a CLI run next to the controller) sharing the same cache.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import ipaddress
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from git import Git, Repo
from git.exc import CommandError, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source.auth import GitAuth, git_environment, ssh_command_for
from gitops_agent.source.snapshot import CommitInfo, Snapshot, normalize_sub_path, resolve_sub_path
from gitops_agent.source.urls import RepoUrl, Transport, git_error_text, is_url, parse_repo_url
from gitops_agent.source.verify import CommitVerifier
from gitops_agent.source.worktrees import WorktreeStore

log = logging.getLogger(__name__)

_FETCH_REFSPECS = ("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
# the remote's default branch, kept outside the pruned namespaces above
_HEAD_REF = "refs/gitops-agent/HEAD"
_SHORT_SHA = re.compile(r"^[0-9a-fA-F]{4,64}$")
_FULL_SHA = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
_BAD_REF = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|^-|^/|/$")

_MIN_GIT = (2, 31)

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class GitSource:
    """A Git repository (HTTPS, SSH, git:// or a local path), fetched into a local cache."""

    def __init__(
        self,
        url: str,
        *,
        ref: str = "main",
        sub_path: str = "",
        cache_dir: Path,
        auth: GitAuth | None = None,
        timeout_seconds: float = 60,
        keep_worktrees: int = 3,
        verifier: CommitVerifier | None = None,
    ) -> None:
        _check_git_version()
        if not is_url(url):
            url = str(Path(url).expanduser().absolute())
        self._url = parse_repo_url(url)
        self._auth = _with_url_credentials(self._url, auth)
        if _BAD_REF.search(ref) or not ref:
            raise ConfigError(f"invalid Git ref {ref!r}")
        self._ref = ref
        self._sub_path = normalize_sub_path(sub_path)
        if timeout_seconds <= 0:
            raise ConfigError(f"Git timeout must be positive, got {timeout_seconds}")
        self._timeout = float(timeout_seconds)
        self._last_fetched = ""
        self._verifier = verifier
        self._verified = ""
        """The last commit that verified (an unchanged poll does not verify it again)."""
        if self._url.transport is Transport.SSH:
            ssh_command_for(self._auth, connect_timeout=self._timeout)  # fail at start-up, not later
        _warn_plain_http(self._url, self._auth)
        key = hashlib.sha256(self._url.url.encode()).hexdigest()[:16]
        self._root = cache_dir.expanduser().absolute() / key
        self._repo_dir = self._root / "repo.git"
        self._worktrees = WorktreeStore(self._root / "worktrees", keep=keep_worktrees)

    @property
    def url(self) -> str:
        """The repository URL without credentials."""
        return self._url.url

    @property
    def cache_path(self) -> Path:
        """This repository's directory inside the cache (bare mirror and worktrees)."""
        return self._root

    def describe(self) -> str:
        """`git URL @ ref (path sub)` with no credentials in it."""
        text = f"git {self._url.url} @ {self._ref}"
        return f"{text} (path {self._sub_path})" if self._sub_path else text

    def version(self, snapshot: Snapshot) -> str:
        return snapshot.commit

    def log_at(self, commit: str) -> GitLog:
        """The history up to `commit` (fetched before: `fetch()` brings every branch's commits in)."""
        with self._open_repo() as repo:
            try:
                sha = repo.git.rev_parse("--verify", f"{commit}^{{commit}}").strip()
            except GitCommandError as err:
                raise SourceError(f"{commit!r} names no commit of {self._url.url}", retryable=False) from err
        return GitLog(self._repo_dir, sha, self._sub_path)

    def change_trigger(self) -> None:
        """Git changes are noticed by polling and webhooks."""
        return None

    def fetch(self) -> Snapshot:
        """Fetch, resolve the ref and return a snapshot of that exact commit's tree."""
        with _locked(self._root):
            env, secrets = git_environment(
                self._url, self._auth, safe_directory=self._repo_dir, timeout_seconds=self._timeout
            )
            with self._open_repo() as repo:
                repo.git.update_environment(**env)
                cloning = not repo.git.for_each_ref("--count=1")  # nothing fetched yet
                try:
                    self._fetch_remote(repo, secrets, extra=self._extra_refspecs())
                except SourceError:
                    if cloning:  # a half-written clone (a full disk, a dropped connection) goes
                        repo.close()
                        self._forget_clone()
                    raise
                sha = self._resolve(repo, secrets)
                if self._verifier is not None and sha != self._verified:  # before it is checked out
                    signer = self._verifier.verify(self._repo_dir, sha)
                    log.debug("commit %s: %s", sha[:12], signer)
                    self._verified = sha
                tree = self._worktrees.checkout(repo, sha, env)
                snapshot = self._snapshot(repo, sha, tree)
                _gc(repo)
            self._worktrees.prune(current=sha)
        # Every poll fetches; only a new commit is news (at INFO), an unchanged poll is DEBUG.
        level = logging.DEBUG if sha == self._last_fetched else logging.INFO
        self._last_fetched = sha
        log.log(level, "fetched %s: commit %s", self.describe(), snapshot.short_commit)
        return snapshot

    def _forget_clone(self) -> None:
        """Remove the cached repository: what a failed first fetch wrote is of no use to the next
        one, and on a full disk it holds the space every repository sharing the cache needs."""
        log.warning("first fetch into %s failed; removing the partial clone", self._repo_dir)
        shutil.rmtree(self._repo_dir, ignore_errors=True)

    def _open_repo(self) -> Repo:
        """The cached bare repository, created (atomically, by rename) on first use."""
        if self._repo_dir.is_dir():
            try:
                return Repo(self._repo_dir)
            except (InvalidGitRepositoryError, NoSuchPathError):
                log.warning("cached repository %s is damaged; cloning again", self._repo_dir)
                shutil.rmtree(self._repo_dir, ignore_errors=True)
        tmp: Path | None = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".init-", dir=self._root))
            with Repo.init(tmp, bare=True) as repo:
                repo.git.remote("add", "origin", self._url.url)
                repo.git.config("gc.autoDetach", "false")
            tmp.rename(self._repo_dir)
        except (OSError, GitCommandError) as err:
            if tmp is not None:  # a half-made repository (a full disk) is no use to a retry
                shutil.rmtree(tmp, ignore_errors=True)
            raise SourceError(f"cannot create the Git cache in {self._root}: {err}") from err
        return Repo(self._repo_dir)

    def _extra_refspecs(self) -> tuple[str, ...]:
        return (f"+HEAD:{_HEAD_REF}",) if self._ref == "HEAD" else ()

    def _fetch_remote(self, repo: Repo, secrets: tuple[str, ...], *, extra: tuple[str, ...]) -> None:
        """One incremental, pruning fetch; network and auth failures are retryable SourceErrors."""
        try:
            repo.git.fetch(
                "--prune",
                "--no-auto-gc",
                "origin",
                *_FETCH_REFSPECS,
                *extra,
                kill_after_timeout=self._timeout,
            )
        except GitCommandError as err:
            detail = git_error_text(err, secrets)
            if detail.startswith("Timeout:"):
                detail = f"timed out after {self._timeout:g}s"
            hint = _hint(detail, has_token=bool(secrets))
            raise SourceError(f"git fetch from {self._url.url} failed: {detail}{hint}") from err

    def _resolve(self, repo: Repo, secrets: tuple[str, ...]) -> str:
        """The commit the ref names: remote branch, then tag, then (short) sha."""
        for candidate in _candidates(self._ref):
            sha = _rev_parse(repo, candidate)
            if sha:
                return sha
        if _FULL_SHA.match(self._ref):
            # a commit on no branch or tag (a pull request head, a rewritten history): servers
            # speaking protocol v2 hand out any commit asked for by its full id
            try:
                self._fetch_remote(repo, secrets, extra=(self._ref,))
            except SourceError:
                log.debug("fetching commit %s by id failed", self._ref, exc_info=True)
            sha = _rev_parse(repo, self._ref)
            if sha:
                return sha
        raise SourceError(
            f"ref {self._ref!r} is not a branch, tag or commit of {self._url.url} "
            f"(branches: {_names(repo, 'refs/remotes/origin/') or 'none'})",
            retryable=False,
        )

    def _snapshot(self, repo: Repo, sha: str, tree: Path) -> Snapshot:
        info = _commit_info(repo, sha)
        where = f"commit {sha[:12]} of {self._url.url}"
        return Snapshot(
            commit=sha,
            path=resolve_sub_path(tree, self._sub_path, where=where),
            author=info.author,
            message=info.message,
            time=info.time,
            ref=self._ref,
            log=GitLog(self._repo_dir, sha, self._sub_path),
        )


@functools.cache
class GitLog:
    """`git log` over the source's cached clone, up to one snapshot's commit."""

    def __init__(self, repo_path: Path, until: str, sub_path: str) -> None:
        self.repo_path = repo_path
        self.until = until
        self.sub_path = sub_path

    def last_change(self, paths: Sequence[str], *, since: str | None) -> CommitInfo | None:
        """Only within `since..until` when `since` is an ancestor (a force push: the whole history)."""
        if not paths:
            return None
        pathspecs = [str(PurePosixPath(self.sub_path, p)) if self.sub_path else p for p in paths]
        with Repo(self.repo_path) as repo:
            try:
                in_range = since is not None and self._is_ancestor(repo, since)
                found = repo.git.log(
                    "-1",
                    "--format=%H",
                    f"{since}..{self.until}" if in_range else self.until,
                    "--",
                    *pathspecs,
                )
                return _commit_info(repo, found.strip()) if found else None
            except GitCommandError as err:
                log.warning("cannot read the history of %s: %s", ", ".join(pathspecs), err)
                return None

    def last_changes(
        self, paths: Mapping[str, Sequence[str]], *, since: str | None
    ) -> dict[str, CommitInfo | None]:
        """`last_change` for many path sets at once (a cold sync credits every deployment).

        When the range has no merge commit, history is a line and the newest commit that touched a
        path is the first one a single `git log --name-only` walk shows it in: one process for all
        (stopping once every set is found). With merges, `git log -- paths` simplifies history per
        path set, which one walk cannot reproduce, so each set is asked on its own, exactly as before.
        """
        wanted = {name: list(p) for name, p in paths.items() if p}
        found: dict[str, CommitInfo | None] = dict.fromkeys(paths)
        if not wanted:
            return found
        with Repo(self.repo_path) as repo:
            try:
                in_range = since is not None and self._is_ancestor(repo, since)
                span = f"{since}..{self.until}" if in_range else self.until
                if repo.git.rev_list("--merges", "-1", span):
                    return found | {name: self.last_change(p, since=since) for name, p in wanted.items()}
                shas = self._walk(repo, span, wanted)
                infos = {sha: _commit_info(repo, sha) for sha in set(shas.values())}
            except GitCommandError as err:
                log.warning("cannot read the history: %s", err)
                return found
        return found | {name: infos[sha] for name, sha in shas.items()}

    def _walk(self, repo: Repo, span: str, wanted: Mapping[str, Sequence[str]]) -> dict[str, str]:
        """Each path set's newest commit in a linear `span` (sets never touched are left out)."""
        prefix = f"{self.sub_path.strip('/')}/" if self.sub_path else ""
        owners: dict[str, list[str]] = {}
        for name, group in wanted.items():
            for path in group:
                owners.setdefault(path.rstrip("/"), []).append(name)
        shas: dict[str, str] = {}
        process = repo.git(c="core.quotePath=false").log(
            "--format=%x00%H",
            "--name-only",
            "--no-renames",
            span,
            "--",
            self.sub_path or ".",
            as_process=True,
        )
        sha = ""
        try:
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if line.startswith("\0"):
                    sha = line[1:]
                    continue
                changed = line.removeprefix(prefix)
                for path in _self_and_parents(changed):
                    for name in owners.pop(path, ()):
                        shas.setdefault(name, sha)
                if not owners:
                    break
        finally:
            process.proc.kill()
            process.proc.wait()
        return shas

    def changed_paths(self, since: str) -> frozenset[str] | None:
        """`git diff --name-only since until` under the sub-path, relative to it (renames as both)."""
        with Repo(self.repo_path) as repo:
            try:
                out = repo.git.diff(
                    "--name-only", "--no-renames", since, self.until, "--", self.sub_path or "."
                )
            except GitCommandError:
                return None
        prefix = f"{self.sub_path.strip('/')}/" if self.sub_path else ""
        return frozenset(line.removeprefix(prefix) for line in out.splitlines() if line)

    def includes(self, commit: str) -> bool:
        """Whether `commit` is `until` or one of its ancestors (False when either is unknown here)."""
        with Repo(self.repo_path) as repo:
            return self._is_ancestor(repo, commit)

    def _is_ancestor(self, repo: Repo, commit: str) -> bool:
        try:
            repo.git.merge_base("--is-ancestor", commit, self.until)
        except GitCommandError:
            return False  # not an ancestor (a force push), or unknown
        return True


def _self_and_parents(path: str) -> Iterator[str]:
    """`a/b/c.yaml`, `a/b`, `a`: the pathspecs a changed file matches."""
    parts = PurePosixPath(path).parts
    for end in range(len(parts), 0, -1):
        yield "/".join(parts[:end])


def _commit_info(repo: Repo, sha: str) -> CommitInfo:
    commit = repo.commit(sha)
    message = commit.message
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    return CommitInfo(
        sha,
        f"{commit.author.name} <{commit.author.email}>",
        message,
        commit.committed_datetime.astimezone(UTC),
    )


def _check_git_version() -> None:
    """Credentials travel in GIT_CONFIG_COUNT variables, which older git silently ignores."""
    try:
        version = Git().version_info
    except CommandError as err:  # includes git not being installed at all
        raise ConfigError(f"cannot run git: {err}") from err
    if version < _MIN_GIT:
        found = ".".join(map(str, version))
        raise ConfigError(f"git {found} is too old: {'.'.join(map(str, _MIN_GIT))} or newer is needed")


def _candidates(ref: str) -> list[str]:
    """Full ref names to try for what the user wrote, most specific meaning first."""
    if ref == "HEAD":
        return [_HEAD_REF]
    if ref.startswith("refs/heads/"):
        return ["refs/remotes/origin/" + ref.removeprefix("refs/heads/")]
    if ref.startswith("refs/tags/"):
        return [ref]
    names = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
    return [*names, ref] if _SHORT_SHA.match(ref) else names


_HINTS = (
    ("could not read username", "the server wants credentials: set GITOPS_AGENT_GIT_TOKEN(_FILE)"),
    ("authentication failed", "the server refused the credentials"),
    ("host key verification failed", "the host's key is not in the known_hosts file"),
    ("permission denied (publickey", "the server refused the SSH key"),
)


def _hint(detail: str, *, has_token: bool) -> str:
    """A short cause for the common auth failures, whose git wording is misleading without prompts."""
    lowered = detail.lower()
    if has_token and "could not read username" in lowered:
        return " (the server refused the token: check it and the user name)"
    for needle, hint in _HINTS:
        if needle in lowered:
            return f" ({hint})"
    return ""


def _rev_parse(repo: Repo, name: str) -> str | None:
    try:
        out = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}")
    except GitCommandError:
        return None
    return str(out).strip() or None


def _names(repo: Repo, prefix: str, limit: int = 10) -> str:
    try:
        out = str(repo.git.for_each_ref("--format=%(refname)", f"--count={limit}", prefix))
    except GitCommandError:
        return ""
    return ", ".join(line.removeprefix(prefix) for line in out.splitlines())


def _gc(repo: Repo) -> None:
    """Housekeeping after the snapshot is ready, so a slow gc can never fail a fetch."""
    try:
        repo.git.gc("--auto", "--quiet")
    except GitCommandError as err:
        log.warning("git gc in %s failed: %s", repo.git_dir, git_error_text(err))


def _with_url_credentials(url: RepoUrl, auth: GitAuth | None) -> GitAuth | None:
    """Move a token pasted into an HTTPS URL into GitAuth, so it never reaches git's argv or config."""
    if url.transport is not Transport.HTTP or url.password is None:
        return auth
    if auth is not None and auth.has_token:
        log.warning("ignoring the password in the repository URL: a token is configured")
        return auth
    username = url.username or (auth.https_username if auth else "git")
    if auth is None:
        return GitAuth(https_token=url.password, https_username=username)
    return GitAuth(
        https_token=url.password,
        https_username=username,
        ssh_key_file=auth.ssh_key_file,
        known_hosts_file=auth.known_hosts_file,
    )


def _warn_plain_http(url: RepoUrl, auth: GitAuth | None) -> None:
    parts = urlsplit(url.url)
    if parts.scheme != "http" or auth is None or not auth.has_token:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        log.warning("the Git token for %s is sent over plain HTTP; prefer https://", url.url)


def _thread_lock(root: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(root, threading.Lock())


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Exclusive use of one cache directory, across threads and processes."""
    with _thread_lock(root):
        try:
            root.mkdir(parents=True, exist_ok=True)
            handle = (root / "lock").open("a")
        except OSError as err:
            raise SourceError(f"cannot use the Git cache directory {root}: {err}") from err
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
