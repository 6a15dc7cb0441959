"""What `make up` says at its end about the supervised components (from the state file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minik.cluster import local
from minik.cluster.crashloop import BACKOFF, HELD, RUNNING, ComponentState, StateFile, SupervisorState
from minik.cluster.supervisor import STATE_FILE


def layout_with(tmp_path: Path, *components: ComponentState) -> local.Layout:
    layout = local.Layout(tmp_path)
    layout.logs.mkdir()
    for c in components:
        layout.log_file(c.name).write_text(f"{c.name} line 1\n{c.name} says goodbye\n")
    StateFile(layout.run / STATE_FILE).write(SupervisorState(supervisor_pid=1, components=list(components)))
    return layout


def test_all_running_passes_and_names_restarts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = layout_with(
        tmp_path,
        ComponentState("etcd", state=RUNNING),
        ComponentState("scheduler", state=RUNNING, restarts=2, last_exit_code=1),
        ComponentState("proxy", state=HELD),
    )
    local._check_alive(layout)
    out = capsys.readouterr().out
    assert "scheduler was restarted 2 time(s), last exit 1" in out
    assert "minikctl cluster start proxy" in out
    assert "etcd" not in out


def test_a_crash_looping_component_fails_up_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = layout_with(
        tmp_path,
        ComponentState("etcd", state=RUNNING),
        ComponentState("dns", state=BACKOFF, restarts=4, last_exit_code=2),
    )
    with pytest.raises(SystemExit, match="minik did not start: dns not running"):
        local._check_alive(layout)
    err = capsys.readouterr().err
    assert "dns is crash-loop-backoff, last exit 2" in err and "dns says goodbye" in err


def test_no_state_file_means_no_supervisor(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="the supervisor is not running"):
        local._check_alive(local.Layout(tmp_path))
