"""`load_snapshot`: `load_repository` memoized per Git commit.

The running agent loads the same snapshot again on every resync, drift event and health check, and
parsing plus schema-validating hundreds of YAML files is most of what a no-op resync costs. A
commit's tree never changes, so its load can be reused; everything in a `RepositoryLoad` is frozen,
and the renderer copies what it stamps. A directory source (commit `local`) changes under the same
name, so it is always loaded afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from gitops_agent.manifests import RepositoryLoad, load_repository
from gitops_agent.source import Snapshot

CACHED_COMMITS = 4
"""The current commit, the previous one (a rollback target) and a little slack."""

_cache: OrderedDict[tuple[str, Path], RepositoryLoad] = OrderedDict()
_lock = threading.Lock()


def load_snapshot(snapshot: Snapshot) -> RepositoryLoad:
    """The load of `snapshot`, from the cache when this commit (and sub-path) was loaded before."""
    if not _is_commit(snapshot.commit):
        return load_repository(snapshot.path)
    key = (snapshot.commit, Path(snapshot.path).resolve())
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    load = load_repository(snapshot.path)  # outside the lock: loads of different commits overlap
    with _lock:
        _cache[key] = load
        while len(_cache) > CACHED_COMMITS:
            _cache.popitem(last=False)
    return load


def _is_commit(commit: str) -> bool:
    """A full SHA-1 or SHA-256 object name (anything else, e.g. `local`, names no fixed tree)."""
    return len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit)
