"""Sync at scale: gitops-agent vs. `kubectl apply --server-side` on the same rendered objects.

    .venv/bin/python bench/sync_scale.py [--deployments 200] [--workers 8] [--json results.json]

Generates a deployments repository of N AgentDeployments in a temp dir (every 4th one production
with autoscaling, queue workers and managed Postgres + Redis; the rest minimal development
deployments on external databases; every 10th in the second allowed namespace; all with an ingress
path) and checks it with `load_repository` (any problem aborts). Then, on two fresh local clusters
in `api` mode (etcd + kube-apiserver), so that both cold runs really are cold:

* cluster A, gitops-agent: cold sync (all creates), no-op resync, a one-deployment change (the image
  tag of the first deployment, a managed one). Each phase is `sync()` in a fresh child process
  (this script with `--child-sync`); `seconds` is the `sync()` call (time.perf_counter).
* cluster B, the Go-built kubectl: the same objects, rendered the way the sync does it
  (`render_unit`), written to one multi-document YAML file and applied with
  `kubectl apply --server-side --field-manager=bench`: cold, again unchanged, after the same
  change. `seconds` is the whole kubectl process (including its discovery).

Target namespaces are created in the setup (not measured) on both clusters; gitops-agent's own
state namespace and seed Secret are part of its cold sync.

How requests are counted: the apiserver's own `apiserver_request_total` counter, read from
`/metrics` before and after each phase. Only the resources the repository renders to (found through
discovery) plus configmaps, secrets and namespaces (inventories, the seed Secret, namespaces) are
counted. Filtering by resource rather than subtracting an idle baseline: the apiserver's internal
traffic on an idle `api` cluster is endpoints GET/POST (the `kubernetes` Service reconciler), lease
PUTs and openapi GETs, and none of that touches the counted resources, so the filtered numbers are
exact instead of a noisy difference. An idle row (same filter, nothing running) is printed to show
that. `writes` are POST/PUT/PATCH/APPLY/DELETE(COLLECTION) with an empty `dry_run` label,
`dry-runs` are requests of any verb with `dry_run` set, `reads` are GET/LIST/WATCH. A server-side
apply shows up as verb APPLY, whether or not it changes anything.

Peak RSS is the `ru_maxrss` of exactly one process, the sync child (the whole Python process:
interpreter, imports, rendering, client, listed objects) or kubectl, collected with `os.wait4` by a
tiny launcher that fork()s it (see MEASURE for why not directly); the sync child also reports its
VmHWM, which agrees. The gitops-agent child's total wall time (interpreter start and imports
included) is printed below the table and kept in the JSON (`process_seconds`).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from scale_agent import raw_apply, running_agent

from gitops_agent.core.objects import ObjectKey
from gitops_agent.kube.client import KubeClient, connect
from gitops_agent.localcluster import LocalCluster, Mode
from gitops_agent.manifests import PLACEHOLDER_SEED, dump_yaml, load_repository, render_unit
from gitops_agent.reconcile.sync import DEFAULT_STATE_NAMESPACE

NAMESPACE = "agents"
EXTRA_NAMESPACE = "agents-staging"
MAX_DEPLOYMENTS = 5000
IDLE_SECONDS = 5.0
SETTLE_SECONDS = 0.5
"""Pause before reading the counters: the apiserver counts a request after it sent the response."""
OLD_TAG, NEW_TAG = ":1.0.0", ":1.0.1"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
READ_VERBS = frozenset({"GET", "LIST", "WATCH"})
EXTRA_RESOURCES = frozenset({"configmaps", "secrets", "namespaces"})

RequestCounts = Counter[tuple[str, str, bool]]
"""(verb, resource, dry_run) → requests so far."""

SETTINGS = f"""\
apiVersion: gitops-agent.dev/v1
kind: Settings
namespace: {NAMESPACE}
allowedNamespaces: [{EXTRA_NAMESPACE}]
ingress:
  host: agents.example.com
  className: nginx
  tlsSecretName: agents-example-com-tls
  basePath: /agents
  annotations:
    nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
langsmith:
  apiKeySecret: {{name: langsmith, key: api-key}}
defaults:
  type: development
  resources:
    requests: {{cpu: 500m, memory: 1Gi}}
    limits: {{memory: 2Gi}}
  postgres:
    storage: 10Gi
