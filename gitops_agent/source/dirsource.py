"""The directory source: a plain local folder, for the fast edit-and-see loop and mounted ConfigMaps.

No git is involved: the snapshot is the folder itself, its commit is "local", and its time is the
newest modification time found in it. Because the folder can change at any moment, `content_hash()`
lets a caller notice real changes to deployment files cheaply, without re-running the pipeline.
Hidden files and directories (`.git`, the `..data` links of a mounted ConfigMap) are skipped.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from gitops_agent.core.errors import SourceError
from gitops_agent.core.triggers import Fire, TriggerKind
from gitops_agent.source.snapshot import LOCAL_COMMIT, Snapshot, normalize_sub_path, resolve_sub_path

HASHED_SUFFIXES = (".yaml", ".yml", ".json")


class DirSource:
    """A local directory read in place; nothing is copied."""

    def __init__(self, path: Path, *, sub_path: str = "") -> None:
        self._root = path.expanduser().absolute()
        self._sub_path = normalize_sub_path(sub_path)

    @property
    def root(self) -> Path:
        """The directory given (before the sub-path)."""
        return self._root

    def describe(self) -> str:
        """`directory PATH (path SUB)`."""
        text = f"directory {self._root}"
        return f"{text} (path {self._sub_path})" if self._sub_path else text

    def fetch(self) -> Snapshot:
        """The folder as it is now; a missing folder may come back (a volume mount), so retryable."""
        path = self._content_dir()
        return Snapshot(
            commit=LOCAL_COMMIT,
            path=path,
            author="",
            message="",
            time=_newest_mtime(path),
            ref=str(self._root),
        )

    def version(self, snapshot: Snapshot) -> str:
        """A directory changes under the same name: its content hash tells one state from another."""
        return self.content_hash()

    def change_trigger(self) -> FileWatch:
        return FileWatch(self._root)

    def content_hash(self) -> str:
        """sha256 over the relative path and bytes of every *.yaml, *.yml and *.json file."""
        path = self._content_dir()
        digest = hashlib.sha256()
        for file in _files(path):
            if not file.name.lower().endswith(HASHED_SUFFIXES):
                continue
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                continue  # deleted while we walked; the next call sees the new state
            except OSError as err:
                raise SourceError(f"cannot read {file}: {err}") from err
            name = file.relative_to(path).as_posix().encode()
            # length prefixes keep ("a", "bc") and ("ab", "c") apart
            digest.update(len(name).to_bytes(8, "big") + name)
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.hexdigest()

    def _content_dir(self) -> Path:
        if not self._root.is_dir():
            raise SourceError(f"directory {self._root} does not exist")
        return resolve_sub_path(self._root, self._sub_path, where=f"directory {self._root}")


class FileWatch:
    """Fires when a file under the directory changes (debounced), via watchfiles."""

    kind = TriggerKind.FILE_CHANGE

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, fire: Fire, stop: threading.Event) -> None:
        import watchfiles

        for _ in watchfiles.watch(
            self.root, stop_event=stop, debounce=200, step=50, rust_timeout=1000, yield_on_timeout=False
        ):
            fire(self.kind)


def _files(root: Path) -> Iterator[Path]:
    """Non-hidden files below `root` in a stable order (symlinked files are followed, dirs not)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _newest_mtime(root: Path) -> datetime:
    """Newest mtime of the files and directories (a deletion only shows on its directory)."""
    newest = root.stat().st_mtime
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in [*dirnames, *filenames]:
            if name.startswith("."):
                continue
            try:
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                continue  # vanished or a dangling symlink
    return datetime.fromtimestamp(newest, tz=UTC)
