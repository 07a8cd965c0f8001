"""The project's own error types.

Every error names the object or file it is about and its cause, and says whether retrying may help,
so the controller can decide between back-off and giving up without parsing messages.
"""

from __future__ import annotations


class GitopsAgentError(Exception):
    """Base class of every error this project raises on purpose."""

    retryable: bool = False


class ConfigError(GitopsAgentError):
    """Invalid command-line flags, environment or settings: fix the configuration and start again."""


class ManifestError(GitopsAgentError):
    """A deployments-repository file is invalid (the message names file:line:column and field)."""


class SourceError(GitopsAgentError):
    """The deployments repository could not be fetched or read (network, auth, missing ref).

    Retryable by default (networks and Git hosts come back); pass `retryable=False` when the same
    request can never succeed, such as a ref that names no branch, tag or commit.
    """

    retryable = True

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ClusterError(GitopsAgentError):
    """A Kubernetes API request failed; `retryable` says whether the server may accept it later."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class LocalClusterError(GitopsAgentError):
    """The local (test/demo) cluster could not be built or started."""