sync:
  selfHeal: true
  prune: {{enabled: true, maxShare: 0.5}}
"""

MANAGED = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: {name}{namespace}
spec:
  image: ghcr.io/example/{name}{tag}
  type: production
  autoscaling: {{minReplicas: 2, maxReplicas: 6, targetCPUUtilization: 70}}
  resources:
    requests: {{cpu: "1", memory: 2Gi}}
    limits: {{memory: 4Gi}}
  queue:
    enabled: true
    autoscaling: {{minReplicas: 1, maxReplicas: 4}}
    jobsPerWorker: 10
  env:
    LOG_LEVEL: info
    LANGSMITH_PROJECT: {name}
  secretEnv:
    - {{name: OPENAI_API_KEY, secret: {name}-secrets, key: openai-api-key}}
  postgres:
    managed: {{storage: 20Gi, maxConnections: 200}}
  redis:
    managed: {{}}
  ingress:
    path: /{name}
  labels:
    team: team-{team}
"""

MINIMAL = """\
apiVersion: gitops-agent.dev/v1
kind: AgentDeployment
metadata:
  name: {name}{namespace}
spec:
  image: ghcr.io/example/{name}{tag}
  env:
    LOG_LEVEL: debug
  postgres:
    external: {{uriSecret: {{name: shared-postgres, key: uri}}}}
  redis:
    external: {{uriSecret: {{name: shared-redis, key: uri}}}}
  ingress:
    path: /{name}
"""


@dataclass(frozen=True)
class Requests:
    """Requests to the counted resources during one phase."""

    writes: int
    dry_runs: int
    reads: int
    detail: dict[str, int]
    """Requests per `VERB resource` (dry-runs as `dry-run VERB resource`)."""


@dataclass
class Phase:
    """One row of the table."""

    phase: str
    tool: str
    seconds: float
    requests: Requests
    peak_rss_mb: float | None = None
    process_seconds: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


# -- the repository ----------------------------------------------------------------------------


def deployment_name(index: int) -> str:
    return f"agent-{index:04d}"


def generate_repo(root: Path, count: int) -> list[str]:
    """Write the settings file and `count` deployment files; returns the deployment names."""
    (root / "deployments").mkdir(parents=True)
    (root / "gitops-agent.yaml").write_text(SETTINGS)
    names = []
    for index in range(count):
        name = deployment_name(index)
        namespace = f"\n  namespace: {EXTRA_NAMESPACE}" if index % 10 == 9 else ""
        template = MANAGED if index % 4 == 0 else MINIMAL
        text = template.format(name=name, namespace=namespace, tag=OLD_TAG, team=index % 7)
        (root / "deployments" / f"{name}.yaml").write_text(text)
        names.append(name)
    return names


def change_image(root: Path, name: str) -> None:
    path = root / "deployments" / f"{name}.yaml"
    text = path.read_text()
    if OLD_TAG not in text:
        raise SystemExit(f"{path}: no {OLD_TAG} image tag to change")
    path.write_text(text.replace(OLD_TAG, NEW_TAG, 1))


