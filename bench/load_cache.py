"""What the load caches save the running agent: the per-file cache on a new commit, the per-commit
cache on every resync of an unchanged one.

The agent loads its current snapshot on every sync (poll, drift event, periodic resync) and every new
commit. Prints, for generated repositories of N deployments, the time of a cold load (nothing known),
of a new commit's load when one file changed (the per-file cache: only that file is parsed,
validated and rendered), and of the same commit's load from the per-commit cache (median of --repeat
runs).

    .venv/bin/python bench/load_cache.py [--deployments 200 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_scale import change_image, generate_repo

from gitops_agent.manifests import load_repository, repository
from gitops_agent.source import Snapshot
from gitops_agent.state import loadcache


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(deployments: int, repeat: int) -> tuple[int, int, float, float, float]:
    with tempfile.TemporaryDirectory(prefix="load-cache-") as scratch:
        root = Path(scratch)
        names = generate_repo(root, deployments)
        files = sum(1 for p in root.rglob("*.yaml"))
        snapshot = Snapshot("f" * 40, root, "", "", datetime.now(UTC), "main")
        from_disk = median_seconds(lambda: cold_load(root), repeat)
        load_repository(root)  # the files as they are now are known ...
        changes = iter(range(repeat))

        def one_changed() -> None:  # ... and a new commit changes one of them
            change_image(root, names[next(changes) % len(names)])
            load_repository(root)

        one_file = median_seconds(one_changed, repeat)
        loadcache.load_snapshot(snapshot)  # the first sync of a commit fills the cache
        cached = median_seconds(lambda: loadcache.load_snapshot(snapshot), repeat)
    return deployments, files, from_disk, one_file, cached


def cold_load(root: Path) -> None:
    """A load with nothing known about the files (the first sync after a start)."""
    repository._CACHE = repository._EntryCache()
    load_repository(root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--deployments", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| deployments | YAML files | cold load (s) | new commit, one file changed (s) |", end="")
    print(" same commit, cached (s) |")
    print("|---:|---:|---:|---:|---:|")
    for count in args.deployments:
        deployments, files, from_disk, one_file, cached = measure(count, args.repeat)
        print(f"| {deployments} | {files} | {from_disk:.3f} | {one_file:.3f} | {cached:.6f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
