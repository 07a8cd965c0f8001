"""Which deployments a new commit changes: the running agent syncs those, not the whole repository.

A push that edits one deployment file should cost one deployment's sync, however many the repository
holds. Git tells which files changed between the last synced commit and the new one; each file
belongs to one unit (in the old or the new load). Only `deployments/` files are mapped: any other
path — the settings file, `manifests/` (whose kustomizations may read files elsewhere in the
repository), anything else — asks for a full sync, as do a deployment that disappeared (only a full
sync tears down), a `deployments/` path no unit claims, and a commit Git cannot compare with the last
one (the first one, a history rewritten by force). The periodic full resync still runs.
"""

from __future__ import annotations

from gitops_agent.manifests.repository import DEPLOYMENTS_DIR
from gitops_agent.source import Snapshot
from gitops_agent.state.loadcache import load_snapshot


def changed_units(previous: Snapshot | None, current: Snapshot) -> frozenset[str] | None:
    """The units `current` changes against `previous`; None: only a full sync can tell."""
    paths = _changed_paths(previous, current)
    if paths is None or not paths:
        return paths  # unknown, or nothing changed under the repository's folder
    assert previous is not None
    if any(not p.startswith(f"{DEPLOYMENTS_DIR}/") for p in paths):
        return None
    old, new = load_snapshot(previous), load_snapshot(current)
    if {u.name for u in old.units} - {u.name for u in new.units}:
        return None  # a deployment was removed: its teardown is a full sync's
    owners = {f: u.name for load in (old, new) for u in load.units for f in u.files}
    if any(p not in owners for p in paths):
        return None
    return frozenset(owners[p] for p in paths)


def _changed_paths(previous: Snapshot | None, current: Snapshot) -> frozenset[str] | None:
    if previous is None or current.log is None or not previous.path.is_dir():
        return None
    return current.log.changed_paths(previous.commit)


__all__ = ["changed_units"]
