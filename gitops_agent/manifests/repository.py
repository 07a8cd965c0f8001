"""`load_repository`: a deployments repository on disk → settings, units and problems.

One unit per `deployments/*.yaml` (named after the file, which must match `metadata.name`, so a broken
file still names the deployment it is about and the sync engine can hold that deployment as it is),
plus the `manifests` unit for `manifests/`. Each file is loaded and checked on its own, so one
invalid file never hides the others' results; then cross-file checks (names, routes, object names)
mark every unit involved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitops_agent.core.credentials import credential_kind
from gitops_agent.core.labels import MANIFESTS_UNIT
from gitops_agent.core.objects import ObjectKey
from gitops_agent.manifests.build import deployment_from
from gitops_agent.manifests.model import AgentDeployment, Contest, Problem, RepositoryLoad, Settings, Unit
from gitops_agent.manifests.plain import (
    MANIFESTS_DIR,
    YAML_SUFFIXES,
    PlainObject,
    load_plain,
    object_identity,
    source_files,
)
from gitops_agent.manifests.policy import credential_message
from gitops_agent.manifests.render import PLACEHOLDER_SEED, render_unit
from gitops_agent.manifests.schemas import validate_document
from gitops_agent.manifests.settings import SETTINGS_FILE, load_settings
from gitops_agent.manifests.validate import Checker, check_deployment, route_conflicts
from gitops_agent.manifests.yamlpos import MAX_FILE_BYTES, Document, Mark, YamlError, format_path, load_file

DEPLOYMENTS_DIR = "deployments"


@dataclass
class _Entry:
    """One deployment file while it is being checked."""

    file: str
    stem: str
    doc: Document | None = None
    deployment: AgentDeployment | None = None
    problems: list[Problem] = field(default_factory=list)
    contests: list[Contest] = field(default_factory=list)
    cache_key: tuple[str, str, str] | None = None

    def at(self, path: tuple[str, ...], message: str) -> Problem:
        mark = self.doc.mark(path, prefer_key=False) if self.doc else Mark(1, 1)
        return Problem(self.file, mark.line, mark.column, format_path(path), message)


def deployment_files(root: Path) -> list[Path]:
    """`deployments/*.yaml` and `*.yml` (not recursive, hidden files skipped), sorted."""
    folder = root / DEPLOYMENTS_DIR
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if p.suffix in YAML_SUFFIXES and p.is_file() and not p.name.startswith(".")
    ]
    return sorted(found, key=lambda p: p.name)


def load_repository(root: Path) -> RepositoryLoad:
    """Load, validate and cross-check a whole deployments repository; never raises for bad content."""
    root = Path(root)
    if not root.is_dir():
        return RepositoryLoad(None, (), (Problem(".", 1, 1, "", f"repository directory {root} not found"),))
    settings, repo_problems = load_settings(root)
    if not (root / DEPLOYMENTS_DIR).is_dir() and not (root / MANIFESTS_DIR).is_dir():
        repo_problems.append(
            Problem(
                SETTINGS_FILE,
                1,
                1,
                "",
                f"neither {DEPLOYMENTS_DIR}/ nor {MANIFESTS_DIR}/ exists: nothing to deploy",
            )
        )
    settings_key = _settings_key(root, settings)
    entries = [_cached_entry(path, root, settings, settings_key) for path in deployment_files(root)]
    repo_problems += _duplicate_names(entries)
    repo_problems += _conflicting_routes(entries)
    units = _deployment_units(entries)
    plain: list[PlainObject] = []
    warnings = [w for e in entries if e.deployment is not None and e.doc for w in _env_warnings(e)]
    if (root / MANIFESTS_DIR).is_dir():
        plain_unit, plain, plain_warnings = _manifests_unit(root, settings)
        units.append(plain_unit)
        warnings += plain_warnings
    if settings is not None:
        units, collisions = _object_collisions(units, settings, entries, plain, settings_key)
        repo_problems += collisions
    units = _merge_same_names(units)
    return RepositoryLoad(
        settings,
        tuple(sorted(units, key=lambda u: u.name)),
        tuple(sorted(set(repo_problems))),
        tuple(sorted(set(warnings))),
    )


def _env_warnings(entry: _Entry) -> Iterator[Problem]:
    """Plain `env` values of a deployment that look like credentials (they belong in `secretEnv`)."""
    assert entry.deployment is not None and entry.doc is not None
    check = Checker(entry.doc, entry.file)
    for name, value in entry.deployment.env:
        what = credential_kind(name, value)
        if what:
            yield check.problem(("spec", "env", name), credential_message(name, what))


class _EntryCache:
    """Checked deployment files by (path, content, settings): a new commit of a big repository
    re-reads every file but parses, validates and renders only those that changed (or all of them,
    when the settings changed). Bounded, least recently used first out; shared by the threads of the
    agent (syncs, the API), hence the lock. Entries are copied out: cross-file checks append to them."""

    def __init__(self, limit: int = 8192) -> None:
        self._entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._claims: dict[tuple[str, str, str], list[tuple[str, str, str, str]]] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        return dataclasses.replace(entry, problems=list(entry.problems), contests=list(entry.contests))

    def put(self, key: tuple[str, str, str], entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = dataclasses.replace(
                entry, problems=list(entry.problems), contests=list(entry.contests)
            )
            while len(self._entries) > self._limit:
                old, _ = self._entries.popitem(last=False)
                self._claims.pop(old, None)

    def claims(
        self, key: tuple[str, str, str] | None, render: Callable[[], list[tuple[str, str, str, str]]]
    ) -> list[tuple[str, str, str, str]]:
        """The object identities a unit renders, remembered with its file's entry."""
        if key is None:
            return render()
        with self._lock:
            found = self._claims.get(key)
        if found is None:
            found = render()
            with self._lock:
                if key in self._entries:
                    self._claims[key] = found
        return found


