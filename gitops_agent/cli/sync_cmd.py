"""`gitops-agent diff` and `gitops-agent sync`: converge a cluster to a repository, once."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gitops_agent.cli.common import add_cluster_flags, add_repo_flags, kube_from, open_repo, plural
from gitops_agent.core.labels import MANIFESTS_UNIT
from gitops_agent.engine.apply import ApplyOptions
from gitops_agent.engine.diagnose import explain_unit
from gitops_agent.engine.diff import Action, format_changes, summary_counts
from gitops_agent.engine.health import Health, UnitHealth, progress_line, wait_for_health
from gitops_agent.kube.client import KubeClient
from gitops_agent.reconcile.sync import SyncOptions, SyncReport, SyncState, UnitResult, sync
from gitops_agent.state.revisions import RevisionLedger

FORMATS = ("text", "json", "markdown")


def register(subparsers: Any) -> None:
    diff = subparsers.add_parser(
        "diff",
        help="show what a sync would change (server-side dry-run; secrets masked)",
        description="Compare the repository's rendered objects with the live cluster using server-side "
        "apply dry-runs. Exit 0 when it could compute the diff (1 with --exit-code if anything would "
        "change), 1 when the repository has problems.",
    )
    _common(diff)
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when anything would change")
    diff.set_defaults(handler=_diff)

    run = subparsers.add_parser(
        "sync",
        help="converge the cluster to the repository once",
        description="Render, diff, server-side apply (only what changed), prune (behind safety guards) "
        "and record revisions. Exit 0 when every deployment synced (and, with --wait, became healthy).",
    )
    _common(run)
    run.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
    run.add_argument("--wait", action="store_true", help="wait until the synced deployments are healthy")
    run.add_argument("--timeout", type=float, default=300.0, help="--wait timeout in seconds (default 300)")
    run.add_argument(
        "--prune",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="delete owned objects that left the repository (default: settings sync.prune)",
    )
    run.add_argument(
        "--allow-mass-prune",
        action="store_true",
        help="allow a prune larger than the settings' maxShare of owned objects",
    )
    run.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields another field manager owns (Git wins)",
    )
    run.add_argument(
        "--recreate-statefulsets",
        action="store_true",
        help="allow delete + re-create of a StatefulSet on an immutable-field change (PVCs kept)",
    )
    run.set_defaults(handler=_sync)


def _common(parser: argparse.ArgumentParser) -> None:
    add_repo_flags(parser)
    add_cluster_flags(parser)
    parser.add_argument(
        "--deployment",
        action="append",
        dest="units",
        metavar="NAME",
        help="only this deployment (repeatable)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    parser.add_argument("--workers", type=int, default=8, help="deployments synced in parallel (default 8)")


def _options(args: argparse.Namespace, *, dry_run: bool) -> SyncOptions:
    return SyncOptions(
        state_namespace=args.state_namespace,
        dry_run=dry_run,
        prune=getattr(args, "prune", None),
        allow_mass_prune=getattr(args, "allow_mass_prune", False),
        apply=ApplyOptions(
            force_conflicts=getattr(args, "force_conflicts", False),
            recreate_statefulsets=getattr(args, "recreate_statefulsets", False),
        ),
        workers=args.workers,
        units=frozenset(args.units) if args.units else None,
        instance=args.instance,
    )


def _diff(args: argparse.Namespace) -> int:
    report = sync(kube_from(args), open_repo(args).fetch(), _options(args, dry_run=True))
    print(format_changes(report.changes, args.format, problems=_problems(report)), end="")
    if not report.ok:
        return 1
    changed = any(c.action is not Action.UNCHANGED for c in report.changes)
    return 1 if args.exit_code and changed else 0


def _sync(args: argparse.Namespace) -> int:
    kube = kube_from(args)
    snapshot = open_repo(args).fetch()
    on_unit = None if args.format != "text" else _print_unit
    report = sync(kube, snapshot, _options(args, dry_run=args.dry_run), on_unit=on_unit)
    healths = _wait(kube, report, args) if args.wait and not args.dry_run else {}
    unhealthy = {name: h for name, h in healths.items() if h.health is not Health.HEALTHY}
    reasons = {name: explain_unit(kube, h) for name, h in unhealthy.items()}
    if args.format == "text":
        _print_unhealthy(unhealthy, reasons, len(healths), args.timeout)
        _print_summary(report, len(unhealthy))
    else:
        print(_structured(report, healths, reasons, args.format), end="")
    return 0 if report.ok and not report.prune_refused and not unhealthy else 1


def _wait(kube: KubeClient, report: SyncReport, args: argparse.Namespace) -> dict[str, UnitHealth]:
    """Wait for health, then record each synced revision Deployed (healthy) or DeployFailed."""
    units = {u.unit: u.keys for u in report.units if u.state is SyncState.SYNCED}
    progress = (lambda h: print(progress_line(h), flush=True)) if args.format == "text" else None
    healths = wait_for_health(kube, units, timeout_seconds=args.timeout, on_progress=progress)
    ledger = RevisionLedger(kube, args.state_namespace, args.instance)
    for result in report.units:
        health = healths.get(result.unit)
        if health is None or result.revision is None:
            continue
        if health.health is Health.HEALTHY:
            ledger.mark_deployed(result.unit, result.revision)
        else:
            reason = f"r{result.revision} not healthy after {args.timeout:g}s: {health.summary}"
            ledger.mark_rollout_failed(result.unit, result.revision, reason)
    return healths


def _problems(report: SyncReport) -> list[str]:
    return list(report.problems) + [f"{u.unit}: {u.error}" for u in report.units if u.error]


def _print_unit(result: UnitResult) -> None:
    counts = summary_counts(result.changes)
    changed = ", ".join(f"{n} {a}" for a, n in counts.items() if n and a != "unchanged") or "no changes"
    revision = f"r{result.revision}" if result.revision else "-"
    line = f"{result.unit:<24} {result.state.value:<10} {revision:<5} {changed}"
    if result.error:
        line += f"\n    error: {result.error}"
    print(line, flush=True)


def _print_unhealthy(
    unhealthy: dict[str, UnitHealth], reasons: dict[str, list[str]], waited_for: int, timeout: float
) -> None:
    """After `--wait`: which units are not healthy, each object holding one back, and its pods' reasons."""
    if not unhealthy:
        return
    settled = all(h.health is Health.DEGRADED for h in unhealthy.values())
    head = "not healthy" if settled else f"timed out after {timeout:g}s"
    print(f"{head}: {len(unhealthy)} of {plural(waited_for, 'unit')} not healthy")
    for name in sorted(unhealthy):
        print(f"  {name}:")
        for line in reasons[name]:
            print(f"    {line}")


