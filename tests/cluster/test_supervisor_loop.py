"""The supervisor's loop, one tick at a time: fake processes, a fake clock, no sleeping."""

from __future__ import annotations

import itertools
import signal
from pathlib import Path

import pytest

from minik.cluster import supervisor
from minik.cluster.crashloop import (
    BACKOFF,
    HELD,
    RUNNING,
    STARTING,
    STOPPED,
    WAITING,
    Backoff,
    ComponentState,
)
from minik.cluster.supervisor import ComponentSpec, Plan, Supervisor

_pids = itertools.count(1000)


class FakeProcess:
    """A started component: exits when told to, or when a signal it does not ignore arrives."""

    def __init__(self, spec: ComponentSpec, ignores_sigterm: bool) -> None:
        self.spec = spec
        self.pid = next(_pids)
        self.returncode: int | None = None
        self.signals: list[int] = []
        self.ignores_sigterm = ignores_sigterm

    def poll(self) -> int | None:
        return self.returncode

    def signal(self, signum: int) -> None:
        self.signals.append(signum)
        if self.returncode is None and not (signum == signal.SIGTERM and self.ignores_sigterm):
            self.returncode = -signum


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    def __init__(self, run_dir: Path, names: list[str], ready_checks: frozenset[str] = frozenset()) -> None:
        self.clock = Clock()
        self.started: list[FakeProcess] = []
        self.ready: set[str] = set()
        self.stubborn: set[str] = set()
        specs = [
            ComponentSpec(
                name=n,
                argv=["true"],
                log=str(run_dir / f"{n}.log"),
                ready_tcp_port=1 if n in ready_checks else None,
            )
            for n in names
        ]
        self.supervisor = Supervisor(
            Plan(components=specs, backoff=Backoff(initial=1.0, cap=4.0, reset_after=10.0), stop_grace=5.0),
            run_dir,
            launch=self.launch,
            probe=lambda spec: spec.name in self.ready,
            clock=self.clock,
            wall_clock=lambda: 1_000_000.0 + self.clock.now,
        )

    def launch(self, spec: ComponentSpec) -> FakeProcess:
        process = FakeProcess(spec, ignores_sigterm=spec.name in self.stubborn)
        self.started.append(process)
        return process

    def current(self, name: str) -> FakeProcess:
        return [p for p in self.started if p.spec.name == name][-1]

    def record(self, name: str) -> ComponentState:
        state = supervisor.read_state(self.supervisor.run_dir)
        assert state is not None
        record = state.get(name)
        assert record is not None
        return record

    def tick(self, after: float = 0.0) -> None:
        self.clock.now += after
        self.supervisor.tick()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_components_start_in_order_each_waiting_for_the_previous_ones_readiness(run_dir: Path) -> None:
    h = Harness(
        run_dir, ["etcd", "apiserver", "scheduler", "dns"], ready_checks=frozenset({"etcd", "apiserver"})
    )
    h.tick()
    assert [p.spec.name for p in h.started] == ["etcd"]
    assert h.record("etcd").state == STARTING and h.record("apiserver").state == WAITING
    h.tick(1)
    assert [p.spec.name for p in h.started] == ["etcd"]
    h.ready.add("etcd")
    h.tick(1)
    assert [p.spec.name for p in h.started] == ["etcd", "apiserver"]
    h.ready.add("apiserver")
    h.tick(1)
    # scheduler and dns have no readiness check: both start at once.
    assert [p.spec.name for p in h.started] == ["etcd", "apiserver", "scheduler", "dns"]
    assert all(h.record(n).state == RUNNING for n in ("etcd", "apiserver", "scheduler", "dns"))
    assert all(h.record(n).restarts == 0 for n in ("etcd", "apiserver", "scheduler", "dns"))
    # The pid, then its start time when a process with that number exists (fakes have none).
    assert (run_dir / "scheduler.pid").read_text().split()[0] == str(h.current("scheduler").pid)


def test_a_component_that_never_gets_ready_does_not_block_the_rest_for_ever(run_dir: Path) -> None:
    h = Harness(run_dir, ["etcd", "apiserver"], ready_checks=frozenset({"etcd"}))
    h.tick()
    h.tick(h.supervisor.plan.ready_timeout + 1)
    assert [p.spec.name for p in h.started] == ["etcd", "apiserver"]
    assert h.record("etcd").state == STARTING


def test_a_killed_component_restarts_after_the_backoff_and_the_state_file_says_so(run_dir: Path) -> None:
    h = Harness(run_dir, ["scheduler"])
    h.tick()
    first = h.current("scheduler")
    first.returncode = -signal.SIGKILL
    h.tick(5)
    record = h.record("scheduler")
    assert (record.state, record.pid, record.last_exit_code, record.last_exit_signal) == (
        BACKOFF,
        None,
        137,
        "SIGKILL",
    )
    assert record.next_start == pytest.approx(1_000_000.0 + h.clock.now + 1.0)
    assert not (run_dir / "scheduler.pid").exists()
    h.tick(0.5)
    assert len(h.started) == 1  # still backing off
    h.tick(0.5)
    assert len(h.started) == 2
    record = h.record("scheduler")
    assert (record.state, record.pid, record.restarts) == (RUNNING, h.current("scheduler").pid, 1)
    assert record.last_start == pytest.approx(1_000_000.0 + h.clock.now)


