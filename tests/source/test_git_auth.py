"""Credentials and URLs: GitAuth, the GIT_SSH_COMMAND, the git environment, and scrubbing."""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import pytest
from source_helpers import free_port

from gitops_agent.core.errors import ConfigError, SourceError
from gitops_agent.source import GitAuth, GitSource, ssh_command
from gitops_agent.source.auth import git_environment
from gitops_agent.source.urls import Transport, is_url, parse_repo_url, scrub_text

TOKEN = "ghp_sup3rSecretTokenValue"


def test_ssh_command_is_strict_and_quoted() -> None:
    command = ssh_command(
        known_hosts_file=Path("/etc/git secrets/known_hosts"),
        ssh_key_file=Path("/etc/git secrets/id_ed25519"),
        connect_timeout=20,
    )
    assert shlex.split(command) == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        'UserKnownHostsFile="/etc/git secrets/known_hosts"',
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=4",
        "-i",
        "/etc/git secrets/id_ed25519",
        "-o",
        "IdentitiesOnly=yes",
    ]


def test_ssh_command_escapes_percent_and_needs_no_key() -> None:
    argv = shlex.split(ssh_command(known_hosts_file=Path("/keys/100%/known_hosts")))
    assert "UserKnownHostsFile=/keys/100%%/known_hosts" in argv
    assert "-i" not in argv
    assert "IdentitiesOnly=yes" not in argv


def test_ssh_command_refuses_double_quotes() -> None:
    with pytest.raises(ConfigError):
        ssh_command(known_hosts_file=Path('/keys/"odd"/known_hosts'))


