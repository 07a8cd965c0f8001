"""`gitops-agent run`: the in-cluster agent that people leave running.

Every flag has an environment variable (shown in --help), so the Helm chart configures it with env
and mounted Secret files. Secrets are only ever read from files or the environment, never flags that
would show in `ps`.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from gitops_agent.agent.config import (
    AgentConfig,
    UiConfig,
    default_identity,
    default_state_namespace,
    parse_listen,
    read_secret_file,
)
from gitops_agent.agent.controller import Agent
from gitops_agent.agent.http.routes import build_router
from gitops_agent.agent.http.server import HttpServer
from gitops_agent.agent.notify.config import load_notify_config
from gitops_agent.cli.common import add_repo_flags, default_cache_dir
from gitops_agent.core.errors import ConfigError
from gitops_agent.core.logs import get_logger, setup_logging
from gitops_agent.kube.client import connect
from gitops_agent.kube.throttle import DEFAULT_BURST, DEFAULT_QPS, DEFAULT_SYNC_BUDGET
from gitops_agent.source import CommitVerifier, GitAuth

ENV = os.environ.get
"""Env defaults stay strings: argparse converts a string default with the flag's `type`, so a bad
value (GITOPS_AGENT_WORKERS=x) is a usage error of `run` and never breaks the other commands."""


def _env_bool(name: str, default: bool) -> bool:
    value = ENV(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the agent: poll/webhook/watch the repository and keep the cluster converged",
        description="The long-running agent. Fetches the repository on an interval (and at once on a "
        "signed push webhook or, for a local folder, a file change), syncs every deployment, reverts "
        "drift of owned objects, elects one leader among replicas, and rolls back revisions that do not "
        "become healthy. Serves /healthz, /readyz, /metrics, /webhook, /api/v1/… and a status page.",
    )
    add_repo_flags(parser)
    g = parser.add_argument_group("agent")
    g.add_argument("--kubeconfig", default=ENV("KUBECONFIG"), help="kubeconfig (default: in-cluster config)")
    g.add_argument("--context", default=None, help="kubeconfig context")
    g.add_argument(
        "--state-namespace",
        default=None,
        help="namespace of inventories, history, seed and Lease (env GITOPS_AGENT_STATE_NAMESPACE; "
        "default: the pod's namespace)",
    )
    g.add_argument(
        "--instance",
        default=ENV("GITOPS_AGENT_INSTANCE", ""),
        help="this agent instance's id (env GITOPS_AGENT_INSTANCE; default: the state namespace): "
        "objects and inventories carry it, and an instance never touches another's objects. Two "
        "agents sharing one state namespace need different ids",
    )
    g.add_argument(
        "--listen",
        default=ENV("GITOPS_AGENT_LISTEN", "0.0.0.0:8080"),
        help="HTTP address for probes, metrics, webhooks, API and page (env GITOPS_AGENT_LISTEN)",
    )
    g.add_argument(
        "--poll-interval",
        type=float,
        default=ENV("GITOPS_AGENT_POLL_INTERVAL", "60"),
        help="seconds between repository fetches, ±10%% jitter (env GITOPS_AGENT_POLL_INTERVAL)",
    )
    g.add_argument(
        "--resync-interval",
        type=float,
        default=ENV("GITOPS_AGENT_RESYNC_INTERVAL", "600"),
        help="seconds between full resyncs (env GITOPS_AGENT_RESYNC_INTERVAL)",
    )
    g.add_argument(
        "--webhook-secret-file",
        default=ENV("GITOPS_AGENT_WEBHOOK_SECRET_FILE"),
        help="file holding the webhook HMAC secret / GitLab token; webhooks are off without it "
        "(env GITOPS_AGENT_WEBHOOK_SECRET_FILE)",
    )
    g.add_argument(
        "--api-token-file",
        default=ENV("GITOPS_AGENT_API_TOKEN_FILE"),
        help="file holding the bearer token of the control-plane API (POST/DELETE /api/v1/deployments…); "
        "the API is off without it (env GITOPS_AGENT_API_TOKEN_FILE)",
    )
    g.add_argument(
        "--ui-token-file",
        default=ENV("GITOPS_AGENT_UI_TOKEN_FILE"),
        help="file holding a token people sign in to the web UI with (the API token signs in too); "
        "without either the UI is read-only (env GITOPS_AGENT_UI_TOKEN_FILE)",
    )
    g.add_argument(
        "--ui-public-read",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_UI_PUBLIC_READ", False),
        help="show the read-only pages without sign-in when a UI token is set "
        "(env GITOPS_AGENT_UI_PUBLIC_READ; default off)",
    )
    g.add_argument(
        "--ui-session-minutes",
        type=int,
        default=ENV("GITOPS_AGENT_UI_SESSION_MINUTES", "480"),
        help="how long a UI sign-in lasts (env GITOPS_AGENT_UI_SESSION_MINUTES)",
    )
    g.add_argument(
        "--ui-secure-cookie",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_UI_SECURE_COOKIE", False),
        help="mark the session cookie Secure: set it when the UI is served over TLS "
        "(env GITOPS_AGENT_UI_SECURE_COOKIE)",
    )
    g.add_argument(
        "--ui-propose",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_UI_PROPOSE", False),
        help="UI changes go to a new branch each, to open a pull request from, instead of the "
        "followed branch (env GITOPS_AGENT_UI_PROPOSE)",
    )
    g.add_argument(
        "--notify-config",
        default=ENV("GITOPS_AGENT_NOTIFY_CONFIG"),
        help="YAML file naming the chat webhooks and the forge that hear about revisions (README: "
        "Notifications); off without it (env GITOPS_AGENT_NOTIFY_CONFIG)",
    )
    g.add_argument(
        "--verify-commits",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_VERIFY_COMMITS", False),
        help="sync only commits signed by a trusted key: --allowed-signers and/or --gpg-keyring "
        "(env GITOPS_AGENT_VERIFY_COMMITS)",
    )
    g.add_argument(
        "--allowed-signers",
        default=ENV("GITOPS_AGENT_ALLOWED_SIGNERS"),
        help="SSH allowed_signers file (git's gpg.ssh.allowedSignersFile format) "
        "(env GITOPS_AGENT_ALLOWED_SIGNERS)",
    )
    g.add_argument(
        "--gpg-keyring",
        default=ENV("GITOPS_AGENT_GPG_KEYRING"),
        help="OpenPGP public keys (armored or binary) (env GITOPS_AGENT_GPG_KEYRING)",
    )
    g.add_argument(
        "--signing-key",
        default=ENV("GITOPS_AGENT_SIGNING_KEY"),
        help="SSH private key that signs the commits the control-plane API writes "
        "(env GITOPS_AGENT_SIGNING_KEY)",
    )
    g.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_LEADER_ELECT", True),
        help="elect one active replica with a Lease (env GITOPS_AGENT_LEADER_ELECT; default on)",
    )
    g.add_argument("--lease-name", default=ENV("GITOPS_AGENT_LEASE_NAME", "gitops-agent"), help="Lease name")
    g.add_argument(
        "--lease-duration",
        type=float,
        default=ENV("GITOPS_AGENT_LEASE_DURATION", "15"),
        help="seconds a leader's Lease lasts without renewal (env GITOPS_AGENT_LEASE_DURATION)",
    )
    g.add_argument(
        "--workers",
        type=int,
        default=ENV("GITOPS_AGENT_WORKERS", "8"),
        help="deployments synced in parallel (env GITOPS_AGENT_WORKERS)",
    )
    g.add_argument(
        "--kube-api-qps",
        type=float,
        default=ENV("GITOPS_AGENT_KUBE_API_QPS", str(DEFAULT_QPS)),
        help="requests per second to the apiserver at most; halved while it throttles the agent "
        "(env GITOPS_AGENT_KUBE_API_QPS)",
    )
    g.add_argument(
        "--kube-api-burst",
        type=int,
        default=ENV("GITOPS_AGENT_KUBE_API_BURST", str(DEFAULT_BURST)),
        help="requests sent at once above --kube-api-qps (env GITOPS_AGENT_KUBE_API_BURST)",
    )
    g.add_argument(
        "--kube-api-throttle-budget",
        type=float,
        default=ENV("GITOPS_AGENT_KUBE_API_THROTTLE_BUDGET", str(DEFAULT_SYNC_BUDGET)),
        help="seconds a sync waits out the apiserver's 429s before its throttled deployments fail "
        "(Queued, retried) (env GITOPS_AGENT_KUBE_API_THROTTLE_BUDGET)",
    )
    g.add_argument(
        "--force-conflicts",
        action=argparse.BooleanOptionalAction,
        default=_env_bool("GITOPS_AGENT_FORCE_CONFLICTS", True),
        help="Git wins over other field managers, needed to revert kubectl edits "
        "(env GITOPS_AGENT_FORCE_CONFLICTS; default on)",
    )
    g.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=ENV("GITOPS_AGENT_LOG_FORMAT", "json"),
        help="log lines as JSON or text (env GITOPS_AGENT_LOG_FORMAT)",
    )
    g.add_argument(
        "--log-level",
        default=ENV("GITOPS_AGENT_LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"),
        help="env GITOPS_AGENT_LOG_LEVEL",
    )
    parser.set_defaults(handler=_run)
    parser.set_defaults(cache_dir=Path(ENV("GITOPS_AGENT_CACHE_DIR", str(default_cache_dir()))))


def config_from(args: argparse.Namespace) -> AgentConfig:
    """Validate the flags into an AgentConfig (ConfigError on bad values)."""
    host, port = parse_listen(args.listen)
    secret = read_secret_file(args.webhook_secret_file, "webhook secret")
    return AgentConfig(
        repo=args.repo,
        ref=args.ref,
        sub_path=args.sub_path,
        use_git=args.use_git,
        cache_dir=args.cache_dir,
        state_namespace=args.state_namespace or default_state_namespace(),
        listen_host=host,
        listen_port=port,
        poll_interval=args.poll_interval,
        resync_interval=args.resync_interval,
        webhook_secret=secret.encode() if secret else None,
        leader_elect=args.leader_elect,
        lease_name=args.lease_name
        if args.lease_name != "gitops-agent" or not args.instance
        else (f"gitops-agent-{args.instance}"),
        instance=args.instance,
        lease_duration=args.lease_duration,
        identity=default_identity(),
        workers=args.workers,
        force_conflicts=args.force_conflicts,
        kube_qps=args.kube_api_qps,
        kube_burst=args.kube_api_burst,
        throttle_budget=args.kube_api_throttle_budget,
        api_token=read_secret_file(args.api_token_file, "API token"),
        notify=load_notify_config(Path(args.notify_config)) if args.notify_config else None,
        verifier=_verifier(args),
        signing_key=Path(args.signing_key) if args.signing_key else None,
        ui=UiConfig(
            token=read_secret_file(args.ui_token_file, "UI token"),
            public_read=args.ui_public_read,
            session_minutes=args.ui_session_minutes,
            secure_cookie=args.ui_secure_cookie,
            propose=args.ui_propose,
        ),
    )


def _verifier(args: argparse.Namespace) -> CommitVerifier | None:
    """The trusted keys, when --verify-commits is on; keys without the flag are a mistake, not a default."""
    signers = Path(args.allowed_signers) if args.allowed_signers else None
    keyring = Path(args.gpg_keyring) if args.gpg_keyring else None
    if not args.verify_commits:
        if signers or keyring:
            raise ConfigError("--allowed-signers/--gpg-keyring are set but --verify-commits is not")
        return None
    return CommitVerifier(allowed_signers=signers, gpg_keyring=keyring)


def _run(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level)
    log = get_logger("run")
    config = config_from(args)
    kube = connect(args.kubeconfig, args.context, qps=config.kube_qps, burst=config.kube_burst)
    agent = Agent(config, kube, auth=GitAuth.from_env())
    try:
        server = HttpServer(build_router(agent), config.listen_host, config.listen_port)
    except OSError as err:
        raise ConfigError(f"cannot listen on {args.listen}: {err.strerror}") from err
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    agent.start()
    log.info(
        "agent started",
        extra={
            "fields": {"repo": agent.source.describe(), "listen": args.listen, "identity": config.identity}
        },
    )
    stop.wait()
    log.info("shutting down")
    agent.stop()
    server.stop()
    return 0