def render_repo(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every unit's manifests, the way the sync renders them (fails loudly on any problem)."""
    load = load_repository(root)
    if not load.valid or load.settings is None:
        problems = "\n  ".join(str(p) for p in load.all_problems())
        raise SystemExit(f"the generated repository is invalid:\n  {problems}")
    rendered = {}
    for unit in load.units:
        rendered[unit.name] = render_unit(unit, load.settings, secret_seed=PLACEHOLDER_SEED).manifests
    return rendered


def write_bundle(path: Path, rendered: Mapping[str, Sequence[dict[str, Any]]]) -> None:
    documents = [(f"deployments/{unit}.yaml", m) for unit, ms in rendered.items() for m in ms]
    path.write_text(dump_yaml(documents))


# -- counting requests -------------------------------------------------------------------------


def counted_resources(kube: KubeClient, rendered: Mapping[str, Sequence[dict[str, Any]]]) -> frozenset[str]:
    """Plural resource names of the rendered kinds (via discovery), plus configmaps/secrets/namespaces."""
    kinds = {(ObjectKey.of(m).api_version, ObjectKey.of(m).kind) for ms in rendered.values() for m in ms}
    return frozenset(kube.resource_type(v, k).plural for v, k in kinds) | EXTRA_RESOURCES


def read_counters(kube: KubeClient, resources: frozenset[str]) -> RequestCounts:
    counts: RequestCounts = Counter()
    for family in text_string_to_metric_families(kube.raw_get("/metrics")):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels.get("resource") in resources:
                counts[(labels["verb"], labels["resource"], bool(labels.get("dry_run")))] += int(sample.value)
    return counts


def requests_between(before: RequestCounts, after: RequestCounts) -> Requests:
    writes = dry_runs = reads = 0
    detail: Counter[str] = Counter()
    for (verb, resource_name, dry), n in (after - before).items():
        if dry:
            dry_runs += n
            detail[f"dry-run {verb} {resource_name}"] += n
        elif verb in WRITE_VERBS:
            writes += n
            detail[f"{verb} {resource_name}"] += n
        elif verb in READ_VERBS:
            reads += n
            detail[f"{verb} {resource_name}"] += n
    return Requests(writes, dry_runs, reads, dict(sorted(detail.items())))


class Meter:
    """Counter readings around a phase."""

    def __init__(self, kube: KubeClient, resources: frozenset[str]) -> None:
        self.kube = kube
        self.resources = resources
        self._before: RequestCounts = Counter()

    def start(self) -> None:
        self._before = read_counters(self.kube, self.resources)

    def stop(self) -> Requests:
        time.sleep(SETTLE_SECONDS)
        return requests_between(self._before, read_counters(self.kube, self.resources))


# -- child processes ---------------------------------------------------------------------------


MEASURE = """\
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {time.perf_counter() - started}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""A minimal launcher that fork()s (not vfork) and execs the measured program, then reports its rusage.

Why not simply wait4() on our own child: Linux carries the high-water RSS of the pre-exec address
space into the exec'd program's ru_maxrss, and Python spawns children with vfork (sharing this
process's memory), so every child would report at least this process's own peak. The launcher's
forked copy is a few MB, which is then the floor of what can be measured (`rss_floor_mb`).
"""


def run_measured(argv: Sequence[str], *, scratch: Path) -> tuple[str, float, float]:
    """Run a process to completion: (stdout, its wall seconds, its own peak RSS in MB)."""
    measured = scratch / "measured"
    launcher = [sys.executable, "-I", "-S", "-c", MEASURE, str(measured), *argv]
    result = subprocess.run(launcher, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:4])} ... exited with {result.returncode}:\n{result.stdout[-2000:]}"
        )
    maxrss_kb, wall = measured.read_text().split()
    return result.stdout, float(wall), int(maxrss_kb) / 1024


def rss_floor_mb(scratch: Path) -> float:
    """The smallest peak RSS the launcher can report (that of its own forked copy, running `true`)."""
    return run_measured([shutil.which("true") or "/bin/true"], scratch=scratch)[2]


def child_sync(repo: Path, kubeconfig: Path, workers: int) -> None:
    """`--child-sync`: one sync in this process; prints a JSON line for the parent."""
    from gitops_agent.engine.diff import Action
    from gitops_agent.reconcile.sync import SyncOptions, sync
    from gitops_agent.source import DirSource

    kube = connect(str(kubeconfig))
    snapshot = DirSource(repo).fetch()
    started = time.perf_counter()
    report = sync(kube, snapshot, SyncOptions(workers=workers))
    seconds = time.perf_counter() - started
    changed: dict[str, dict[str, int]] = {}
    for change in report.changes:
        if change.action is not Action.UNCHANGED:
            per_unit = changed.setdefault(change.unit, {})
            per_unit[change.action.value] = per_unit.get(change.action.value, 0) + 1
    errors = [f"{u.unit}: {u.error}" for u in report.units if u.error] + list(report.problems)
    result = {
        "seconds": seconds,
        "ok": report.ok,
        "errors": errors[:10],
        "changed": changed,
        "vmhwm_kb": _vmhwm_kb(),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(result))


def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# -- the two contenders ------------------------------------------------------------------------