_CACHE = _EntryCache()


def _settings_key(root: Path, settings: Settings | None) -> str:
    if settings is None:
        return "-"
    return hashlib.sha256((root / SETTINGS_FILE).read_bytes()).hexdigest()


def _entry_key(path: Path, root: Path, settings_key: str) -> tuple[str, str, str] | None:
    """(file, content hash, settings hash), or None for what is never cached (links, huge files)."""
    if path.is_symlink() or settings_key == "-":
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES:
        return None
    return path.relative_to(root).as_posix(), hashlib.sha256(data).hexdigest(), settings_key


def _cached_entry(path: Path, root: Path, settings: Settings | None, settings_key: str) -> _Entry:
    key = _entry_key(path, root, settings_key)
    cached = _CACHE.get(key) if key else None
    if cached is not None:
        return cached
    entry = _load_entry(path, root, settings)
    entry.cache_key = key
    if key is not None:
        _CACHE.put(key, entry)
    return entry


def _load_entry(path: Path, root: Path, settings: Settings | None) -> _Entry:
    entry = _Entry(file=path.relative_to(root).as_posix(), stem=path.name.rsplit(".", 1)[0])
    try:
        (entry.doc,) = load_file(path, multi=False, what="AgentDeployment", root=root)
    except YamlError as err:
        entry.problems.append(Problem(entry.file, err.line, err.column, format_path(err.path), err.message))
        return entry
    entry.problems += validate_document(entry.doc, "agentdeployment", file=entry.file)
    if entry.problems:
        return entry
    if settings is None:
        entry.problems.append(entry.at((), f"not checked further: {SETTINGS_FILE} is missing or invalid"))
        return entry
    entry.deployment = deployment_from(entry.doc.data, settings, file=entry.file)
    entry.problems += check_deployment(
        entry.deployment, Checker(entry.doc, entry.file), settings, stem=entry.stem
    )
    return entry


def _duplicate_names(entries: list[_Entry]) -> list[Problem]:
    """A name used by several files: the file named after it owns it; the others are wrong."""
    by_name: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        name = entry.doc.get(("metadata", "name")) if entry.doc else None
        if isinstance(name, str):
            by_name[name].append(entry)
    found: list[Problem] = []
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        owners = [e for e in group if e.stem == name]
        for entry in group if len(owners) != 1 else [e for e in group if e is not owners[0]]:
            others = ", ".join(e.file for e in group if e is not entry)
            problem = entry.at(("metadata", "name"), f"deployment name {name!r} is also defined in {others}")
            entry.problems.append(problem)
            found.append(problem)
    return found


def _conflicting_routes(entries: list[_Entry]) -> list[Problem]:
    valid = [e for e in entries if e.deployment is not None and not e.problems and e.doc is not None]
    by_name = {e.deployment.name: e for e in valid if e.deployment}
    pairs = [(e.deployment, Checker(e.doc, e.file)) for e in valid if e.deployment and e.doc]
    found = []
    for name, problem, rivals in route_conflicts(pairs):
        by_name[name].contests.append(Contest(problem, rivals))
        found.append(problem)
    return found


