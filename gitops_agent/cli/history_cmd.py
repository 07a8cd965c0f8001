"""`gitops-agent history NAME` and `gitops-agent status`: what is deployed, read from the cluster.

Both read the inventories the sync keeps in the state namespace, so they work from any machine
with cluster access, without the repository. `status --agent-url URL` reads the running agent's
status model instead (`GET /api/v1/deployments`). Both views show the same columns and facts — the
revision that stands for the deployment, its state, health, image and last error — built by
`StatusRow`, and `--exit-code` makes either exit 1 when something is DeployFailed, Degraded or
failing to sync.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from gitops_agent.cli.common import add_cluster_flags, kube_from
from gitops_agent.core.errors import ConfigError
from gitops_agent.engine.health import Health, check_unit
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncState, agent_image
from gitops_agent.state.inventory import Inventory, InventoryStore, RevisionState
from gitops_agent.state.repository import RepositoryStatus, RepositoryStatusStore
from gitops_agent.state.revisions import current_revision


def register(subparsers: Any) -> None:
    history = subparsers.add_parser("history", help="revision history of one deployment")
    history.add_argument("name", help="deployment name")
    add_cluster_flags(history)
    history.add_argument("--format", choices=("text", "json"), default="text")
    history.set_defaults(handler=_history)

    status = subparsers.add_parser("status", help="table of deployments: revision, state, health, image")
    add_cluster_flags(status)
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when a deployment is DeployFailed, Degraded, or its last sync failed (invalid file), "
        "or the repository has problems (settings file, a refused prune)",
    )
    status.add_argument("--no-health", action="store_true", help="skip the live health check")
    status.add_argument(
        "--agent-url",
        metavar="URL",
        help="read the status of a running agent (e.g. http://127.0.0.1:8080) instead of the cluster",
    )
    status.set_defaults(handler=_status)


def _history(args: argparse.Namespace) -> int:
    inventories = InventoryStore(kube_from(args), args.state_namespace, args.instance).load_all()
    inventory = inventories.get(args.name)
    if inventory is None:
        known = ", ".join(sorted(inventories)) or "none"
        raise ConfigError(f"no deployment {args.name!r} in namespace {args.state_namespace} (known: {known})")
    if args.format == "json":
        print(json.dumps([r.to_json() for r in inventory.history], indent=2))
        return 0
    rows = [("REVISION", "COMMIT", "STATE", "TIME", "AUTHOR", "MESSAGE")]
    for record in inventory.history:
        message = record.message.strip().splitlines()[0] if record.message.strip() else ""
        rows.append(
            (
                str(record.revision),
                record.commit[:12],
                record.result.value,
                record.time,
                record.author,
                message + (f" ({record.reason})" if record.reason else ""),
            )
        )
    print(_table(rows))
    return 0


@dataclass(frozen=True)
class StatusRow:
    """One deployment, as both `status` views show it."""

    name: str
    revision: int | None
    state: str
    """The revision's state (Deploying, Deployed, DeployFailed, ...)."""
    health: str
    image: str
    message: str
    failing: bool
    """The last sync failed (an invalid file, a rejection): the row is a problem even if it runs."""

    @property
    def problem(self) -> bool:
        return self.failing or self.state == RevisionState.DEPLOY_FAILED or self.health == Health.DEGRADED

    def cells(self) -> tuple[str, ...]:
        revision = "" if self.revision is None else str(self.revision)
        return (
            self.name,
            revision,
            self.state,
            self.health,
            self.image,
            " ".join(self.message.split())[:120],
        )


STATUS_HEADER = ("DEPLOYMENT", "REVISION", "STATE", "HEALTH", "IMAGE", "MESSAGE")