def start_cluster(work_dir: Path) -> tuple[LocalCluster, KubeClient]:
    """A fresh `api` cluster with the target namespaces, done with its own start-up writes."""
    cluster = LocalCluster(work_dir, mode=Mode.API)
    cluster.start()
    kube = connect(str(cluster.kubeconfig))
    for namespace in (NAMESPACE, EXTRA_NAMESPACE, DEFAULT_STATE_NAMESPACE):
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    deadline = time.monotonic() + 30
    # The apiserver creates the `kubernetes` Service shortly after /readyz: not ours to count.
    while kube.get("v1", "Service", "kubernetes", "default") is None:
        if time.monotonic() > deadline:
            raise SystemExit("the local apiserver did not create default/kubernetes within 30 s")
        time.sleep(0.2)
    return cluster, kube


def idle_phase(meter: Meter, tool: str) -> Phase:
    """The counted requests while nothing runs: shows that the filter leaves internal traffic out."""
    meter.start()
    time.sleep(IDLE_SECONDS - SETTLE_SECONDS)
    return Phase(f"idle {IDLE_SECONDS:.0f} s", tool, IDLE_SECONDS, meter.stop())


def bench_agent(
    work: Path, repo: Path, *, changed: str, rendered: Mapping[str, Sequence[dict[str, Any]]], workers: int
) -> list[Phase]:
    """Idle check, then cold sync, no-op resync and the one-deployment change on a fresh cluster."""
    cluster, kube = start_cluster(work / "cluster-agent")
    try:
        meter = Meter(kube, counted_resources(kube, rendered))
        phases = [idle_phase(meter, "(agent's cluster)")]
        argv = [sys.executable, str(Path(__file__).resolve()), "--child-sync", str(repo)]
        argv += ["--kubeconfig", str(cluster.kubeconfig), "--workers", str(workers)]
        for name in ("cold", "no-op", "one change"):
            if name == "one change":
                change_image(repo, changed)
            meter.start()
            out, wall, rss = run_measured(argv, scratch=work)
            requests = meter.stop()
            result = json.loads(out.strip().splitlines()[-1])
            if not result["ok"]:
                raise SystemExit(f"gitops-agent {name} sync failed: {result['errors']}")
            notes = {"changed": result["changed"], "vmhwm_mb": round(result["vmhwm_kb"] / 1024, 1)}
            phases.append(Phase(name, "gitops-agent", result["seconds"], requests, rss, wall, notes))
        return phases
    finally:
        cluster.stop()


