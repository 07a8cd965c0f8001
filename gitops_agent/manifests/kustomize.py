"""Kustomize overlays in `manifests/`: a folder holding a `kustomization.yaml` is built with
`kustomize build`, and its output is treated like any other plain manifests (checked, owned, pruned).

Which folders are built: every folder under `manifests/` (or `manifests/` itself) with a
kustomization file that is neither inside another such folder nor used by one as a base or
component. So both layouts people keep in Git work: Argo CD's `kustomize-guestbook` (one folder) and
`base/` + `overlays/<env>/` (only the overlays are built; the base is built through them).

What a build may read is the repository, nothing else: remote bases (`https://…`, `github.com/…`,
`git@…`) and folders outside the repository are refused before kustomize runs, and kustomize runs
without `--enable-helm`, `--enable-alpha-plugins` or `--enable-exec`, so a kustomization cannot fetch
charts or run programs. (kustomize itself keeps files other than bases inside the kustomization's
folder: its default load restrictor.)

The binary is `$GITOPS_AGENT_KUSTOMIZE`, else `kustomize` on `PATH`; the image carries one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitops_agent.manifests.model import Problem
from gitops_agent.manifests.yamlpos import Document, YamlError, format_path, load_file, parse_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names kustomize itself looks for, in its order."""
BUILD_TIMEOUT_SECONDS = 60
MAX_OUTPUT_BYTES = 8 * 1024 * 1024
"""Largest build output accepted (a kustomization is many files; one file is limited to 256 KiB)."""

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)", re.IGNORECASE)
OUTSIDE_MESSAGE = (
    "a file it names is outside the kustomization's folder or the repository (a `../` path, an "
    "absolute path, a symlink out of the tree); kustomize's own message is withheld: it names host paths"
)
_FILE_CONTEXTS = (
    "lstat ",
    "stat ",
    "open ",
    "read ",
    "readlink ",
    "on '",
    "file '",
    "below '",
    "from '",
    ": '",
    "path(",
    "[",
)
_ABSOLUTE_PATH = re.compile(
    "(?:" + "|".join(f"(?<={re.escape(c)})" for c in _FILE_CONTEXTS) + r")(/[^\s'\"()\[\],:]*)"
)
"""An absolute file path in kustomize's message, where its file errors put one (`lstat /x: …`,
`security; file '/x' …`, `path(/x)`); not a JSON patch's `path: "/spec/…"`."""
_LOAD_RESTRICTOR = "is not in or below"
"""kustomize's refusal of a file outside the kustomization's folder (it names the resolved file)."""
_REFERENCE_FIELDS = ("resources", "bases", "components")
"""Fields that may name other folders (bases, components): the ones a build may leave its folder by."""


@dataclass(frozen=True)
class Built:
    """One folder's `kustomize build` output as YAML documents, or the problems that stopped it."""

    folder: str
    """The folder, relative to the repository root (e.g. `manifests/guestbook`)."""
    source: str
    """How problems in the output name where they are: `<folder>/ (kustomize build)`."""
    documents: list[Document]
    problems: list[Problem]


def kustomization_file(folder: Path) -> Path | None:
    """The folder's kustomization file, if it has one."""
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def kustomized_folders(manifests: Path) -> list[Path]:
    """Every folder under (and including) `manifests/` with a kustomization file, hidden ones skipped."""
    if not manifests.is_dir():
        return []
    candidates = [manifests, *(p for p in manifests.rglob("*") if p.is_dir() and not p.is_symlink())]
    return sorted(
        p
        for p in candidates
        if kustomization_file(p) and not any(part.startswith(".") for part in p.relative_to(manifests).parts)
    )


def build_roots(manifests: Path, root: Path) -> list[Path]:
    """The kustomized folders to build: not inside another one, not used by another one."""
    folders = kustomized_folders(manifests)
    used = {target for folder in folders for target in _local_references(folder, root)}
    return [
        f
        for f in folders
        if f.resolve() not in used and not any(other != f and f.is_relative_to(other) for other in folders)
    ]


def build(folder: Path, root: Path) -> Built:
    """`kustomize build folder`, after refusing references that leave the repository."""
    rel = folder.relative_to(root).as_posix()
    source = f"{rel}/ (kustomize build)"
    problems = list(_reference_problems(folder, root, set()))
    if problems:
        return Built(rel, source, [], problems)
    output, why = _run(rel, root)
    if why is not None:
        return Built(rel, source, [], [Problem(_kustomization_rel(folder, root), 1, 1, "", why)])
    try:
        documents = parse_documents(output)
    except YamlError as err:  # kustomize writes YAML; only our limits (nodes, depth) can trip here
        return Built(rel, source, [], [Problem(source, err.line, err.column, "", err.message)])
    if not documents:
        why = "kustomize build produced no objects"
        return Built(rel, source, [], [Problem(_kustomization_rel(folder, root), 1, 1, "", why)])
    return Built(rel, source, documents, [])