def _status(args: argparse.Namespace) -> int:
    if args.agent_url:
        repository = _agent_repository(args.agent_url)
        rows = _agent_rows(args.agent_url, repository)
    else:
        kube = kube_from(args)
        repository = (
            RepositoryStatusStore(kube, args.state_namespace, args.instance).load() or RepositoryStatus()
        )
        rows = _cluster_rows(args, kube, repository)
    for line in _repository_lines(repository):  # above the table; on stderr when stdout is JSON
        print(line, file=sys.stderr if args.format == "json" else sys.stdout)
    if args.format == "json":
        print(json.dumps([asdict(r) | {"problem": r.problem} for r in rows], indent=2))
    else:
        print(_table([STATUS_HEADER, *(r.cells() for r in rows)]))
    problem = not repository.ok or any(r.problem for r in rows)
    return 1 if args.exit_code and problem else 0


def _repository_lines(repository: RepositoryStatus) -> list[str]:
    """What is wrong with the repository as a whole, above the table (nothing when all is well)."""
    lines = [f"repository problem: {p}" for p in repository.problems]
    if repository.prune_refused:
        lines.append(f"prune refused: {repository.prune_refused}")
    lines += [f"orphaned volume: {v}: no deployment uses this data" for v in repository.orphaned_volumes]
    return lines


def _cluster_rows(
    args: argparse.Namespace, kube: KubeClient, repository: RepositoryStatus
) -> list[StatusRow]:
    """From the inventories and the live objects; deployments a repository problem left behind say so."""
    rows = []
    for name, inventory in sorted(
        InventoryStore(kube, args.state_namespace, args.instance).load_all().items()
    ):
        health = None if args.no_health else check_unit(kube, name, [e.key for e in inventory.objects])
        blocked = name in repository.blocked
        record = current_revision(inventory)
        reason = record.reason if record and record.result is not RevisionState.DEPLOYED else ""
        unhealthy = health.summary if health and health.health is not Health.HEALTHY else ""
        rows.append(
            StatusRow(
                name,
                record.revision if record else None,
                record.result.value if record else "",
                health.health.value if health else "",
                _live_image(kube, inventory),
                inventory.error or (repository.reason() if blocked else "") or reason or unhealthy,
                failing=bool(inventory.error) or blocked,
            )
        )
    return rows


def _live_image(kube: KubeClient, inventory: Inventory) -> str:
    key = next(
        (e.key for e in inventory.objects if e.key.kind == "Deployment" and e.key.name == inventory.unit),
        None,
    )
    live = kube.get(key.api_version, key.kind, key.name, key.namespace) if key else None
    return agent_image([live], inventory.unit) if live else ""


def _agent_repository(url: str) -> RepositoryStatus:
    """The repository-level verdict a running agent shows (`/api/v1/status`)."""
    source = _read_json(url.rstrip("/") + "/api/v1/status").get("source", {})
    return RepositoryStatus(
        str(source.get("commit", "")), tuple(source.get("problems", [])), str(source.get("prune_refused", ""))
    )


def _read_json(endpoint: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(endpoint, timeout=15) as response:
            data: dict[str, Any] = json.load(response)
            return data
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the agent's status from {endpoint}: {err}") from err


def _agent_rows(url: str, repository: RepositoryStatus) -> list[StatusRow]:
    """From a running agent's status API."""
    endpoint = url.rstrip("/") + "/api/v1/deployments"
    deployments = _read_json(endpoint).get("deployments")
    if not isinstance(deployments, list):
        raise ConfigError(f"cannot read the agent's status from {endpoint}: no deployments list")
    rows = []
    for d in deployments:
        health = str(d.get("health", ""))
        unhealthy = d.get("health_message", "") if health not in (Health.HEALTHY, Health.UNKNOWN) else ""
        rows.append(
            StatusRow(
                d["name"],
                d.get("revision"),
                str(d.get("revision_state") or ""),
                health,
                str(d.get("image", "")),
                d.get("last_error") or d.get("note") or unhealthy,
                failing=d.get("sync_state") == SyncState.FAILED
                or (not repository.ok and d.get("sync_state") == SyncState.OUT_OF_SYNC),
            )
        )
    return rows


def _age(iso_time: str) -> str:
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(iso_time)).total_seconds()
    except ValueError:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