@pytest.mark.parametrize(
    "url", ["ssh://git@github.com/org/deploy.git", "git@github.com:org/deploy.git", "git+ssh://h/r"]
)
def test_ssh_url_without_known_hosts_is_a_config_error(url: str, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    for auth in (None, GitAuth(ssh_key_file=key)):
        with pytest.raises(ConfigError, match="known_hosts"):
            GitSource(url, cache_dir=tmp_path / "cache", auth=auth)
    with pytest.raises(ConfigError, match="does not exist"):
        GitSource(url, cache_dir=tmp_path, auth=GitAuth(known_hosts_file=tmp_path / "absent"))


@pytest.mark.timeout(60)
def test_ssh_fetch_runs_real_ssh_with_awkward_paths(tmp_path: Path) -> None:
    """ssh parses our options (paths with spaces and %) and fails on the closed port, not before."""
    secrets = tmp_path / "git secrets 100%"
    secrets.mkdir()
    (secrets / "known_hosts").write_text("")
    (secrets / "id key").write_text("not really a key\n")
    auth = GitAuth(ssh_key_file=secrets / "id key", known_hosts_file=secrets / "known_hosts")
    src = GitSource(
        f"ssh://git@127.0.0.1:{free_port()}/deployments.git",
        cache_dir=tmp_path / "cache",
        auth=auth,
        timeout_seconds=10,
    )
    with pytest.raises(SourceError, match="Connection refused") as info:
        src.fetch()
    assert info.value.retryable is True


def test_git_environment_for_https_token(tmp_path: Path) -> None:
    url = parse_repo_url("https://git.example.com:8443/org/deploy.git")
    env, secrets = git_environment(
        url,
        GitAuth(https_token=TOKEN, https_username="x-access-token"),
        safe_directory=tmp_path,
        timeout_seconds=30,
    )
    config = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert config["http.https://git.example.com:8443/.extraHeader"] == f"Authorization: Basic {basic}"
    assert config["credential.helper"] == ""
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == ""
    assert "GIT_SSH_COMMAND" not in env
    assert set(secrets) == {TOKEN, basic}


def test_git_environment_ignores_token_for_ssh(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    auth = GitAuth(https_token=TOKEN, known_hosts_file=known_hosts)
    env, secrets = git_environment(
        parse_repo_url("git@example.com:org/r.git"), auth, safe_directory=tmp_path, timeout_seconds=5
    )
    assert TOKEN not in "".join(env.values())
    assert secrets == ()
    assert "StrictHostKeyChecking=yes" in env["GIT_SSH_COMMAND"]


def test_git_auth_from_env(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    auth = GitAuth.from_env(
        {
            "GITOPS_AGENT_GIT_TOKEN_FILE": str(token_file),
            "GITOPS_AGENT_GIT_USERNAME": "oauth2",
            "GITOPS_AGENT_KNOWN_HOSTS_FILE": str(known_hosts),
        }
    )
    assert auth.read_token() == TOKEN
    assert auth.https_username == "oauth2"
    assert auth.known_hosts_file == known_hosts
    assert auth.ssh_key_file is None
    assert GitAuth.from_env({"GITOPS_AGENT_GIT_TOKEN": TOKEN}).read_token() == TOKEN
    assert GitAuth.from_env({}) == GitAuth()


@pytest.mark.parametrize(
    "environ",
    [
        {"GITOPS_AGENT_GIT_TOKEN_FILE": "/nonexistent/token"},
        {"GITOPS_AGENT_SSH_KEY_FILE": "/nonexistent/key"},
        {"GITOPS_AGENT_KNOWN_HOSTS_FILE": "/nonexistent/known_hosts"},
        {"GITOPS_AGENT_GIT_TOKEN": "a\r\nX-Injected: 1"},
        {"GITOPS_AGENT_GIT_USERNAME": "user:name", "GITOPS_AGENT_GIT_TOKEN": "t"},
    ],
)
def test_git_auth_from_env_rejects_bad_settings(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        GitAuth.from_env(environ)


def test_token_not_in_repr(tmp_path: Path) -> None:
    auth = GitAuth(https_token=TOKEN)
    assert TOKEN not in repr(auth)
    assert TOKEN not in str(auth)
    url = f"https://x:{TOKEN}@github.com/o/r.git"
    assert TOKEN not in repr(parse_repo_url(url))
    src = GitSource(url, cache_dir=tmp_path)
    assert TOKEN not in repr(vars(src))
    assert TOKEN not in src.describe()


def test_vanished_token_file_is_a_source_error(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    auth = GitAuth(https_token_file=token_file)
    token_file.unlink()  # a Secret being re-mounted
    with pytest.raises(SourceError, match="token file") as info:
        auth.read_token()
    assert info.value.retryable is True


@pytest.mark.parametrize(
    ("url", "clean", "transport", "user", "password"),
    [
        (
            "https://x:" + TOKEN + "@github.com/o/r.git",
            "https://github.com/o/r.git",
            Transport.HTTP,
            "x",
            TOKEN,
        ),
        (
            "https://" + TOKEN + "@github.com/o/r.git",
            "https://github.com/o/r.git",
            Transport.HTTP,
            TOKEN,
            None,
        ),
        ("http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git", Transport.HTTP, None, None),
        ("ssh://git:pw@host:2222/r.git", "ssh://git@host:2222/r.git", Transport.SSH, "git", "pw"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git", Transport.SSH, None, None),
        ("file:///srv/git/r.git", "file:///srv/git/r.git", Transport.FILE, None, None),
        ("/srv/git/r.git", "/srv/git/r.git", Transport.FILE, None, None),
        ("git://host/r.git", "git://host/r.git", Transport.GIT, None, None),
    ],
)
def test_parse_repo_url(
    url: str, clean: str, transport: Transport, user: str | None, password: str | None
) -> None:
    parsed = parse_repo_url(url)
    assert (parsed.url, parsed.transport, parsed.username, parsed.password) == (
        clean,
        transport,
        user,
        password,
    )


def test_is_url() -> None:
    for url in ("https://h/r", "ssh://h/r", "git@h:r.git", "h:org/r", "file:///r", "[::1]:r.git"):
        assert is_url(url), url
    for path in ("/srv/repo", "./repo", "repo", "dir/with:colon", "ftp://h/r"):
        assert not is_url(path), path
    with pytest.raises(ConfigError):
        parse_repo_url("ftp://h/r")


def test_scrub_text() -> None:
    text = f"fatal: unable to access 'https://x:{TOKEN}@h/r/': 401; ssh://u:pw@h/r; https://{TOKEN}@h/r"
    scrubbed = scrub_text(text, (TOKEN,))
    assert TOKEN not in scrubbed
    assert "pw" not in scrubbed
    assert "'https://h/r/'" in scrubbed
    assert "ssh://u@h/r" in scrubbed
