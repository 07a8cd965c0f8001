"""`gitops-agent history NAME` and `gitops-agent status`: what is deployed, read from the cluster.

Both read the inventories the sync keeps in the state namespace, so they work from any machine
with cluster access, without the repository. `status --agent-url URL` reads the running agent's
status model instead (`GET /api/v1/deployments`): its sync state, health and last error.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gitops_agent.cli.common import add_cluster_flags, kube_from
from gitops_agent.core.errors import ConfigError
from gitops_agent.engine.health import Health, check_unit
from gitops_agent.state.inventory import Inventory, InventoryStore


def register(subparsers: Any) -> None:
    history = subparsers.add_parser("history", help="revision history of one deployment")
    history.add_argument("name", help="deployment name")
    add_cluster_flags(history)
    history.add_argument("--format", choices=("text", "json"), default="text")
    history.set_defaults(handler=_history)

    status = subparsers.add_parser("status", help="table of deployments: revision, commit, result, health")
    add_cluster_flags(status)
    status.add_argument("--format", choices=("text", "json"), default="text")
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


def _status(args: argparse.Namespace) -> int:
    if args.agent_url:
        return _agent_status(args.agent_url, args.format)
    kube = kube_from(args)
    inventories = InventoryStore(kube, args.state_namespace, args.instance).load_all()
    rows = []
    for name, inventory in sorted(inventories.items()):
        health = None if args.no_health else check_unit(kube, name, [e.key for e in inventory.objects])
        rows.append(
            _status_row(inventory, health.health.value if health else "", health.summary if health else "")
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    header = {
        "name": "DEPLOYMENT",
        "revision": "REVISION",
        "commit": "COMMIT",
        "result": "STATE",
        "health": "HEALTH",
        "age": "AGE",
        "message": "MESSAGE",
    }
    print(_table([tuple(header.values())] + [tuple(str(r[k]) for k in header) for r in rows]))
    return 0


def _agent_status(url: str, fmt: str) -> int:
    """The deployments table from a running agent's status API."""
    endpoint = url.rstrip("/") + "/api/v1/deployments"
    try:
        with urllib.request.urlopen(endpoint, timeout=15) as response:
            deployments = json.load(response)["deployments"]
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"cannot read the agent's status from {endpoint}: {err}") from err
    if fmt == "json":
        print(json.dumps(deployments, indent=2))
        return 0
    rows = [("DEPLOYMENT", "REVISION", "COMMIT", "SYNC", "HEALTH", "LAST SYNC", "MESSAGE")]
    for d in deployments:
        synced = d.get("last_sync_time")
        message = d.get("last_error") or d.get("note") or ""
        if not message and d.get("health") not in (Health.HEALTHY, Health.UNKNOWN):
            message = d.get("health_message", "")
        rows.append(
            (
                d["name"],
                "" if d.get("revision") is None else str(d["revision"]),
                str(d.get("commit", ""))[:12],
                d.get("sync_state", ""),
                d.get("health", ""),
                _age(datetime.fromtimestamp(synced, UTC).isoformat()) if synced else "",
                " ".join(message.split())[:120],
            )
        )
    print(_table(rows))
    return 0


def _status_row(inventory: Inventory, health: str, summary: str) -> dict[str, Any]:
    latest = inventory.latest
    return {
        "name": inventory.unit,
        "revision": latest.revision if latest else "",
        "commit": latest.commit[:12] if latest else "",
        "result": latest.result.value if latest else "",
        "health": health,
        "age": _age(latest.time) if latest else "",
        "message": (latest.reason if latest and latest.reason else summary)[:120],
    }


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
