"""Credentials for git, handed over so they never touch argv, URLs, config files or logs.

An HTTPS token becomes an `Authorization: Basic` header set through git's environment-only
configuration (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, git >= 2.31), scoped to
the repository's scheme+host so that no other host ever receives it. The environment of a process is
readable only by its own user, unlike argv, and nothing is written to the cached repository.
Credential helpers are switched off so a successful fetch is never "remembered" in a
`~/.git-credentials` store, and prompts are off so a bad credential fails instead of hanging.

SSH uses `GIT_SSH_COMMAND` with strict host key checking against one known_hosts file; trusting
unknown host keys is not an option, so an SSH URL without a known_hosts file is a ConfigError.
"""

from __future__ import annotations

import base64
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source.urls import RepoUrl, Transport

ENV_TOKEN = "GITOPS_AGENT_GIT_TOKEN"
ENV_TOKEN_FILE = "GITOPS_AGENT_GIT_TOKEN_FILE"
ENV_USERNAME = "GITOPS_AGENT_GIT_USERNAME"
ENV_SSH_KEY_FILE = "GITOPS_AGENT_SSH_KEY_FILE"
ENV_KNOWN_HOSTS_FILE = "GITOPS_AGENT_KNOWN_HOSTS_FILE"

_FORBIDDEN_IN_HEADER = ("\r", "\n", "\0")


@dataclass(frozen=True)
class GitAuth:
    """How to authenticate to the Git host. The token never shows in `repr()`.

    `https_token_file` is read again on every fetch, so a rotated Kubernetes Secret (or a
    short-lived GitHub App token refreshed by a sidecar) takes effect without a restart.
    """

    https_token: str | None = field(default=None, repr=False)
    https_username: str = "git"
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None
    https_token_file: Path | None = None

    def __post_init__(self) -> None:
        if self.https_token is not None and self.https_token_file is not None:
            raise ConfigError("give an HTTPS token or a token file, not both")
        if self.https_token is not None:
            _check_token(self.https_token, origin="the HTTPS token")
        if not self.https_username or ":" in self.https_username or _has_control(self.https_username):
            raise ConfigError(f"invalid HTTPS user name {self.https_username!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GitAuth:
        """Read GITOPS_AGENT_GIT_TOKEN[_FILE], _GIT_USERNAME, _SSH_KEY_FILE, _KNOWN_HOSTS_FILE."""
        env = os.environ if environ is None else environ
        token_file = _env_path(env, ENV_TOKEN_FILE)
        ssh_key = _env_path(env, ENV_SSH_KEY_FILE)
        known_hosts = _env_path(env, ENV_KNOWN_HOSTS_FILE)
        for name, path in (
            (ENV_TOKEN_FILE, token_file),
            (ENV_SSH_KEY_FILE, ssh_key),
            (ENV_KNOWN_HOSTS_FILE, known_hosts),
        ):
            if path is not None and not path.is_file():
                raise ConfigError(f"{name}: no such file {path}")
        return cls(
            https_token=env.get(ENV_TOKEN) or None,
            https_username=env.get(ENV_USERNAME) or "git",
            ssh_key_file=ssh_key,
            known_hosts_file=known_hosts,
            https_token_file=token_file,
        )

    @property
    def has_token(self) -> bool:
        """Whether HTTPS requests will carry a token."""
        return self.https_token is not None or self.https_token_file is not None

    def read_token(self) -> str | None:
        """The current token; a token file is read now, so rotation needs no restart."""
        if self.https_token_file is None:
            return self.https_token
        try:
            token = self.https_token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SourceError(f"cannot read the HTTPS token file {self.https_token_file}: {err}") from err
        _check_token(token, origin=f"the token file {self.https_token_file}")
        return token


def _check_token(token: str, *, origin: str) -> None:
    """Refuse empty tokens and control characters (they would inject extra HTTP header lines)."""
    if not token or _has_control(token):
        raise ConfigError(f"{origin} is empty or contains line breaks")


def _has_control(value: str) -> bool:
    return any(ch in value for ch in _FORBIDDEN_IN_HEADER)


def _env_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value).expanduser().absolute() if value else None