def test_the_delay_grows_for_a_crash_loop_and_resets_after_a_long_run(run_dir: Path) -> None:
    h = Harness(run_dir, ["controller-manager"])
    h.tick()
    delays = []
    for _ in range(4):
        h.current("controller-manager").returncode = 1
        h.tick()
        next_start = h.record("controller-manager").next_start
        assert next_start is not None
        delays.append(next_start - (1_000_000.0 + h.clock.now))
        h.tick(delays[-1])
    assert delays == [1.0, 2.0, 4.0, 4.0]  # doubling, capped at 4 in this plan
    assert h.record("controller-manager").restarts == 4
    h.tick(10)  # it now runs for reset_after
    h.current("controller-manager").returncode = 1
    h.tick()
    assert h.record("controller-manager").next_start == pytest.approx(1_000_000.0 + h.clock.now + 1.0)


def test_a_clean_exit_is_restarted_too(run_dir: Path) -> None:
    h = Harness(run_dir, ["dns"])
    h.tick()
    h.current("dns").returncode = 0
    h.tick()
    assert h.record("dns").state == BACKOFF and h.record("dns").last_exit_code == 0
    h.tick(1)
    assert h.record("dns").state == RUNNING and h.record("dns").restarts == 1


def test_a_held_component_is_stopped_and_stays_stopped_until_released(run_dir: Path) -> None:
    h = Harness(run_dir, ["proxy", "dns"])
    h.tick()
    proxy = h.current("proxy")
    supervisor.hold(run_dir, "proxy")
    h.tick()
    assert proxy.signals == [signal.SIGTERM]
    h.tick()
    assert h.record("proxy").state == HELD
    h.tick(60)
    assert len([p for p in h.started if p.spec.name == "proxy"]) == 1
    assert h.record("dns").state == RUNNING
    supervisor.release(run_dir, "proxy")
    h.tick()
    assert h.current("proxy") is not proxy and h.record("proxy").state == RUNNING


def test_hold_with_kill_sends_sigkill(run_dir: Path) -> None:
    h = Harness(run_dir, ["kubelet-a"])
    h.tick()
    supervisor.hold(run_dir, "kubelet-a", kill=True)
    h.tick()
    h.tick()
    assert h.started[0].signals == [signal.SIGKILL]
    assert h.record("kubelet-a").state == HELD and h.record("kubelet-a").last_exit_signal == "SIGKILL"


def test_a_new_command_line_in_the_plan_applies_at_the_next_start(run_dir: Path) -> None:
    h = Harness(run_dir, ["proxy"])
    plan_file = run_dir / supervisor.PLAN_FILE
    h.supervisor.plan.write(plan_file)
    h.supervisor._plan_mtime = None  # as if the file were new
    h.tick()
    fresh = Plan.read(plan_file)
    fresh.components[0] = ComponentSpec(name="proxy", argv=["proxy", "--proxy-mode", "nftables"], log="x")
    fresh.write(plan_file)
    h.current("proxy").returncode = 1
    h.tick()
    h.tick(1)
    assert h.current("proxy").spec.argv == ["proxy", "--proxy-mode", "nftables"]


def test_shutdown_stops_in_reverse_order_and_kills_what_ignores_sigterm(run_dir: Path) -> None:
    h = Harness(run_dir, ["etcd", "apiserver", "kubelet-a"])
    h.stubborn.add("apiserver")
    h.tick()
    h.supervisor.shutdown(sleep=h.clock.sleep)
    etcd, apiserver, kubelet = (h.current(n) for n in ("etcd", "apiserver", "kubelet-a"))
    assert kubelet.signals == [signal.SIGTERM]
    assert apiserver.signals == [signal.SIGTERM, signal.SIGKILL]
    assert etcd.signals == [signal.SIGTERM]
    assert all(p.returncode is not None for p in h.started)
    assert all(h.record(n).state == STOPPED for n in ("etcd", "apiserver", "kubelet-a"))
    assert h.record("apiserver").last_exit_code == 137
    assert not list(run_dir.glob("*.pid"))
    h.tick(60)
    assert len(h.started) == 3  # a stopped component is not restarted


def test_a_held_component_that_ignores_sigterm_is_killed_after_the_grace_period(run_dir: Path) -> None:
    h = Harness(run_dir, ["kubelet-a"])
    h.stubborn.add("kubelet-a")
    h.tick()
    supervisor.hold(run_dir, "kubelet-a")
    h.tick()
    h.tick(4.9)
    assert h.started[0].signals == [signal.SIGTERM] and h.record("kubelet-a").state == "stopping"
    h.tick(0.2)
    assert h.started[0].signals == [signal.SIGTERM, signal.SIGKILL]
    h.tick()
    assert h.record("kubelet-a").state == HELD


def test_a_command_that_cannot_start_is_retried_with_backoff(run_dir: Path) -> None:
    h = Harness(run_dir, ["dns"])
    attempts: list[float] = []

    def missing_binary(spec: ComponentSpec) -> FakeProcess:
        attempts.append(h.clock.now)
        raise FileNotFoundError(2, "No such file or directory", spec.argv[0])

    h.supervisor.launch = missing_binary
    for _ in range(8):
        h.tick(0.5)
    assert h.record("dns").state == BACKOFF
    assert [b - a for a, b in itertools.pairwise(attempts)] == [1.0, 2.0]


def test_a_tick_that_fails_unexpectedly_is_logged_and_the_loop_goes_on(
    run_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad tick must not run the loop's ``finally`` and stop the whole cluster."""
    h = Harness(run_dir, ["etcd", "scheduler"], ready_checks=frozenset({"etcd"}))
    failures = [RuntimeError("a bug")]

    def probe(spec: ComponentSpec) -> bool:
        if failures:
            raise failures.pop()
        return True

    h.supervisor.probe = probe
    ticks = iter(range(3))
    supervisor.loop(h.supervisor, stopping=lambda: next(ticks, None) is None, sleep=lambda _: None)
    assert "a bug" in caplog.text
    assert [p.spec.name for p in h.started] == ["etcd", "scheduler"]
    assert all(p.returncode is None for p in h.started), "nothing was shut down"
