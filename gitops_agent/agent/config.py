"""The running agent's configuration: flags, each with an environment variable (12-factor).

Validated once at start-up: an invalid value is a ConfigError, and `gitops-agent run` exits non-zero
before touching the cluster.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from gitops_agent.agent.notify.config import NotifyConfig
from gitops_agent.core.errors import ConfigError
from gitops_agent.kube.throttle import DEFAULT_BURST, DEFAULT_QPS, DEFAULT_SYNC_BUDGET
from gitops_agent.source import CommitVerifier


@dataclass(frozen=True)
class UiConfig:
    """The web UI (`--ui-*`): who may sign in, for how long, and what anonymous viewers see."""

    token: str | None = field(default=None, repr=False)
    """A token for browsers only (`--ui-token-file`); None: the API token signs browsers in."""
    public_read: bool = False
    """The read-only pages without sign-in. Without any token the UI cannot write, and reads are open."""
    session_minutes: int = 480
    secure_cookie: bool = False
    """Mark the session cookie Secure: set it when the UI is served over TLS (at the ingress)."""
    propose: bool = False
    """Writes go to a new branch each (`gitops-agent/ui/…`) to open a pull request from."""

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < 16:
            raise ConfigError("the UI token must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        if not 1 <= self.session_minutes <= 7 * 24 * 60:
            raise ConfigError("--ui-session-minutes must be between 1 and 10080 (a week)")


@dataclass(frozen=True)
class AgentConfig:
    """Everything `gitops-agent run` needs besides the cluster client."""

    repo: str
    state_namespace: str
    cache_dir: Path
    ref: str = "main"
    sub_path: str = ""
    use_git: bool = False
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    poll_interval: float = 60.0
    resync_interval: float = 600.0
    webhook_secret: bytes | None = field(default=None, repr=False)  # never in a repr or a log
    leader_elect: bool = True
    lease_name: str = "gitops-agent"
    lease_duration: float = 15.0
    identity: str = ""
    workers: int = 8
    force_conflicts: bool = True
    api_token: str | None = field(default=None, repr=False)
    instance: str = ""
    """This instance's id ("": the state namespace); see `SyncOptions.instance`."""
    notify: NotifyConfig | None = None
    """Chat notifications and commit statuses (`--notify-config`); None: off."""
    verifier: CommitVerifier | None = None
    """`--verify-commits`: the trusted keys a commit must be signed with; None: not checked."""
    signing_key: Path | None = None
    """The SSH key that signs the control-plane API's commits; None: unsigned."""
    ui: UiConfig = field(default_factory=UiConfig)
    kube_qps: float = DEFAULT_QPS
    """The client's pace in fair weather (`--kube-api-qps`); throttled answers slow it down."""
    kube_burst: int = DEFAULT_BURST
    throttle_budget: float = DEFAULT_SYNC_BUDGET
    """Seconds a sync waits out the apiserver's throttling before its throttled units fail."""

    def __post_init__(self) -> None:
        if self.poll_interval < 1 or self.resync_interval < 1:
            raise ConfigError("--poll-interval and --resync-interval must be at least 1 second")
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"--listen port {self.listen_port} is out of range")
        if self.workers < 1:
            raise ConfigError("--workers must be at least 1")
        if self.kube_qps <= 0 or self.kube_burst < 1 or self.throttle_budget < 0:
            raise ConfigError(
                "--kube-api-qps must be positive, --kube-api-burst at least 1, "
                "--kube-api-throttle-budget not negative"
            )
        if self.lease_duration < 3:
            raise ConfigError("--lease-duration must be at least 3 seconds")
        if self.api_token is not None and len(self.api_token) < 16:
            raise ConfigError("the API token must be at least 16 characters (e.g. `openssl rand -hex 32`)")

    @property
    def ui_token(self) -> str | None:
        """What signs a browser in: `--ui-token-file`, else the API token; None: the UI is read-only."""
        return self.ui.token or self.api_token


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` or `:port` → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--listen {value!r} is not host:port")
    return host or "0.0.0.0", int(port)


def read_secret_file(path: str | None, what: str) -> str | None:
    """The stripped contents of a mounted secret file (None when no path is given)."""
    if not path:
        return None
    try:
        value = Path(path).read_text().strip()
    except OSError as err:
        raise ConfigError(f"cannot read the {what} file {path}: {err.strerror}") from err
    if not value:
        raise ConfigError(f"the {what} file {path} is empty")
    return value


def default_identity() -> str:
    """The pod name (POD_NAME) or host name, plus the pid: unique per replica."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}"


def default_state_namespace() -> str:
    """GITOPS_AGENT_STATE_NAMESPACE, else the pod's own namespace, else `gitops-agent`."""
    explicit = os.environ.get("GITOPS_AGENT_STATE_NAMESPACE")
    if explicit:
        return explicit
    mounted = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    return mounted.read_text().strip() if mounted.exists() else "gitops-agent"
