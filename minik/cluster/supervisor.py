"""The local cluster's supervisor: one process that owns every component and restarts it.

``make up`` used to start each component in the background and exit; nothing noticed a
component that died, so a scheduler that lost its lease (it exits on purpose, "so a
supervisor restarts this instance as a standby", as upstream's does) stopped the cluster
for good. Upstream never runs a bare process: a control plane is static pods that the
kubelet restarts, or systemd units. minik's ``make up`` now starts this supervisor in the
background, and the supervisor starts the components as its children:

* **In order, the first time.** etcd, then the apiserver, then the rest: a component with
  a readiness check (etcd: its port answers; apiserver: ``/readyz``) must pass it before
  the next one starts, so a clean ``make up`` restarts nothing. After that every
  component lives on its own; the others retry their connections meanwhile.
* **Restarted when they exit**, whatever the exit status (the kubelet's ``restartPolicy:
  Always``), after the :class:`~minik.cluster.crashloop.Backoff` delay: 1 s doubling to
  30 s, reset once a component ran for 60 s.
* **Recorded** in ``run/supervisor-state.json`` (state, pid, restarts, last exit code and
  signal, last start) — ``minikctl cluster status`` prints it — and ``logs/supervisor.log``
  says what happened when.
* **Stopped cleanly**: on SIGTERM (``make down``) the supervisor stops the components in
  the reverse of their start order, each with SIGTERM to its process group and SIGKILL
  after the grace period, then exits. Each component runs in its own session, so a
  process it started goes with it.
* **Held on request**: a file ``run/hold/<name>`` (written by :func:`hold`) stops that
  component and keeps it stopped until the file goes (:func:`release`) — how
  ``restart_proxy`` switches the proxy's mode, and how a test keeps a node down.

Why one supervisor process rather than a wrapper per component: one place knows every
component (``status`` reads one file), the start order lives in one loop, and ``down``
has one process to signal. The price is a single point: if the supervisor itself is
killed, its components keep running unsupervised; ``down`` still stops them (by their
pid files), and ``up`` replaces them with supervised ones.

The loop polls (every 0.2 s) instead of waiting for SIGCHLD: simpler to read, and a
fifth of a second is nothing next to the restart delay.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from minik.cluster import pidfile
from minik.cluster.crashloop import (
    BACKOFF,
    HELD,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    WAITING,
    Backoff,
    ComponentState,
    StateFile,
    SupervisorState,
    exit_status,
)

log = logging.getLogger("minik.supervisor")

PLAN_FILE = "supervisor-plan.json"
STATE_FILE = "supervisor-state.json"
PID_FILE = "supervisor.pid"
HOLD_DIR = "hold"
TICK = 0.2


# -- what to run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentSpec:
    """One component: its command line, its log, and how to tell that it is ready."""

    name: str
    argv: list[str]
    log: str
    cwd: str | None = None
    ready_tcp_port: int | None = None  # ready once 127.0.0.1:<port> accepts a connection
    ready_url: str | None = None  # ready once this URL answers 200 (https: verified with ready_ca)
    ready_ca: str | None = None

    @property
    def has_readiness_check(self) -> bool:
        return self.ready_tcp_port is not None or self.ready_url is not None


@dataclass
class Plan:
    """Everything the supervisor runs, in start order, and how it restarts and stops them."""

    components: list[ComponentSpec]
    backoff: Backoff = field(default_factory=Backoff)
    stop_grace: float = 10.0  # SIGTERM, then SIGKILL after this many seconds
    ready_timeout: float = 90.0  # start the next component anyway after this long

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(asdict(self), indent=1) + "\n")
        os.replace(temporary, path)

    @classmethod
    def read(cls, path: Path) -> Plan:
        raw: Any = json.loads(path.read_text())
        return cls(
            components=[ComponentSpec(**c) for c in raw["components"]],
            backoff=Backoff(**raw.get("backoff", {})),
            stop_grace=float(raw.get("stop_grace", 10.0)),
            ready_timeout=float(raw.get("ready_timeout", 90.0)),
        )


# -- how to run it (injectable, so the loop is tested without processes or sleeping) ------------


class Handle(Protocol):
    """A started component."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None:
        """The ``Popen`` return code once it exited (negative: killed by that signal)."""
        ...

    def signal(self, signum: int) -> None: ...


