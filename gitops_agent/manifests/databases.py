"""Changes that would leave a managed Postgres's data behind, and the moves that carry it along.

A managed Postgres keeps its data in one claim, `data-<name>-postgres-0` in the deployment's
namespace (its `DatabaseHome`). A change of namespace, or a rename of the deployment's file, renders
the StatefulSet in a new home, and Kubernetes starts it on a new, empty volume while the old one stays
where it was, mentioned nowhere. So such a change is refused, with what would happen and how to do it
on purpose: `spec.postgres.managed.volumeFrom` names the home the data is in, and the sync moves that
volume (`engine.volumes`). The same check runs at sync (the homes the cluster holds, from the
inventories) and in `validate --base` (the homes of the base commit), so a pull request hears it
before its merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_agent.manifests.model import (
    AgentDeployment,
    DatabaseHome,
    ManagedPostgres,
    Problem,
    RepositoryLoad,
)
from gitops_agent.manifests.yamlpos import YamlError, format_path, load_file

FIELD = "spec.postgres.managed"


@dataclass(frozen=True)
class VolumeMove:
    """A managed Postgres to be started on the volume of another home (`volumeFrom`)."""

    unit: str
    source: DatabaseHome
    target: DatabaseHome


@dataclass(frozen=True)
class MoveCheck:
    """What the homes before and after a change say: units refused (with why), moves to carry out, and
    the vanished units whose teardown waits (the refused units may be them, renamed)."""

    refused: Mapping[str, str]
    moves: Mapping[str, VolumeMove]
    held: frozenset[str] = frozenset()


def check_moves(
    before: Mapping[str, DatabaseHome], after: Iterable[AgentDeployment], *, vanished: Iterable[str]
) -> MoveCheck:
    """Judge each deployment with a managed Postgres against where its data was.

    `before` maps a unit to the home its Postgres had (the cluster's, or the base commit's);
    `vanished` names the units this change removes from the repository.
    """
    managed = [d for d in after if isinstance(d.postgres, ManagedPostgres)]
    refused: dict[str, str] = {}
    moves: dict[str, VolumeMove] = {}
    for dep in managed:
        target, prior = DatabaseHome(dep.namespace, dep.name), before.get(dep.name)
        wanted = dep.postgres.volume_from if isinstance(dep.postgres, ManagedPostgres) else None
        if prior == target or (wanted in (None, target) and prior is None):
            continue  # at home (a finished move included), or new with nowhere to come from
        if wanted is None or wanted == target:
            assert prior is not None
            refused[dep.name] = _moved_message(dep.name, prior, target)
        elif prior is not None and prior != wanted:
            refused[dep.name] = (
                f"volumeFrom names {wanted}, but this deployment's data is in {prior}: name that home "
                f"(volumeFrom: {_spelling(prior, target)})"
            )
        else:
            moves[dep.name] = VolumeMove(dep.name, wanted, target)
    sources = {m.source for m in moves.values()}
    gone = {u: before[u] for u in vanished if u in before and before[u] not in sources}
    for dep in managed:
        if gone and dep.name not in before and dep.name not in moves:
            refused[dep.name] = _renamed_message(dep.name, DatabaseHome(dep.namespace, dep.name), gone)
    held = {u for u in vanished if u in before and before[u] in sources}
    if any(u not in before for u in refused):
        held |= set(gone)  # a refused newcomer may be one of them renamed: keep them running meanwhile
    return MoveCheck(refused, moves, frozenset(held))


def homes_of(load: RepositoryLoad) -> dict[str, DatabaseHome]:
    """Each deployment's managed Postgres home as a repository (e.g. a base commit) declares it."""
    return {
        u.deployment.name: DatabaseHome(u.deployment.namespace, u.deployment.name)
        for u in load.units
        if u.deployment is not None and isinstance(u.deployment.postgres, ManagedPostgres)
    }


def moves_since(base: RepositoryLoad, head: RepositoryLoad, *, root: Path) -> list[Problem]:
    """`check_moves` of `head` against `base` (`validate --base`): a pull request that moves or
    renames a deployment with managed Postgres hears it before the merge, where `root` is head's."""
    deployments = {u.name: u.deployment for u in head.units if u.deployment is not None}
    vanished = {u.name for u in base.units} - {u.name for u in head.units}
    check = check_moves(homes_of(base), deployments.values(), vanished=vanished)
    return [move_problem(root, deployments[unit], message) for unit, message in sorted(check.refused.items())]


def move_problem(root: Path, dep: AgentDeployment, message: str) -> Problem:
    """A refusal located in the deployment's file: at `volumeFrom` or `postgres` when written there,
    else at `metadata.name` (a rename) or `metadata.namespace` when the file sets it."""
    paths = [
        ("spec", "postgres", "managed", "volumeFrom"),
        ("spec", "postgres"),
        ("metadata", "namespace"),
        ("metadata", "name"),
    ]
    try:
        doc = load_file(root / dep.file, multi=False, what="AgentDeployment", root=root)[0]
    except (OSError, YamlError):
        return Problem(dep.file, 1, 1, FIELD, message)
    path = next((p for p in paths if doc.get(p) is not None), paths[-1])
    mark = doc.mark(path, prefer_key=True)
    return Problem(dep.file, mark.line, mark.column, format_path(path), message)


def _moved_message(unit: str, prior: DatabaseHome, target: DatabaseHome) -> str:
    return (
        f"this change moves {unit}'s managed Postgres from namespace {prior.namespace} to "
        f"{target.namespace}: it would start on a new, empty volume there and leave the data in "
        f"{prior}. To take the data along, set {FIELD}.volumeFrom: {_spelling(prior, target)} (the "
        "sync stops the old database and moves its volume); to start empty on purpose, delete the "
        "deployment in one commit (its volume is kept and listed as orphaned) and add it in the next"
    )


def _renamed_message(unit: str, target: DatabaseHome, gone: Mapping[str, DatabaseHome]) -> str:
    names = ", ".join(f"{u} ({home})" for u, home in sorted(gone.items()))
    first, home = sorted(gone.items())[0]
    return (
        f"{unit} starts a new managed Postgres on an empty volume while this change removes the "
        f"managed Postgres of {names}. If {unit} is {first} renamed, set {FIELD}.volumeFrom: "
        f"{_spelling(home, target)} to take its data along; if not, remove {first} in a commit of its "
        f"own first (its volume is kept and listed as orphaned)"
    )


def _spelling(source: DatabaseHome, target: DatabaseHome) -> str:
    """`volumeFrom` as the user writes it: only what differs from the target."""
    parts = []
    if source.namespace != target.namespace:
        parts.append(f"namespace: {source.namespace}")
    if source.deployment != target.deployment:
        parts.append(f"deployment: {source.deployment}")
    return "{" + ", ".join(parts) + "}"


__all__ = ["MoveCheck", "VolumeMove", "check_moves", "homes_of", "move_problem", "moves_since"]
