"""The restart backoff policy and the supervisor's state file (pure: no processes, no sleeping)."""

from __future__ import annotations

import signal
from pathlib import Path

from minik.cluster.crashloop import (
    BACKOFF,
    RUNNING,
    Backoff,
    ComponentState,
    StateFile,
    SupervisorState,
    exit_status,
)


def test_the_delay_doubles_from_the_initial_wait_up_to_the_cap() -> None:
    policy = Backoff(initial=1.0, cap=30.0, reset_after=60.0)
    assert [policy.delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_very_long_crash_loop_stays_at_the_cap() -> None:
    assert Backoff(initial=1.0, cap=30.0).delay(10_000) == 30.0


def test_no_crash_means_no_delay() -> None:
    assert Backoff().delay(0) == 0.0


def test_the_defaults_are_a_learning_clusters_not_the_kubelets() -> None:
    policy = Backoff()
    assert (policy.initial, policy.cap, policy.reset_after) == (1.0, 30.0, 60.0)


def test_crashes_count_up_while_the_process_dies_young() -> None:
    policy = Backoff(reset_after=60.0)
    crashes = 0
    for _ in range(4):
        crashes = policy.crashes_in_a_row(crashes, ran_for=2.0)
    assert crashes == 4
    assert policy.delay(crashes) == 8.0


def test_a_process_that_ran_long_enough_starts_over_at_the_initial_delay() -> None:
    policy = Backoff(initial=1.0, cap=30.0, reset_after=60.0)
    assert policy.crashes_in_a_row(7, ran_for=60.0) == 1
    assert policy.delay(policy.crashes_in_a_row(7, ran_for=600.0)) == 1.0
    assert policy.crashes_in_a_row(7, ran_for=59.9) == 8


def test_exit_status_reports_signals_as_shells_do() -> None:
    assert exit_status(0) == (0, None)
    assert exit_status(1) == (1, None)
    assert exit_status(-signal.SIGKILL) == (137, "SIGKILL")
    assert exit_status(-signal.SIGTERM) == (143, "SIGTERM")


def test_describe_exit() -> None:
    assert ComponentState("etcd").describe_exit() == ""
    assert ComponentState("etcd", last_exit_code=1).describe_exit() == "1"
    assert (
        ComponentState("etcd", last_exit_code=137, last_exit_signal="SIGKILL").describe_exit()
        == "137 (SIGKILL)"
    )


def test_the_state_file_round_trips_every_field(tmp_path: Path) -> None:
    path = tmp_path / "run" / "supervisor-state.json"
    state = SupervisorState(
        supervisor_pid=42,
        components=[
            ComponentState("etcd", state=RUNNING, pid=100, last_start=1000.0),
            ComponentState(
                "scheduler",
                state=BACKOFF,
                restarts=3,
                crashes_in_a_row=2,
                last_start=1001.0,
                last_exit=1002.5,
                last_exit_code=1,
                next_start=1004.5,
            ),
        ],
    )
    StateFile(path).write(state)
    assert StateFile(path).read() == state
    assert [p.name for p in path.parent.iterdir()] == ["supervisor-state.json"]  # no temporary left


def test_a_missing_or_broken_state_file_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "supervisor-state.json"
    assert StateFile(path).read() is None
    path.write_text('{"components": [{"nam')
    assert StateFile(path).read() is None
    path.write_text('{"components": [{"no name": 1}]}')
    assert StateFile(path).read() is None


def test_fields_a_newer_minik_adds_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "supervisor-state.json"
    path.write_text('{"supervisor_pid": 7, "components": [{"name": "dns", "restarts": 2, "future": true}]}')
    state = StateFile(path).read()
    assert state is not None and state.get("dns") == ComponentState("dns", restarts=2)
    assert state.get("nope") is None
