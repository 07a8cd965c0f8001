"""What a notification says, independent of where it goes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from urllib.parse import urlsplit

from gitops_agent.source.urls import is_url


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}; choose one of {choices}") from None


class Event(StrEnum):
    """What happened; also the `event` field of the generic webhook's JSON."""

    DEPLOYING = "Deploying"
    DEPLOYED = "Deployed"
    DEPLOY_FAILED = "DeployFailed"
    ROLLED_BACK = "RolledBack"
    SYNC_FAILED = "SyncFailed"
    DRIFT_CORRECTED = "DriftCorrected"
    PRUNE_REFUSED = "PruneRefused"
    REPOSITORY_INVALID = "RepositoryInvalid"
    SOURCE_FAILING = "SourceFailing"
    CLUSTER_FAILING = "ClusterFailing"
    RECOVERED = "Recovered"


SEVERITY = {
    Event.DEPLOYING: Severity.INFO,
    Event.DEPLOYED: Severity.INFO,
    Event.DEPLOY_FAILED: Severity.ERROR,
    Event.ROLLED_BACK: Severity.ERROR,
    Event.SYNC_FAILED: Severity.ERROR,
    Event.DRIFT_CORRECTED: Severity.WARNING,
    Event.PRUNE_REFUSED: Severity.WARNING,
    Event.REPOSITORY_INVALID: Severity.ERROR,
    Event.SOURCE_FAILING: Severity.ERROR,
    Event.CLUSTER_FAILING: Severity.ERROR,
    Event.RECOVERED: Severity.INFO,
}


@dataclass(frozen=True)
class Notice:
    """One message: what happened to which deployment (None: the whole agent), at which revision and
    commit, by whom, and why."""

    event: Event
    deployment: str | None
    reason: str = ""
    revision: int | None = None
    commit: str = ""
    author: str = ""
    commit_url: str = ""
    status_url: str = ""

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.event]

    @property
    def title(self) -> str:
        """`support-bot r7 DeployFailed`, or `gitops-agent SourceFailing` for the whole agent."""
        subject = self.deployment or "gitops-agent"
        revision = f" r{self.revision}" if self.revision is not None else ""
        return f"{subject}{revision} {self.event.value}"

    @property
    def short_commit(self) -> str:
        return self.commit[:12]

    def text(self) -> str:
        """The plain-text message: title, commit and author, reason."""
        parts = [self.title]
        if self.commit:
            parts.append(f"commit {self.short_commit}" + (f" by {self.author}" if self.author else ""))
        line = " · ".join(parts)
        return f"{line}: {self.reason}" if self.reason else line


def forge_location(repo_url: str) -> tuple[str, str] | None:
    """(host, "owner/name") of a repository URL (https://, ssh://, git@host:path), else None."""
    if not is_url(repo_url):  # source.urls knows git's URL forms: a local path is no forge
        return None
    if "://" in repo_url:
        parts = urlsplit(repo_url)
        host, path = parts.hostname or "", parts.path
    else:  # scp-like `[user@]host:path`
        user_host, _, path = repo_url.partition(":")
        host = user_host.rpartition("@")[2]
    path = path.strip("/").removesuffix(".git")
    return (host, path) if host and "/" in path else None


def guess_forge(host: str) -> str:
    """The forge a host name gives away: github.com, gitlab.*, gitea.*/forgejo.*/codeberg.org, or ""."""
    if host == "github.com":
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if any(word in host for word in ("gitea", "forgejo", "codeberg")):
        return "gitea"
    return ""


def commit_url(repo_url: str, commit: str, forge: str = "") -> str:
    """A browser link to the commit on its forge ("" when the URL is not a forge's): GitLab's
    `/-/commit/`, GitHub's and Gitea's `/commit/`. `forge` overrides the guess from the host."""
    location = forge_location(repo_url)
    if not location or not commit or commit == "local":
        return ""
    host, path = location
    kind = forge or guess_forge(host)
    if not kind:
        return ""
    middle = "/-/commit/" if kind == "gitlab" else "/commit/"
    return f"https://{host}/{path}{middle}{commit}"
