"""Starting and stopping the cluster's processes so that none outlives the process that started it.

Three layers, because tests crash in every possible way:
1. `stop()` on normal exit (fixture teardown, context manager, atexit);
2. PR_SET_PDEATHSIG: the kernel SIGKILLs each child when its parent dies, even by SIGKILL;
3. a pid file per cluster directory: a later start reaps processes left by an earlier run, checked
   against /proc/<pid>/exe so a recycled pid of an unrelated process is never killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
PID_FILE_NAME = "pids"


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGKILL this child when the parent process exits."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ManagedProcess:
    """One running component with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; always reaps the child."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the component's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(name: str, argv: Sequence[str], *, log_dir: Path, pid_file: Path) -> ManagedProcess:
    """Start `argv` with output to `log_dir/name.log`, recorded in `pid_file`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    # Record the resolved executable: reap_stale compares it with /proc/<pid>/exe.
    executable = os.path.realpath(shutil.which(argv[0]) or argv[0])
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [executable, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # The only way to set PDEATHSIG. It is tied to the *thread* that forks: start clusters
            # from a thread that outlives them (the main thread in tests and the demo).
            preexec_fn=_die_with_parent,  # noqa: PLW1509
            start_new_session=True,
        )
    with pid_file.open("a") as pids:
        pids.write(f"{popen.pid} {executable}\n")
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def _exe_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def reap_stale(pid_file: Path, *, timeout: float = 10.0) -> list[int]:
    """Kill processes recorded in `pid_file` by an earlier run that are still running that binary."""
    if not pid_file.exists():
        return []
    stale: list[int] = []
    for line in pid_file.read_text().splitlines():
        pid_text, _, exe = line.partition(" ")
        if pid_text.isdigit() and _exe_of(int(pid_text)) == exe:
            stale.append(int(pid_text))
    for pid in stale:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_exe_of(pid) for pid in stale):
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return stale
