"""Pid files that name *our* process, not whatever process has that number now.

A pid file outlives its process: after a reboot without ``make down`` (or a supervisor
that was killed) ``run/<name>.pid`` still names a number the kernel has since handed to
an unrelated process. Signalling it then would stop someone else's program — worse,
``killpg`` would stop its whole process group. So a pid file records the process's start
time too (field 22 of ``/proc/<pid>/stat``, clock ticks since boot): a pid is ours only
while the process with that number started at that moment. The pair is unique on a
machine until the next reboot, and after a reboot no process has the old start time.

A pid file without a start time (written by an older minik, or by hand) is trusted only
when the process's command line mentions ``expect`` (the cluster's home directory, which
every component's command line names).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or ``None`` if no such process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22; the list starts at field 3
    except (IndexError, ValueError):
        return None


def command_line(pid: int) -> str:
    """``pid``'s arguments joined by spaces ("" when unreadable)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def write(path: Path, pid: int) -> None:
    """Record ``pid`` and its start time in ``path``."""
    started = start_time(pid)
    path.write_text(f"{pid}\n" if started is None else f"{pid} {started}\n")


def read(path: Path, *, expect: str | None = None) -> int | None:
    """The pid in ``path`` if that process still runs and is the one recorded; else ``None``.

    A stale or unreadable file is removed, so nothing later signals its number.
    """
    try:
        words = path.read_text().split()
    except OSError:
        return None
    pid = _owned(words, expect)
    if pid is None:
        path.unlink(missing_ok=True)
    return pid


def _owned(words: list[str], expect: str | None) -> int | None:
    try:
        pid = int(words[0])
        recorded = int(words[1]) if len(words) > 1 else None
    except (IndexError, ValueError):
        return None
    if pid <= 0 or not is_alive(pid):
        return None
    if not PROC.joinpath("self", "stat").exists():
        return pid  # no /proc to check against: trust the file, as before
    if recorded is not None:
        return pid if start_time(pid) == recorded else None
    if expect and expect in command_line(pid):
        return pid
    return None


def is_alive(pid: int) -> bool:
    """Does ``pid`` run? (If it is our exited child, collect it: a zombie still answers kill 0.)"""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