def _deployment_units(entries: list[_Entry]) -> list[Unit]:
    units = []
    for entry in entries:
        deployment = entry.deployment if not entry.problems else None
        units.append(
            Unit(
                entry.stem,
                (entry.file,),
                deployment=deployment,
                problems=tuple(sorted(set(entry.problems))),
                contests=tuple(entry.contests),
            )
        )
    return units


def _manifests_unit(root: Path, settings: Settings | None) -> tuple[Unit, list[PlainObject], list[Problem]]:
    files = tuple(source_files(root))
    if settings is None:
        problem = Problem(
            files[0] if files else MANIFESTS_DIR,
            1,
            1,
            "",
            f"not checked: {SETTINGS_FILE} is missing or invalid",
        )
        return Unit(MANIFESTS_UNIT, files, problems=(problem,)), [], []
    loaded = load_plain(root, settings)
    plain = tuple(o.manifest for o in loaded.objects) if not loaded.problems else ()
    unit = Unit(MANIFESTS_UNIT, files, plain_objects=plain, problems=tuple(loaded.problems))
    return unit, loaded.objects, loaded.warnings


def _object_collisions(
    units: list[Unit], settings: Settings, entries: list[_Entry], plain: list[PlainObject], settings_key: str
) -> tuple[list[Unit], list[Problem]]:
    """Two units rendering the same object would fight over it forever: a contest for each of them
    (the one already live keeps it; see `Unit.lost_contests`)."""
    claims: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    where = {e.stem: e for e in entries}
    for unit in units:
        if unit.valid:
            entry = where.get(unit.name)
            key = entry.cache_key if entry is not None and unit.files == (entry.file,) else None
            for identity in _CACHE.claims(key, lambda u=unit: _rendered_identities(u, settings)):  # type: ignore[misc]
                claims[identity].append(unit.name)
    located = {object_identity(o.manifest): o for o in plain}
    extra: dict[str, list[Contest]] = defaultdict(list)
    for identity, names in claims.items():
        if len(names) < 2:
            continue
        places = {n: _locate(n, identity, "", where, located) for n in names}
        for name in names:
            rivals = tuple(n for n in names if n != name)
            others = ", ".join(f"{n} ({_where(places[n])})" for n in rivals)
            message = f"{identity[1]}/{identity[2]}/{identity[3]} is also rendered by {others}"
            extra[name].append(Contest(dataclasses.replace(places[name], message=message), rivals))
    updated = [
        dataclasses.replace(u, contests=(*u.contests, *extra[u.name])) if u.name in extra else u
        for u in units
    ]
    return updated, [c.problem for found in extra.values() for c in found]


def _rendered_identities(unit: Unit, settings: Settings) -> list[tuple[str, str, str, str]]:
    return [_identity(obj.key) for obj in render_unit(unit, settings, secret_seed=PLACEHOLDER_SEED).objects]


def _where(problem: Problem) -> str:
    return f"{problem.file}:{problem.line}:{problem.column}"


def _identity(key: ObjectKey) -> tuple[str, str, str, str]:
    return key.group, key.kind, key.namespace, key.name


def _locate(
    unit: str,
    identity: tuple[str, str, str, str],
    message: str,
    entries: dict[str, _Entry],
    plain: dict[tuple[str, str, str, str], PlainObject],
) -> Problem:
    if unit == MANIFESTS_UNIT and identity in plain:
        obj = plain[identity]
        return Problem(obj.file, obj.name_mark.line, obj.name_mark.column, "metadata.name", message)
    entry = entries.get(unit)
    return entry.at(("metadata", "name"), message) if entry else Problem(unit, 1, 1, "", message)


def _merge_same_names(units: Iterable[Unit]) -> list[Unit]:
    """`x.yaml` + `x.yml` (or a `deployments/manifests.yaml`) would make two units of one name: merge them."""
    by_name: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_name[unit.name].append(unit)
    merged = []
    for name, group in by_name.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        files = tuple(f for u in group for f in u.files)
        clash = [
            Problem(f, 1, 1, "", f"{', '.join(files)} all define unit {name!r}; keep one file") for f in files
        ]
        problems = tuple(sorted({*clash, *(p for u in group for p in u.problems)}))
        merged.append(Unit(name, files, problems=problems))
    return merged
