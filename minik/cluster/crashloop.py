"""What the supervisor remembers about each component: the restart backoff and the state file.

Two small, pure pieces, kept apart from the process juggling in
:mod:`minik.cluster.supervisor` so that they can be read (and tested) on their own:

* :class:`Backoff` — *when* to start a component again after it exited. It is the
  kubelet's CrashLoopBackOff: the first restart waits ``initial``, each further crash in
  a row doubles the wait up to ``cap``, and a process that ran for ``reset_after``
  before it exited counts as healthy again (the next crash waits ``initial``). The
  kubelet uses 10 s, doubling to 5 min, reset after 10 min; a learning cluster wants
  ``kill -9`` to heal while you watch, so minik's defaults are 1 s doubling to 30 s,
  reset after 60 s (twice the cap, the kubelet's ratio).
* :class:`ComponentState` and :class:`StateFile` — *what happened*: for each component
  its state, pid, restart count, last exit code (and signal) and last start, written as
  JSON to ``$MINIK_HOME/run/supervisor-state.json`` after every change, atomically
  (write a temporary file, then rename), so ``minikctl cluster status`` never reads half
  a file.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: A component's life cycle, as ``minikctl cluster status`` shows it.
WAITING = "waiting"  # not started yet: an earlier component is not ready
STARTING = "starting"  # started, its readiness check has not passed yet
RUNNING = "running"
BACKOFF = "crash-loop-backoff"  # exited; started again at ``next_start``
STOPPING = "stopping"  # SIGTERM sent, SIGKILL after the grace period
HELD = "held"  # stopped on request (``minik.cluster.local.hold``); not restarted
STOPPED = "stopped"  # the supervisor stopped it on shutdown


@dataclass(frozen=True)
class Backoff:
    """The restart delay policy (seconds). Pure: callers pass in the times."""

    initial: float = 1.0
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        """The wait before restart number ``crashes_in_a_row`` (1 = the first crash)."""
        if crashes_in_a_row < 1:
            return 0.0
        # min() before the power would overflow for a long crash loop; the cap wins anyway.
        exponent = min(crashes_in_a_row - 1, 32)
        return float(min(self.cap, self.initial * 2**exponent))

    def crashes_in_a_row(self, previous: int, ran_for: float) -> int:
        """The crash count after a process that ran ``ran_for`` seconds exited."""
        return 1 if ran_for >= self.reset_after else previous + 1


def exit_status(returncode: int) -> tuple[int, str | None]:
    """A ``Popen.returncode`` as a shell would report it: (code, signal name or None).

    ``Popen`` gives ``-9`` for a process killed by SIGKILL; shells, Docker and the
    kubelet all say exit code 137 (128 + 9). minik says the same, and names the signal.
    """
    if returncode >= 0:
        return returncode, None
    number = -returncode
    try:
        name: str | None = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return 128 + number, name


@dataclass
class ComponentState:
    """One component's record in the state file (times are wall-clock epoch seconds)."""

    name: str
    state: str = WAITING
    pid: int | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    last_start: float | None = None
    last_exit: float | None = None
    last_exit_code: int | None = None
    last_exit_signal: str | None = None
    next_start: float | None = None

    def describe_exit(self) -> str:
        """``137 (SIGKILL)``, ``1``, or ``""`` when it never exited."""
        if self.last_exit_code is None:
            return ""
        if self.last_exit_signal:
            return f"{self.last_exit_code} ({self.last_exit_signal})"
        return str(self.last_exit_code)


@dataclass
class SupervisorState:
    """The whole state file: who supervises, and every component in start order."""

    supervisor_pid: int | None = None
    components: list[ComponentState] = field(default_factory=list)

    def get(self, name: str) -> ComponentState | None:
        return next((c for c in self.components if c.name == name), None)


class StateFile:
    """``supervisor-state.json``: written whole and atomically, read leniently."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, state: SupervisorState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(asdict(state), indent=1) + "\n")
        os.replace(temporary, self.path)  # a reader sees the old file or the new one

    def read(self) -> SupervisorState | None:
        """The last state written, or ``None`` when there is none (or it is unreadable)."""
        try:
            raw: Any = json.loads(self.path.read_text())
            known = set(ComponentState.__dataclass_fields__)
            components = [
                ComponentState(**{k: v for k, v in c.items() if k in known}) for c in raw["components"]
            ]
            return SupervisorState(supervisor_pid=raw.get("supervisor_pid"), components=components)
        except (OSError, ValueError, KeyError, TypeError):
            return None
