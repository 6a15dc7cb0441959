"""Pid files name our processes only: a stale one (its number reused, say after a reboot)
is removed and its process left alone by ``up``'s and ``down``'s cleanup."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minik.cluster import local, pidfile, supervisor
from minik.cluster.local import Layout


@pytest.fixture()
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process, not a group leader (as a reused pid usually is not)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait(5)


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / "home")
    layout.run.mkdir(parents=True)
    return layout


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait(5)
    return proc.pid


def test_a_pid_file_from_before_a_reboot_names_nobody(
    layout: Layout, stranger: subprocess.Popen[bytes]
) -> None:
    """The number runs, but the process started at another time: not ours."""
    started = pidfile.start_time(stranger.pid)
    assert started is not None
    path = layout.pid_file("scheduler")
    path.write_text(f"{stranger.pid} {started + 1}\n")
    assert pidfile.read(path) is None
    assert not path.exists()


def test_stop_leaves_an_unrelated_process_alone_and_removes_the_stale_file(
    layout: Layout, stranger: subprocess.Popen[bytes]
) -> None:
    for name, text in [("scheduler", f"{stranger.pid}\n"), ("dns", f"{stranger.pid} 1\n")]:
        layout.pid_file(name).write_text(text)
        local._stop(layout, name, timeout=1)
        assert stranger.poll() is None, f"{name}: an unrelated process was signalled"
        assert not layout.pid_file(name).exists()


def test_stop_with_a_dead_pid_just_removes_the_file(layout: Layout) -> None:
    layout.pid_file("proxy").write_text(f"{dead_pid()}\n")
    local._stop(layout, "proxy", timeout=1)
    assert not layout.pid_file("proxy").exists()


def test_stop_stops_our_own_component(layout: Layout) -> None:
    ours = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pidfile.write(layout.pid_file("scheduler"), ours.pid)
        assert local._running_pid(layout, "scheduler") == ours.pid
        local._stop(layout, "scheduler", timeout=5)
        assert ours.wait(5) is not None
        assert not layout.pid_file("scheduler").exists()
    finally:
        ours.kill()
        ours.wait(5)


def test_a_legacy_pid_file_is_trusted_when_the_command_line_names_the_home(layout: Layout) -> None:
    named = subprocess.Popen(["sh", "-c", 'sleep 60; : "$0"', str(layout.home)], start_new_session=True)
    try:
        deadline = time.monotonic() + 5  # Popen may return before the child's exec
        while str(layout.home) not in pidfile.command_line(named.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        path = layout.pid_file("etcd")
        path.write_text(f"{named.pid}\n")
        assert pidfile.read(path, expect=str(layout.home)) == named.pid
    finally:
        named.kill()
        named.wait(5)


def test_a_stale_supervisor_pid_file_is_no_running_supervisor(
    layout: Layout, stranger: subprocess.Popen[bytes]
) -> None:
    """``up`` must not say "already runs", and ``down`` must not signal the stranger."""
    (layout.run / supervisor.PID_FILE).write_text(f"{stranger.pid}\n")
    assert supervisor.running_pid(layout.run) is None
    assert not (layout.run / supervisor.PID_FILE).exists()
    (layout.run / supervisor.PID_FILE).write_text(f"{stranger.pid}\n")
    assert supervisor.stop(layout.run, timeout=1)
    assert stranger.poll() is None