def bench_kubectl(
    work: Path, *, before: Path, after: Path, rendered: Mapping[str, Sequence[dict[str, Any]]]
) -> list[Phase]:
    """Idle check, then kubectl apply --server-side of the same objects: cold, unchanged, changed."""
    cluster, kube = start_cluster(work / "cluster-kubectl")
    try:
        meter = Meter(kube, counted_resources(kube, rendered))
        phases = [idle_phase(meter, "(kubectl's cluster)")]
        kubectl = str(cluster.binaries.path("kubectl"))
        for name, bundle in (("cold", before), ("no-op", before), ("one change", after)):
            argv = [kubectl, f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={work / 'kubectl-cache'}"]
            argv += ["apply", "--server-side", "--field-manager=bench", "-f", str(bundle)]
            meter.start()
            out, wall, rss = run_measured(argv, scratch=work)
            requests = meter.stop()
            notes = {"objects_reported": len(out.splitlines())}
            phases.append(Phase(name, "kubectl", wall, requests, rss, wall, notes))
        return phases
    finally:
        cluster.stop()


# -- report ------------------------------------------------------------------------------------


def table(phases: Sequence[Phase]) -> str:
    lines = [
        "| phase | tool | seconds | writes | dry-runs | reads | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        rss = f"{p.peak_rss_mb:.0f}" if p.peak_rss_mb is not None else "-"
        r = p.requests
        lines.append(
            f"| {p.phase} | {p.tool} | {p.seconds:.2f} | {r.writes} | {r.dry_runs} | {r.reads} | {rss} |"
        )
    return "\n".join(lines)


def anomalies(phases: Sequence[Phase], *, changed: str, expected_change_writes: int) -> list[str]:
    """What deviates from the engine's promises (write only on drift, only the changed unit)."""
    found = []
    by_key = {(p.phase, p.tool): p for p in phases}
    for idle in (p for p in phases if p.phase.startswith("idle")):
        if idle.requests.writes or idle.requests.dry_runs or idle.requests.reads:
            found.append(f"{idle.tool} idle: counted requests (filter not clean): {idle.requests.detail}")
    noop = by_key[("no-op", "gitops-agent")]
    if noop.requests.writes or noop.requests.dry_runs or noop.notes["changed"]:
        found.append(f"gitops-agent no-op resync made requests/changes: {noop.requests.detail}")
    change = by_key[("one change", "gitops-agent")]
    if change.requests.writes != expected_change_writes or set(change.notes["changed"]) != {changed}:
        found.append(
            f"gitops-agent one change: {change.requests.writes} writes, expected {expected_change_writes} "
            f"({changed}'s changed objects + its inventory); "
            f"changed units {sorted(change.notes['changed'])}; "
            f"{change.requests.detail}"
        )
    return found


@dataclass(frozen=True)
class Setup:
    """The generated repository and the kubectl bundles rendered from it."""

    repo: Path
    changed: str
    rendered: dict[str, list[dict[str, Any]]]
    before: Path
    after: Path
    changed_objects: int
    """Objects of the changed deployment whose rendered manifest differs after the change."""

    @property
    def objects(self) -> int:
        return sum(len(ms) for ms in self.rendered.values())


def prepare(work: Path, deployments: int) -> Setup:
    """Generate and validate the repository; render the before/after bundles for kubectl."""
    repo = work / "repo"
    changed = generate_repo(repo, deployments)[0]
    rendered = render_repo(repo)
    write_bundle(work / "before.yaml", rendered)
    changed_repo = work / "changed-repo"
    shutil.copytree(repo, changed_repo)
    change_image(changed_repo, changed)
    after = render_repo(changed_repo)
    write_bundle(work / "after.yaml", after)
    differing = sum(1 for old, new in zip(rendered[changed], after[changed], strict=True) if old != new)
    return Setup(repo, changed, rendered, work / "before.yaml", work / "after.yaml", differing)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_sync:
        child_sync(Path(args.child_sync), Path(args.kubeconfig), args.workers)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sync-scale-") as tmp:
        work = Path(tmp)
        setup = prepare(work, args.deployments)
        print(f"{args.deployments} deployments → {setup.objects} objects; workers={args.workers}", flush=True)
        floor = rss_floor_mb(work)
        idle_ours, *ours = bench_agent(
            work, setup.repo, changed=setup.changed, rendered=setup.rendered, workers=args.workers
        )
        idle_theirs, *theirs = bench_kubectl(
            work, before=setup.before, after=setup.after, rendered=setup.rendered
        )
        phases = [idle_ours, idle_theirs, *(p for pair in zip(ours, theirs, strict=True) for p in pair)]
        expected = setup.changed_objects + 1  # the objects whose spec changed, plus the inventory
        found = anomalies(phases, changed=setup.changed, expected_change_writes=expected)
        summary: dict[str, Any] = {
            "deployments": args.deployments,
            "objects": setup.objects,
            "workers": args.workers,
            "changed_deployment": setup.changed,
            "rss_floor_mb": round(floor, 1),
        }
        print_report(phases, found, summary)  # now: the extras take long and may fail
        summary |= bench_extras(work, setup, args)
    print_extras(summary, phases)
    if args.json:
        result = {**summary, "phases": [asdict(p) for p in phases], "anomalies": found}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def bench_extras(work: Path, setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """The running agent's rows and the raw-apply limit, each on a fresh cluster of its own."""
    extra: dict[str, Any] = {}
    if args.running_agent:
        cluster, kube = start_cluster(work / "cluster-running")
        try:
            pushed = next(n for n in setup.rendered if n != setup.changed and n.startswith("agent-"))
            run = running_agent(
                work / "running", cluster, kube, setup.repo, args.deployments,
                changed=pushed, pushes=args.pushes, rss_pushes=args.rss_pushes,
            )  # fmt: skip
        finally:
            cluster.stop()
        extra["running_agent"] = {
            "first_convergence_seconds": round(run.first_convergence, 2),
            "push_to_live_p50": round(run.quantile(50), 3),
            "push_to_live_p95": round(run.quantile(95), 3),
            "push_to_live_max": round(max(run.latencies[: run.timed]), 3),
            "push_to_live_seconds": [round(x, 3) for x in run.latencies[: run.timed]],
            "timed_pushes": run.timed,
            "pushes": run.pushes,
            "rss_converged_mb": round(run.rss_converged_mb, 1),
            "rss_after_pushes_mb": round(run.rss_after_mb, 1),
            "pushed_deployment": pushed,
        }
    if args.raw_apply:
        cluster, kube = start_cluster(work / "cluster-raw")
        try:
            seconds = raw_apply(kube, setup.rendered, args.raw_apply)
        finally:
            cluster.stop()
        extra["raw_apply"] = {
            "objects": args.raw_apply,
            "seconds": {str(k): round(v, 2) for k, v in seconds.items()},
        }
    return extra


def print_extras(summary: Mapping[str, Any], phases: Sequence[Phase]) -> None:
    cold = {p.tool: p for p in phases if p.phase == "cold"}
    if "running_agent" in summary:
        run = summary["running_agent"]
        first = run["first_convergence_seconds"]
        ratio = first / cold["gitops-agent"].seconds
        timed = (
            f"{run['push_to_live_p50']:.2f} | {run['push_to_live_p95']:.2f} | {run['push_to_live_max']:.2f}"
        )
        print(
            f"\nrunning agent (`gitops-agent run`, webhook, no polling), N = {summary['deployments']}, "
            f"push → live over {run['timed_pushes']} pushes:\n\n"
            "| first convergence s | vs one-shot cold | push → live p50 s | p95 s | max s | RSS converged MB "
            "| RSS after pushes MB |\n|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {first:.1f} | {ratio:.2f}x | {timed} "
            f"| {run['rss_converged_mb']:.0f} | {run['rss_after_pushes_mb']:.0f} ({run['pushes']} pushes) |"
        )
    if "raw_apply" in summary:
        raw = summary["raw_apply"]
        count = raw["objects"]
        print(f"\nraw server-side apply of {count} rendered objects (creates), the project's client:\n")
        print("| in flight | seconds | objects/s |\n|---:|---:|---:|")
        for level, seconds in raw["seconds"].items():
            print(f"| {level} | {seconds:.2f} | {count / seconds:.0f} |")
        objects = summary["objects"]
        for tool, phase in cold.items():
            print(f"cold sync, {tool}: {objects / phase.seconds:.0f} objects/s")


def print_report(phases: Sequence[Phase], found: Sequence[str], summary: Mapping[str, Any]) -> None:
    print(
        f"\nN = {summary['deployments']} deployments, {summary['objects']} rendered objects, "
        f"workers = {summary['workers']} (one change: {summary['changed_deployment']}'s image tag)\n"
    )
    print(table(phases))
    ours = [p for p in phases if p.tool == "gitops-agent"]
    walls = ", ".join(f"{p.phase} {p.process_seconds:.2f} s" for p in ours)
    print(f"\ngitops-agent child process wall time (interpreter start + imports + sync): {walls}")
    print(f"peak RSS floor of the measuring launcher: {summary['rss_floor_mb']:.1f} MB")
    print("\nrequests by verb and resource:")
    for p in phases:
        detail = ", ".join(f"{k}: {v}" for k, v in p.requests.detail.items()) or "none"
        print(f"  {p.phase:<10} {p.tool:<19} {detail}")
    for line in found:
        print(f"ANOMALY: {line}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--deployments", type=int, default=200, help=f"deployments to generate (1-{MAX_DEPLOYMENTS})"
    )
    parser.add_argument("--workers", type=int, default=8, help="gitops-agent sync workers (default 8)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--running-agent",
        action="store_true",
        help="also run `gitops-agent run` on a fresh cluster: first convergence, push → live, RSS",
    )
    parser.add_argument("--pushes", type=int, default=20, help="pushes timed for push → live (default 20)")
    parser.add_argument(
        "--rss-pushes", type=int, default=100, help="pushes before the second RSS reading (default 100)"
    )
    parser.add_argument(
        "--raw-apply",
        type=int,
        default=0,
        metavar="OBJECTS",
        help="also time a raw server-side-apply loop of this many rendered objects at 1, 4, 8, 16 in flight",
    )
    parser.add_argument("--child-sync", metavar="REPO", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.deployments <= MAX_DEPLOYMENTS:
        parser.error(f"--deployments must be between 1 and {MAX_DEPLOYMENTS}")
    return args


if __name__ == "__main__":
    sys.exit(main())