def _run(folder: str, root: Path) -> tuple[str, str | None]:
    """(output, None) of `kustomize build folder` in `root` (`folder` relative to it, so a relative
    `root` works too), or ("", why it failed)."""
    binary = os.environ.get("GITOPS_AGENT_KUSTOMIZE") or shutil.which("kustomize")
    if not binary:
        return "", "kustomize is not installed here (put it on PATH or set GITOPS_AGENT_KUSTOMIZE)"
    try:
        result = subprocess.run(
            [binary, "build", folder],
            capture_output=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
            cwd=root,
            env=_build_env(),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return "", f"kustomize build did not run: {err}"
    if result.returncode != 0:
        return "", f"kustomize build failed: {_error_message(result.stderr.decode(errors='replace'), root)}"
    if len(result.stdout) > MAX_OUTPUT_BYTES:
        return "", f"kustomize build output is larger than {MAX_OUTPUT_BYTES // (1024 * 1024)} MiB"
    return result.stdout.decode(errors="replace"), None


def _build_env() -> dict[str, str]:
    """kustomize's environment: no proxy or credentials of ours, a PATH, a throwaway HOME."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["HOME"] = env.get("TMPDIR", "/tmp")
    return env


def _error_message(stderr: str, root: Path) -> str:
    """kustomize's own message, one line, with the repository's absolute path taken out.

    A message about a file outside the repository (a `../../etc/x` or an absolute path in a
    generator or a patch, a symlink out of the tree) is replaced by one sentence: kustomize's words
    differ for a host path that exists (`security; file … is not in or below …`) and one that does
    not (`lstat …: no such file or directory`), which would tell a repository's author what the
    agent's host holds."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    message = "; ".join(lines[-3:]) if lines else "no message"
    message = message.removeprefix("Error: ")
    inside = str(root.resolve())
    outside = [p for p in _ABSOLUTE_PATH.findall(message) if not _within(os.path.normpath(p), inside)]
    if outside or _LOAD_RESTRICTOR in message:
        return OUTSIDE_MESSAGE
    return message.replace(f"{inside}/", "").replace(f"{inside}", ".")


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _kustomization_rel(folder: Path, root: Path) -> str:
    found = kustomization_file(folder)
    return (found or folder).relative_to(root).as_posix()


@dataclass(frozen=True)
class _Reference:
    field: str
    """Where in the kustomization, e.g. `resources[2]`."""
    entry: str
    line: int
    column: int


def _references(folder: Path) -> Iterator[_Reference]:
    """Each entry of resources/bases/components in the folder's kustomization, with its position."""
    found = kustomization_file(folder)
    if found is None:
        return
    try:
        documents = load_file(found, multi=False, what="a kustomization")
    except YamlError:
        return  # kustomize reports it, in its own words
    doc = documents[0]
    for name in _REFERENCE_FIELDS:
        entries = doc.data.get(name)
        if isinstance(entries, list):
            for index, entry in enumerate(entries):
                if isinstance(entry, str):
                    mark = doc.mark((name, index), prefer_key=False)
                    yield _Reference(format_path((name, index)), entry, mark.line, mark.column)


def _local_references(folder: Path, root: Path) -> Iterator[Path]:
    """Folders inside the repository (resolved) that the kustomization uses as bases or components."""
    for ref in _references(folder):
        if _REMOTE.match(ref.entry):
            continue
        target = (folder / ref.entry).resolve()
        if target.is_dir() and target.is_relative_to(root.resolve()):
            yield target


def _reference_problems(folder: Path, root: Path, seen: set[Path]) -> Iterator[Problem]:
    """Remote bases and folders outside the repository, here and in every base this one uses."""
    folder = folder.resolve()
    if folder in seen:
        return
    seen.add(folder)
    here = _kustomization_rel(folder, root.resolve())
    for ref in _references(folder):
        if _REMOTE.match(ref.entry):
            why = f"{ref.entry}: remote bases are not supported; vendor the base into the repository"
            yield Problem(here, ref.line, ref.column, ref.field, why)
            continue
        target = (folder / ref.entry).resolve()
        if not target.is_relative_to(root.resolve()):
            why = f"{ref.entry}: leaves the repository; refused"
            yield Problem(here, ref.line, ref.column, ref.field, why)
        elif target.is_dir():
            yield from _reference_problems(target, root, seen)