def _print_summary(report: SyncReport, unhealthy: int = 0) -> None:
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    for change in report.prune_changes:
        reason = f" ({change.reason})" if change.reason else ""
        print(f"{change.action.value:<9} {change.unit:<24} {change.key}{reason}")
    if report.prune_refused:
        print(f"prune refused: {report.prune_refused}", file=sys.stderr)
    for volume in report.orphaned_volumes:
        print(f"warning: orphaned volume {volume}: no deployment uses this data", file=sys.stderr)
    print(summary_line(report, unhealthy))


def summary_line(report: SyncReport, unhealthy: int = 0) -> str:
    """The last line of a text sync: `synced …` only when the exit status is 0, else `FAILED: why`
    (`unhealthy`: units a `--wait` found not healthy)."""
    counts = ", ".join(f"{n} {a}" for a, n in summary_counts(report.changes).items() if n) or "nothing to do"
    deployments = sum(1 for u in report.units if u.unit != MANIFESTS_UNIT)
    has_manifests = len(report.units) > deployments
    units = plural(len(report.units), "unit")
    what = f"{plural(deployments, 'deployment')}{' and manifests' if has_manifests else ''}"
    failed = sum(1 for u in report.units if u.state is SyncState.FAILED)
    reasons = [f"{failed} of {units} failed"] if failed else []
    if report.problems:
        reasons.append(plural(len(report.problems), "repository problem"))
    if report.prune_refused:
        reasons.append("prune refused")
    if unhealthy:
        reasons.append(f"{unhealthy} of {units} not healthy")
    head = f"commit {report.snapshot.short_commit}"
    if reasons:
        return f"{head}: FAILED: {', '.join(reasons)}; {counts}"
    return f"{head}: synced {units} ({what}); {counts}"


def _structured(
    report: SyncReport, healths: dict[str, UnitHealth], reasons: dict[str, list[str]], fmt: str
) -> str:
    if fmt == "markdown":
        return format_changes(report.changes, "markdown", problems=_problems(report))
    return (
        json.dumps(
            {
                "commit": report.snapshot.commit,
                "ok": report.ok,
                "problems": list(report.problems),
                "pruneRefused": report.prune_refused,
                "orphanedVolumes": [str(v) for v in report.orphaned_volumes],
                "deployments": [
                    {
                        "name": u.unit,
                        "state": u.state.value,
                        "revision": u.revision,
                        "newRevision": u.new_revision,
                        "error": u.error,
                        "health": healths[u.unit].health.value if u.unit in healths else None,
                        "notHealthy": reasons.get(u.unit, []),
                        "changes": [c.to_json() for c in u.changes if c.action is not Action.UNCHANGED],
                    }
                    for u in report.units
                ],
                "pruned": [c.to_json() for c in report.prune_changes],
            },
            indent=2,
        )
        + "\n"
    )
