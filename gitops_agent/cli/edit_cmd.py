"""`gitops-agent new / set-image / set-env / scale / delete`: change deployments by writing commits.

Thin wrappers over `gitops_agent.controlplane.verbs` (which the HTTP API calls too): parse flags, build a
`RepoTarget`, print the commit. Progress of a contested push (rejected, rebased, retried) goes to
stderr so `--format json` output stays machine-readable. Tokens come from GITOPS_AGENT_GIT_* and
are never printed; plain env values are configuration and are shown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from gitops_agent.cli.common import RenamedFlag, add_cluster_flags, kube_from
from gitops_agent.controlplane import verbs as controlplane
from gitops_agent.controlplane.edit import EditError
from gitops_agent.controlplane.repo_writer import EditResult, RepoTarget, WriteEvent
from gitops_agent.controlplane.scaffold import NewDeployment, SecretRef
from gitops_agent.core.errors import ConfigError
from gitops_agent.source import GitAuth
from gitops_agent.state.inventory import InventoryStore

_DESCRIPTION = (
    "Edits the deployments repository: the change is validated like `gitops-agent validate` before "
    "anything is written, committed (comments and layout of the file kept) and pushed; a push that "
    "lost a race is rebased and retried. The agent then rolls the new revision out. --repo is a Git "
    "URL or bare repository (cloned into a temporary folder) or a local clone (edited in place)."
)


def register(subparsers: Any) -> None:
    """Add `new`, `set-image`, `set-env`, `scale`, `delete`, `suspend`, `resume`, `redeploy`, `rollback`."""
    new = _parser(subparsers, "new", "scaffold deployments/NAME.yaml (commented, valid) and push it")
    _new_flags(new)
    new.set_defaults(handler=_new)

    image = _parser(subparsers, "set-image", "new revision: run another image")
    image.add_argument("image", help="image reference with a tag or digest, e.g. ghcr.io/acme/bot:1.5.0")
    image.set_defaults(handler=_set_image)

    env = _parser(subparsers, "set-env", "new revision: set or remove plain environment variables")
    env.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="variables to set")
    env.add_argument("--unset", action="extend", nargs="+", default=[], metavar="KEY", help="remove")
    env.set_defaults(handler=_set_env)

    scale = _parser(subparsers, "scale", "new revision: replica count or autoscaling range")
    scale.add_argument("--min", type=int, help="fewest replicas (autoscaling)")
    scale.add_argument("--max", type=int, help="most replicas (autoscaling)")
    scale.add_argument("--target-cpu", type=int, metavar="PERCENT", help="autoscaler CPU target")
    scale.add_argument("--replicas", type=int, help="fixed replica count (removes autoscaling)")
    scale.add_argument("--queue", action="store_true", help="scale the queue workers instead")
    scale.set_defaults(handler=_scale)

    delete = _parser(subparsers, "delete", "remove deployments/NAME.yaml: the agent tears it down")
    delete.set_defaults(handler=_delete)

    suspend = _parser(subparsers, "suspend", "spec.suspend: the agent leaves the deployment alone")
    suspend.set_defaults(
        handler=lambda args: _report(controlplane.suspend(target_from(args), args.name), args)
    )
    resume = _parser(subparsers, "resume", "remove spec.suspend: the agent syncs the deployment again")
    resume.set_defaults(
        handler=lambda args: _report(
            controlplane.suspend(target_from(args), args.name, suspended=False), args
        )
    )
    redeploy = _parser(subparsers, "redeploy", "new revision of the same spec: restart every agent pod")
    redeploy.set_defaults(
        handler=lambda args: _report(controlplane.redeploy(target_from(args), args.name), args)
    )

    rollback = _parser(
        subparsers, "rollback", "restore the deployment's file as it was at an earlier revision (one commit)"
    )
    which = rollback.add_mutually_exclusive_group(required=True)
    which.add_argument("--to-revision", type=int, metavar="N", help="a revision in the agent's history")
    which.add_argument("--to-commit", metavar="SHA", help="a commit of the deployments repository")
    add_cluster_flags(rollback)
    rollback.set_defaults(handler=_rollback)


def _parser(subparsers: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=_DESCRIPTION)
    parser.add_argument("name", help="deployment name")
    group = parser.add_argument_group("repository")
    group.add_argument(
        "--repo",
        default=os.environ.get("GITOPS_AGENT_REPO", "."),
        help="Git URL, bare repository or local clone (env GITOPS_AGENT_REPO; default: current folder)",
    )
    group.add_argument(
        "--ref",
        default=os.environ.get("GITOPS_AGENT_REF"),
        help="branch to edit (env GITOPS_AGENT_REF; default: the clone's branch or the remote's default)",
    )
    group.add_argument(
        "--repo-path",
        default=os.environ.get("GITOPS_AGENT_PATH", ""),
        help="sub-folder holding gitops-agent.yaml (env GITOPS_AGENT_PATH)",
    )
    group.add_argument("--branch", help="commit to this branch (created if new) for a pull request")
    group.add_argument("--author", help="'Name <email>' (default: git config, else gitops-agent)")
    group.add_argument("--no-push", action="store_true", help="commit only (local clones)")
    group.add_argument("--attempts", type=int, default=3, help="push attempts when racing (default 3)")
    group.add_argument(
        "--sign",
        metavar="SSH_KEY",
        default=os.environ.get("GITOPS_AGENT_SIGNING_KEY"),
        help="sign the commit with this SSH private key (gpg.format=ssh), for agents that run with "
        "--verify-commits (env GITOPS_AGENT_SIGNING_KEY)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    return parser


def _new_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", required=True, help="image built with `langgraph build` (tag or digest)")
    parser.add_argument("--type", choices=("development", "production"), help="default: the repository's")
    parser.add_argument("--namespace", help="target namespace (default: the repository's)")
    route = parser.add_mutually_exclusive_group()
    route.add_argument(
        "--ingress-path",
        "--path",
        dest="path",
        action=RenamedFlag,
        help="serve under the shared host at this path, e.g. /support-bot (--path: deprecated spelling)",
    )
    route.add_argument("--host", help="serve on its own host name")
    postgres = parser.add_mutually_exclusive_group()
    postgres.add_argument("--managed-postgres", action="store_true", help="Postgres in the cluster (default)")
    postgres.add_argument("--postgres-secret", metavar="SECRET:KEY", help="external Postgres URI secret")
    redis = parser.add_mutually_exclusive_group()
    redis.add_argument("--managed-redis", action="store_true", help="Redis in the cluster (default)")
    redis.add_argument("--redis-secret", metavar="SECRET:KEY", help="external Redis URI secret")
    parser.add_argument("--replicas", type=int, help="fixed replica count")
    parser.add_argument("--min", type=int, help="autoscaling: fewest replicas")
    parser.add_argument("--max", type=int, help="autoscaling: most replicas")
    parser.add_argument("--target-cpu", type=int, metavar="PERCENT", help="autoscaling: CPU target")
    parser.add_argument("--cpu", help="CPU request per server, e.g. 500m")
    parser.add_argument("--memory", help="memory request per server, e.g. 1Gi")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="plain env (repeat)")
    parser.add_argument(
        "--secret-env", action="append", default=[], metavar="NAME=SECRET:KEY", help="env from a Secret"
    )
    parser.add_argument("--queue", action="store_true", help="run queue workers in their own pods")


def target_from(args: argparse.Namespace) -> RepoTarget:
    """The RepoTarget the repository flags describe; progress of a contested push goes to stderr."""
    return RepoTarget(
        location=args.repo,
        ref=args.ref,
        push_branch=args.branch,
        sub_path=args.repo_path,
        author=args.author,
        push=not args.no_push,
        auth=GitAuth.from_env(),
        attempts=args.attempts,
        on_event=_print_event,
        sign_key=Path(args.sign) if args.sign else None,
    )


def _print_event(event: WriteEvent) -> None:
    print(f"  {event.message}", file=sys.stderr, flush=True)


def _new(args: argparse.Namespace) -> int:
    if args.min is not None and args.max is None:
        raise EditError("--min needs --max")
    spec = NewDeployment(
        name=args.name,
        image=args.image,
        type=args.type,
        namespace=args.namespace,
        replicas=args.replicas,
        min_replicas=args.min,
        max_replicas=args.max,
        target_cpu=args.target_cpu,
        cpu=args.cpu,
        memory=args.memory,
        env=tuple(_pair(text, "--env") for text in args.env),
        secret_env=tuple(_secret_env(text) for text in args.secret_env),
        queue=args.queue,
        ingress_path=args.path,
        ingress_host=args.host,
        postgres_secret=SecretRef.parse(args.postgres_secret, flag="--postgres-secret")
        if args.postgres_secret
        else None,
        redis_secret=SecretRef.parse(args.redis_secret, flag="--redis-secret") if args.redis_secret else None,
    )
    return _report(controlplane.create_deployment(target_from(args), spec), args)


def _set_image(args: argparse.Namespace) -> int:
    return _report(controlplane.set_image(target_from(args), args.name, args.image), args)


def _set_env(args: argparse.Namespace) -> int:
    values = dict(_pair(text, "KEY=VALUE") for text in args.pairs)
    result = controlplane.set_env(target_from(args), args.name, set=values, unset=args.unset)
    return _report(result, args)


def _scale(args: argparse.Namespace) -> int:
    result = controlplane.scale(
        target_from(args),
        args.name,
        min=args.min,
        max=args.max,
        target_cpu=args.target_cpu,
        replicas=args.replicas,
        queue=args.queue,
    )
    return _report(result, args)


def _delete(args: argparse.Namespace) -> int:
    return _report(controlplane.delete_deployment(target_from(args), args.name), args)


def _rollback(args: argparse.Namespace) -> int:
    """`--to-revision N` is looked up in the revision history the agent keeps in the cluster."""
    commit, revision = args.to_commit, args.to_revision
    if revision is not None:
        inventory = InventoryStore(kube_from(args), args.state_namespace, args.instance).load(args.name)
        record = inventory.find(revision) if inventory else None
        if record is None:
            known = ", ".join(str(r.revision) for r in inventory.history) if inventory else "none"
            raise ConfigError(f"{args.name} has no revision {revision} in its history (known: {known})")
        commit = record.commit
    return _report(
        controlplane.rollback(target_from(args), args.name, commit=commit, revision=revision), args
    )


def _pair(text: str, what: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise EditError(f"{what}: expected KEY=VALUE (an argument has no '=' or no key)")
    return key, value


def _secret_env(text: str) -> tuple[str, SecretRef]:
    name, ref = _pair(text, "--secret-env")
    return name, SecretRef.parse(ref, flag="--secret-env")


def _report(result: EditResult, args: argparse.Namespace) -> int:
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(result.message)
    if not result.changed:
        print(f"nothing to commit: {result.branch} at {result.commit[:12]} already says so")
        return 0
    where = "pushed to origin/" if result.pushed else "committed on "
    rebased = f" after {result.rebases} rebase(s)" if result.rebases else ""
    files = ", ".join(result.changed_files)
    print(f"{result.commit[:12]} {where}{result.branch}{rebased} ({files})")
    print(f"commit {result.commit}")
    return 0