class ProcessHandle:
    """A real child process, alone in its own session and process group."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def signal(self, signum: int) -> None:
        # The whole group: whatever the component started goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def start_process(spec: ComponentSpec) -> Handle:
    with open(spec.log, "ab") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=spec.cwd,
        )
    return ProcessHandle(process)


def is_ready(spec: ComponentSpec) -> bool:
    """The component's readiness check (a component without one is ready once started)."""
    try:
        if spec.ready_tcp_port is not None:
            with socket.create_connection(("127.0.0.1", spec.ready_tcp_port), timeout=0.5):
                pass
        if spec.ready_url is not None:
            context = ssl.create_default_context(cafile=spec.ready_ca) if spec.ready_ca else None
            with urllib.request.urlopen(spec.ready_url, context=context, timeout=1) as response:
                return bool(response.status == 200)
    except (OSError, ValueError, http.client.HTTPException):
        return False  # HTTPException: a server that closed or garbled its answer
    return True


# -- the loop ----------------------------------------------------------------------------------


class Supervisor:
    """Starts, watches, restarts and stops the plan's components; one :meth:`tick` at a time."""

    def __init__(
        self,
        plan: Plan,
        run_dir: Path,
        *,
        launch: Callable[[ComponentSpec], Handle] = start_process,
        probe: Callable[[ComponentSpec], bool] = is_ready,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.launch = launch
        self.probe = probe
        self.clock = clock
        self.wall_clock = wall_clock
        self.state = SupervisorState(
            supervisor_pid=os.getpid(), components=[ComponentState(c.name) for c in plan.components]
        )
        self.state_file = StateFile(run_dir / STATE_FILE)
        self.handles: dict[str, Handle] = {}
        self.started_at: dict[str, float] = {}  # monotonic
        self.restart_at: dict[str, float] = {}  # monotonic, while in backoff
        self.kill_at: dict[str, float] = {}  # monotonic, while stopping
        self.ready_by: dict[str, float] = {}  # monotonic deadline of the first readiness check
        self.sequenced: set[str] = set()  # passed (or gave up on) the first readiness check
        self._written: dict[str, Any] | None = None
        self._plan_mtime = self._plan_file_mtime()

    # -- one step ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Look at every component once: collect exits, apply holds, start what is due."""
        self._reload_plan_if_changed()
        for name, handle in list(self.handles.items()):
            returncode = handle.poll()
            if returncode is not None:
                self._exited(name, returncode)
        held = self._held()
        now = self.clock()
        in_sequence = True  # the first start walks the plan in order
        for spec in self.plan.components:
            record = self._record(spec.name)
            if spec.name in held:
                self._hold(spec.name, kill=held[spec.name] == "KILL")
            elif record.state == HELD:
                log.info("%s: released; starting it", spec.name)
                self._start(spec)
            elif self._due(spec.name, now, in_sequence):
                self._start(spec)
            if record.state == STARTING and self.probe(spec):
                record.state = RUNNING
                if spec.name not in self.sequenced:
                    log.info("%s: ready", spec.name)
                self.sequenced.add(spec.name)
            if record.state == STOPPING and now > self.kill_at.get(spec.name, now):
                self._signal(spec.name, signal.SIGKILL)
            if spec.name not in self.sequenced:
                if record.state == HELD:
                    self.sequenced.add(spec.name)  # a held component does not block the others
                elif record.state == STARTING and now >= self.ready_by.get(spec.name, now):
                    log.warning(
                        "%s: not ready after %.0fs; starting the next ones",
                        spec.name,
                        self.plan.ready_timeout,
                    )
                    self.sequenced.add(spec.name)
                else:
                    in_sequence = False
        self._write_state()

    def _due(self, name: str, now: float, in_sequence: bool) -> bool:
        """Start it now? The first time: when its turn in the start order comes; after an
        exit: when its backoff delay is over."""
        state = self._record(name).state
        if state == WAITING:
            return in_sequence
        return state == BACKOFF and now >= self.restart_at.get(name, now)

    def shutdown(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Stop every component, last started first: SIGTERM, then SIGKILL after the grace."""
        for spec in reversed(self.plan.components):
            handle = self.handles.get(spec.name)
            if handle is not None:
                log.info("%s: stopping (pid %d)", spec.name, handle.pid)
                self._record(spec.name).state = STOPPING
                self._write_state()
                self._signal(spec.name, signal.SIGTERM)
                deadline = self.clock() + self.plan.stop_grace
                while handle.poll() is None and self.clock() < deadline:
                    sleep(0.05)
                if handle.poll() is None:
                    log.warning("%s: still running after %.0fs; SIGKILL", spec.name, self.plan.stop_grace)
                    self._signal(spec.name, signal.SIGKILL)
                    deadline = self.clock() + 5.0
                    while handle.poll() is None and self.clock() < deadline:
                        sleep(0.05)
                returncode = handle.poll()
                self._exited(spec.name, -signal.SIGKILL if returncode is None else returncode)
            self._record(spec.name).state = STOPPED
            self._record(spec.name).next_start = None
        self._write_state()

    # -- transitions ------------------------------------------------------------------------

    def _start(self, spec: ComponentSpec) -> None:
        record = self._record(spec.name)
        first = record.last_start is None
        try:
            handle = self.launch(spec)
        except OSError as exc:  # e.g. the binary is gone: count it as a crash, try again later
            log.error("%s: cannot start: %s", spec.name, exc)
            self._schedule_restart(spec.name, ran_for=0.0)
            return
        now = self.clock()
        self.handles[spec.name] = handle
        self.started_at[spec.name] = now
        self.restart_at.pop(spec.name, None)
        if not first:
            record.restarts += 1
        record.pid = handle.pid
        record.last_start = self.wall_clock()
        record.next_start = None
        record.state = STARTING if spec.has_readiness_check else RUNNING
        if spec.name not in self.sequenced:
            self.ready_by.setdefault(spec.name, now + self.plan.ready_timeout)
            if not spec.has_readiness_check:
                self.sequenced.add(spec.name)
        pidfile.write(self._pid_file(spec.name), handle.pid)
        log.info(
            "%s: started (pid %d%s)", spec.name, handle.pid, "" if first else f", restart {record.restarts}"
        )

    def _exited(self, name: str, returncode: int) -> None:
        handle = self.handles.pop(name)
        record = self._record(name)
        code, signal_name = exit_status(returncode)
        record.pid = None
        record.last_exit = self.wall_clock()
        record.last_exit_code = code
        record.last_exit_signal = signal_name
        self._pid_file(name).unlink(missing_ok=True)
        self.kill_at.pop(name, None)
        ran_for = self.clock() - self.started_at.pop(name, self.clock())
        if record.state == STOPPING:
            log.info("%s: stopped (pid %d, exit %s)", name, handle.pid, record.describe_exit())
            if name in self._held():
                record.state = HELD
            else:  # released while it was stopping (or shutting down: shutdown() says STOPPED)
                self.restart_at[name] = self.clock()
                record.state = BACKOFF
            return
        self._schedule_restart(name, ran_for)
        log.warning(
            "%s: exited (pid %d, exit %s) after %.1fs; restarting in %.0fs",
            name,
            handle.pid,
            record.describe_exit(),
            ran_for,
            self.restart_at[name] - self.clock(),
        )

    def _schedule_restart(self, name: str, ran_for: float) -> None:
        record = self._record(name)
        record.crashes_in_a_row = self.plan.backoff.crashes_in_a_row(record.crashes_in_a_row, ran_for)
        delay = self.plan.backoff.delay(record.crashes_in_a_row)
        self.restart_at[name] = self.clock() + delay
        record.next_start = self.wall_clock() + delay
        record.state = BACKOFF

    def _hold(self, name: str, *, kill: bool) -> None:
        record = self._record(name)
        if name in self.handles:
            if record.state != STOPPING:
                log.info("%s: held; stopping it (%s)", name, "SIGKILL" if kill else "SIGTERM")
                record.state = STOPPING
                self._signal(name, signal.SIGKILL if kill else signal.SIGTERM)
                self.kill_at[name] = self.clock() + (0.0 if kill else self.plan.stop_grace)
        elif record.state != HELD:
            log.info("%s: held", name)
            record.state = HELD
            record.next_start = None
            self.restart_at.pop(name, None)

    def _signal(self, name: str, signum: int) -> None:
        handle = self.handles.get(name)
        if handle is not None:
            handle.signal(signum)

    # -- files ------------------------------------------------------------------------------

    def _record(self, name: str) -> ComponentState:
        record = self.state.get(name)
        assert record is not None, name
        return record

    def _held(self) -> dict[str, str]:
        """``run/hold/<name>`` → ``"KILL"`` or ``"TERM"``: how to stop it."""
        directory = self.run_dir / HOLD_DIR
        if not directory.is_dir():
            return {}
        held: dict[str, str] = {}
        for marker in directory.iterdir():
            with contextlib.suppress(OSError):
                held[marker.name] = "KILL" if marker.read_text().strip() == "KILL" else "TERM"
        return held

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _write_state(self) -> None:
        snapshot = asdict(self.state)
        if snapshot != self._written:
            self.state_file.write(self.state)
            self._written = snapshot

    def _plan_file_mtime(self) -> float | None:
        with contextlib.suppress(OSError):
            return (self.run_dir / PLAN_FILE).stat().st_mtime
        return None

    def _reload_plan_if_changed(self) -> None:
        """A new command line for a component (``restart_proxy``) applies at its next start."""
        mtime = self._plan_file_mtime()
        if mtime is None or mtime == self._plan_mtime:
            return
        self._plan_mtime = mtime
        try:
            fresh = Plan.read(self.run_dir / PLAN_FILE)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("cannot read the new plan: %s; keeping the old one", exc)
            return
        by_name = {c.name: c for c in fresh.components}
        self.plan.components[:] = [by_name.get(c.name, c) for c in self.plan.components]


# -- the process, and how the local cluster talks to it -----------------------------------------


def run(run_dir: Path) -> int:
    """Supervise ``run_dir/supervisor-plan.json`` until SIGTERM or SIGINT."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            log.info("%s: stopping every component", signal.Signals(signum).name)
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    supervisor = Supervisor(Plan.read(run_dir / PLAN_FILE), run_dir)
    pidfile.write(run_dir / PID_FILE, os.getpid())
    log.info("supervising %s", ", ".join(c.name for c in supervisor.plan.components))
    try:
        loop(supervisor, lambda: stopping)
    finally:
        supervisor.shutdown()
        (run_dir / PID_FILE).unlink(missing_ok=True)
        log.info("stopped")
    return 0


def loop(
    supervisor: Supervisor, stopping: Callable[[], bool], sleep: Callable[[float], None] = time.sleep
) -> None:
    """Tick until ``stopping()``; an unexpected error in one tick is logged, never fatal.

    The caller's ``finally`` stops every component, so letting a bug in one tick (a state
    file that cannot be written, say) escape would take the whole cluster down with it.
    """
    while not stopping():
        try:
            supervisor.tick()
        except Exception:
            log.exception("one pass of the supervisor failed; carrying on")
        sleep(TICK)


def launch(run_dir: Path, log_file: Path) -> int:
    """Start the supervisor in the background (its own session, like a daemon) → its pid."""
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "minik.cluster.supervisor", "--run-dir", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write(run_dir / PID_FILE, process.pid)
    return process.pid


def running_pid(run_dir: Path) -> int | None:
    """The supervisor's pid if it runs (a stale pid file, say after a reboot, is removed)."""
    return pidfile.read(run_dir / PID_FILE, expect=str(run_dir))


def _alive(pid: int) -> bool:
    return pidfile.is_alive(pid)


def stop(run_dir: Path, timeout: float) -> bool:
    """SIGTERM the supervisor and wait until it stopped its components and exited.

    Returns ``False`` when it had to be killed (its components may then still run).
    """
    pid = running_pid(run_dir)
    if pid is None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):  # the process, not its pid file: that goes a moment before it exits
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    (run_dir / PID_FILE).unlink(missing_ok=True)
    return False


def read_state(run_dir: Path) -> SupervisorState | None:
    return StateFile(run_dir / STATE_FILE).read()


def hold(run_dir: Path, name: str, *, kill: bool = False) -> None:
    """Stop ``name`` (SIGTERM, or SIGKILL with ``kill``) and keep it stopped."""
    directory = run_dir / HOLD_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text("KILL\n" if kill else "TERM\n")


def release(run_dir: Path, name: str) -> None:
    """Let the supervisor start ``name`` again (with the plan's current command line)."""
    (run_dir / HOLD_DIR / name).unlink(missing_ok=True)


def wait_for_state(run_dir: Path, name: str, states: set[str], timeout: float) -> ComponentState:
    """Wait until ``name`` is in one of ``states`` → its record (``TimeoutError`` otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(run_dir)
        record = state.get(name) if state else None
        if record is not None and record.state in states:
            return record
        if time.monotonic() > deadline:
            seen = record.state if record else "no record"
            raise TimeoutError(f"{name} not {'/'.join(sorted(states))} after {timeout:.0f}s ({seen})")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="minik-supervisor", description="Run, restart and stop the local cluster's components."
    )
    parser.add_argument(
        "--run-dir", type=Path, required=True, help=f"where {PLAN_FILE} is; state goes there too"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    sys.exit(run(args.run_dir))


if __name__ == "__main__":
    main()
