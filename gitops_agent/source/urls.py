"""Repository addresses: tell URLs from local paths, and keep credentials out of every shown string.

Users paste whatever their Git host shows them, sometimes with a token inside
(`https://x-access-token:TOKEN@github.com/org/repo.git`). This module is the one place that knows
how to take such a URL apart, so that the rest of the stage only ever stores, logs or passes to git
a URL without secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote, urlsplit, urlunsplit

from git.exc import GitCommandError

from gitops_agent.core.errors import ConfigError


class Transport(Enum):
    """How git reaches the repository; decides which credentials apply."""

    HTTP = "http"
    SSH = "ssh"
    GIT = "git"
    FILE = "file"


_SCHEMES = {
    "http": Transport.HTTP,
    "https": Transport.HTTP,
    "ssh": Transport.SSH,
    "git+ssh": Transport.SSH,
    "ssh+git": Transport.SSH,
    "git": Transport.GIT,
    "file": Transport.FILE,
}
# git's scp-like syntax `[user@]host:path`: only when no slash comes before the first colon.
_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?(?:\[[^\]/]+\]|[^@/:\s]+):(?!//)")
_SCHEME_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# userinfo inside any URL found in free text (git's stderr, exception messages)
_HTTP_USERINFO = re.compile(r"(?i)\b(https?://)[^/\s@]+@")
_PASSWORD_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*):[^/\s@]*@")
_MAX_ERROR_TEXT = 2000


@dataclass(frozen=True)
class RepoUrl:
    """A repository URL with credentials taken out: `url` is safe to store, log and pass to git.

    HTTP URLs lose the whole userinfo (a lone user name is often a token itself); SSH keeps its user
    (`git@`), which names the account and is no secret.
    """

    url: str
    transport: Transport
    username: str | None = field(default=None, repr=False)  # on HTTP possibly a token
    password: str | None = field(default=None, repr=False)

    @property
    def http_scope(self) -> str:
        """`scheme://host[:port]/`, the prefix git matches `http.<url>.*` settings against."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/"


def is_url(repo: str) -> bool:
    """Whether `repo` is written as a URL (`scheme://…` or scp-like `git@host:path`)."""
    match = _SCHEME_URL.match(repo)
    if match:
        return match.group(1).lower() in _SCHEMES
    return bool(_SCP_LIKE.match(repo))


def parse_repo_url(repo: str) -> RepoUrl:
    """Split credentials out of a URL (or take an absolute local path as a `file` transport)."""
    match = _SCHEME_URL.match(repo)
    if not match:
        if repo.startswith("/"):
            return RepoUrl(url=repo, transport=Transport.FILE)
        if _SCP_LIKE.match(repo):
            return RepoUrl(url=repo, transport=Transport.SSH)
        raise ConfigError(f"not a Git URL: {scrub_text(repo)}")
    scheme = match.group(1).lower()
    transport = _SCHEMES.get(scheme)
    if transport is None:
        raise ConfigError(f"unsupported Git URL scheme {scheme!r} in {scrub_text(repo)}")
    parts = urlsplit(repo)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return RepoUrl(url=repo, transport=transport)
    user, colon, password = userinfo.partition(":")
    keep_user = transport is not Transport.HTTP and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return RepoUrl(
        url=clean,
        transport=transport,
        username=unquote(user) if user else None,
        password=unquote(password) if colon else None,
    )


def scrub_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL userinfo and every given secret from free text before it reaches a human."""
    text = _HTTP_USERINFO.sub(r"\1", text)
    text = _PASSWORD_USERINFO.sub(r"\1@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def git_error_text(err: GitCommandError, secrets: tuple[str, ...] = ()) -> str:
    """git's own stderr from a failed command (GitPython wraps it in `stderr: '…'`), scrubbed."""
    raw = str(err.stderr or "").strip()
    if raw.startswith("stderr: '") and raw.endswith("'"):
        raw = raw[len("stderr: '") : -1]
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    text = scrub_text("; ".join(lines) or f"git exited with status {err.status}", secrets)
    # scrubbed first: a cut must never leave half a secret behind
    return text if len(text) <= _MAX_ERROR_TEXT else text[:_MAX_ERROR_TEXT] + " …"