def basic_header(username: str, token: str) -> str:
    """`Authorization: Basic …` for HTTP Basic auth with a token as password (GitHub, GitLab, Gitea…)."""
    encoded = base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
    return f"Authorization: Basic {encoded}"


def secrets_of(username: str, token: str | None) -> tuple[str, ...]:
    """Every form in which a token could surface in text: raw and inside the Basic header."""
    if not token:
        return ()
    encoded = base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
    return (token, encoded)


def config_env(settings: list[tuple[str, str]]) -> dict[str, str]:
    """git settings as environment variables (command-line scope, never written to any file)."""
    env = {"GIT_CONFIG_COUNT": str(len(settings))}
    for index, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def ssh_command(
    *, known_hosts_file: Path, ssh_key_file: Path | None = None, connect_timeout: float = 30
) -> str:
    """The `GIT_SSH_COMMAND`: batch mode, strict host keys from one file, only the given key.

    Each argument is shell-quoted for git (which runs the command through `sh`), and paths are
    also quoted and %-escaped for ssh's own option parser, so spaces or `%` in a path are safe.
    """
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={_ssh_path(known_hosts_file)}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        f"ConnectTimeout={max(1, round(connect_timeout))}",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=4",
    ]
    if ssh_key_file is not None:
        argv += ["-i", _ssh_path(ssh_key_file, quote=False), "-o", "IdentitiesOnly=yes"]
    return " ".join(shlex.quote(arg) for arg in argv)


def _ssh_path(path: Path, *, quote: bool = True) -> str:
    """An absolute path as ssh reads it: `%` doubled (ssh expands %-tokens), quoted if spaced."""
    text = str(path.expanduser().absolute())
    if '"' in text or _has_control(text):
        raise ConfigError(f"unsupported character in SSH file path {text!r}")
    text = text.replace("%", "%%")
    if quote and any(ch.isspace() for ch in text):
        text = f'"{text}"'
    return text


def git_environment(
    url: RepoUrl, auth: GitAuth | None, *, safe_directory: Path, timeout_seconds: float
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Environment for every git process of one source, and the secrets to scrub from its output.

    Prompts and credential helpers are off in all cases, so a missing or wrong credential fails
    fast with a message instead of hanging on a terminal or a GUI, and nothing is stored.
    """
    settings = [
        ("credential.helper", ""),
        ("safe.directory", str(safe_directory)),
        ("gc.autoDetach", "false"),
    ]
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GCM_INTERACTIVE": "never",
        # abort a stalled HTTP transfer even before the overall timeout kills git
        "GIT_HTTP_LOW_SPEED_LIMIT": "1",
        "GIT_HTTP_LOW_SPEED_TIME": str(max(1, round(timeout_seconds))),
    }
    secrets: tuple[str, ...] = ()
    token = auth.read_token() if url.transport is Transport.HTTP and auth is not None else None
    if auth is not None and token is not None:
        settings.append((f"http.{url.http_scope}.extraHeader", basic_header(auth.https_username, token)))
        secrets = secrets_of(auth.https_username, token)
    if url.transport is Transport.SSH:
        env["GIT_SSH_COMMAND"] = ssh_command_for(auth, connect_timeout=timeout_seconds)
    env.update(config_env(settings))
    return env, secrets


def ssh_command_for(auth: GitAuth | None, *, connect_timeout: float) -> str:
    """`ssh_command` from a GitAuth; no known_hosts file is a ConfigError, never a silent trust."""
    if auth is None or auth.known_hosts_file is None:
        raise ConfigError(
            "an SSH repository URL needs a known_hosts file (strict host key checking is not "
            f"optional): set {ENV_KNOWN_HOSTS_FILE} to a file with the host's verified public key"
        )
    if not auth.known_hosts_file.is_file():
        raise ConfigError(f"known_hosts file {auth.known_hosts_file} does not exist")
    if auth.ssh_key_file is not None and not auth.ssh_key_file.is_file():
        raise ConfigError(f"SSH key file {auth.ssh_key_file} does not exist")
    return ssh_command(
        known_hosts_file=auth.known_hosts_file,
        ssh_key_file=auth.ssh_key_file,
        connect_timeout=connect_timeout,
    )
