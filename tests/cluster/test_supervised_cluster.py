"""A real supervisor with real components: etcd, the apiserver and the scheduler of this repo.

No Docker, no kubelets, no proxy: the plan holds only what runs as a plain process, under a
temporary ``$MINIK_HOME`` with free ports. SIGKILL one component, and the supervisor brings
it back (restarts=1) while the API keeps answering; ``stop_processes`` leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from minik.cluster import local, supervisor
from minik.cluster.crashloop import HELD, RUNNING, ComponentState
from minik.cluster.etcd_process import free_port
from tests.helpers import wait_until

Cluster = tuple[local.Settings, local.Layout, local.API]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    yield from supervised(tmp_path, {})


#: Leader election that gives up quickly (the defaults: 15 s, 10 s, 2 s).
FAST_LEASE = ["--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s"]
FAST_LEASE += ["--leader-elect-retry-period", "0.5s"]

#: component → (its Lease in kube-system, what its log says when it loses it)
ELECTED = {
    "scheduler": ("minik-scheduler", "leader election lost"),
    "controller-manager": ("minik-controller-manager", "lost the lease"),
}


@pytest.fixture(params=sorted(ELECTED))
def fast_lease_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Cluster]]:
    component = str(request.param)
    for cluster in supervised(tmp_path, {component: FAST_LEASE}, only={"apiserver", component}):
        yield component, cluster


def supervised(
    tmp_path: Path, extra: dict[str, list[str]], only: set[str] | None = None
) -> Iterator[Cluster]:
    settings = local.Settings(
        home=tmp_path / "home",
        name="mksup",
        nodes=0,
        apiserver_port=free_port(),
        etcd_port=free_port(),
        etcd_peer_port=free_port(),
        demo=False,
        extra=extra,
    )
    layout, ca, tokens = local.prepare(settings)
    local.supervise(settings, layout, local.plan(settings, layout, only=only or {"apiserver", "scheduler"}))
    try:
        api = local.API(settings.url, ca, tokens["admin"])
        wait_until(api.ready, timeout=60, interval=0.2, message="the apiserver, started by the supervisor")
        yield settings, layout, api
    finally:
        local.stop_processes(settings)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def record(layout: local.Layout, name: str) -> ComponentState | None:
    state = supervisor.read_state(layout.run)
    return state.get(name) if state else None


def test_sigkill_heals_and_down_leaves_nothing(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, layout, api = cluster
    names = ["etcd", "apiserver", "scheduler"]
    running = wait_until(
        lambda: (
            (s := supervisor.read_state(layout.run)) and all(c.state == RUNNING for c in s.components) and s
        ),
        timeout=30,
        message="every component running",
    )
    assert [c.name for c in running.components] == names
    assert all(c.restarts == 0 for c in running.components)
    pids = {c.name: c.pid for c in running.components}

    for victim in ("apiserver", "scheduler", "etcd"):
        before = record(layout, victim)
        assert before is not None and before.pid is not None
        os.kill(before.pid, signal.SIGKILL)

        def back(victim: str = victim, old: int = before.pid) -> ComponentState | None:
            now = record(layout, victim)
            return now if now and now.state == RUNNING and now.pid not in (None, old) else None

        healed = wait_until(back, timeout=30, interval=0.1, message=f"{victim} running again")
        assert healed.restarts == 1
        assert (healed.last_exit_code, healed.last_exit_signal) == (137, "SIGKILL")
        assert healed.pid is not None and alive(healed.pid)
        pids[victim] = healed.pid
        # The API answers a read from etcd again (the apiserver reconnects to a new etcd by itself).
        wait_until(
            lambda: api.request("GET", "/api/v1/namespaces/default")[0] == 200,
            timeout=30,
            interval=0.2,
            message=f"the API answering after {victim} came back",
        )

    # `minikctl cluster status` shows it.
    lines = _status(settings).splitlines()
    assert lines[0].split() == ["COMPONENT", "STATE", "PID", "RESTARTS", "LAST", "EXIT", "STARTED"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert list(rows) == names
    for name in names:
        assert rows[name][1:5] == ["running" if name != "apiserver" else "ready", str(pids[name]), "1", "137"]
        assert rows[name][5] == "(SIGKILL)"
    assert lines[4].startswith(f"supervisor: running (pid {supervisor.running_pid(layout.run)})")

    # `minikctl cluster stop` holds a component down (test_supervisor_loop: past any backoff);
    # `start` brings it back.
    monkeypatch.setenv("MINIK_HOME", str(settings.home))
    local.main(["stop", "scheduler", "--kill"])
    held = record(layout, "scheduler")
    assert held is not None and (held.state, held.pid, held.last_exit_signal) == (HELD, None, "SIGKILL")
    assert pids["scheduler"] is not None and not alive(pids["scheduler"])
    local.main(["start", "scheduler"])
    started = record(layout, "scheduler")
    assert started is not None and started.state == RUNNING and started.pid is not None
    pids["scheduler"] = started.pid
    with pytest.raises(SystemExit, match="no component 'kube-nothing'"):
        local.main(["stop", "kube-nothing"])

    supervisor_pid = supervisor.running_pid(layout.run)
    assert supervisor_pid is not None
    local.stop_processes(settings)
    assert supervisor.running_pid(layout.run) is None
    assert not alive(supervisor_pid)
    for name, pid in pids.items():
        assert pid is not None and not alive(pid), f"{name} (pid {pid}) still runs after down"
    final = supervisor.read_state(layout.run)
    assert final is not None and all(c.state == "stopped" and c.pid is None for c in final.components)
    assert not list(layout.run.glob("*.pid"))


def _status(settings: local.Settings) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        local.status(settings)
    return out.getvalue()


LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def holder(api: local.API, lease: str) -> str | None:
    code, body = api.request("GET", f"{LEASES}/{lease}")
    return str(body["spec"].get("holderIdentity")) if code == 200 else None


def test_a_leader_that_loses_its_lease_exits_and_comes_back_as_a_standby(
    fast_lease_cluster: tuple[str, Cluster],
) -> None:
    component, (_settings, layout, api) = fast_lease_cluster
    lease, says = ELECTED[component]
    leader = wait_until(lambda: holder(api, lease), timeout=30, interval=0.2, message=f"{component} leading")
    first = record(layout, component)
    assert first is not None and first.restarts == 0

    # Someone else takes the lease (as a partition or a slow API server would let happen):
    # the leader cannot renew, gives up after its renew deadline and exits with status 1.
    code, body = api.request("GET", f"{LEASES}/{lease}")
    assert code == 200
    body["spec"].update(holderIdentity="thief", leaseDurationSeconds=4)
    code, _ = api.request("PUT", f"{LEASES}/{lease}", body)
    assert code == 200

    def restarted() -> ComponentState | None:
        now = record(layout, component)
        return now if now and now.restarts == 1 and now.state == RUNNING else None

    again = wait_until(restarted, timeout=30, interval=0.1, message=f"{component} restarted")
    assert (again.last_exit_code, again.last_exit_signal) == (1, None)
    assert says in layout.log_file(component).read_text()
    # The new instance is a standby with a new identity: it waits for the thief's lease to
    # expire (nobody renews it), then leads.
    new_leader = wait_until(
        lambda: (h := holder(api, lease)) not in (None, "thief", leader) and h,
        timeout=30,
        interval=0.2,
        message=f"the restarted {component} leading",
    )
    assert new_leader != leader
    final = record(layout, component)
    assert final is not None and final.restarts == 1 and final.pid == again.pid


def test_components_orphaned_by_a_killed_supervisor_are_replaced_then_stopped(cluster: Cluster) -> None:
    settings, layout, api = cluster
    running = wait_until(
        lambda: (
            (s := supervisor.read_state(layout.run)) and all(c.state == RUNNING for c in s.components) and s
        ),
        timeout=30,
        message="every component running",
    )
    orphans = [c.pid for c in running.components]
    supervisor_pid = supervisor.running_pid(layout.run)
    assert supervisor_pid is not None
    os.kill(supervisor_pid, signal.SIGKILL)
    wait_until(lambda: supervisor.running_pid(layout.run) is None, timeout=10, message="the supervisor gone")
    assert all(pid is not None and alive(pid) for pid in orphans)  # unsupervised, but running

    # `up` again: the orphans make way for a new supervisor's components.
    local.supervise(settings, layout, local.plan(settings, layout, only={"apiserver", "scheduler"}))
    fresh = wait_until(
        lambda: (
            (s := supervisor.read_state(layout.run))
            and s.supervisor_pid != supervisor_pid
            and all(c.state == RUNNING for c in s.components)
            and s
        ),
        timeout=60,
        message="a new supervisor's components running",
    )
    assert all(pid is not None and not alive(pid) for pid in orphans)
    assert all(c.restarts == 0 for c in fresh.components)
    wait_until(
        lambda: api.request("GET", "/api/v1/namespaces/default")[0] == 200, timeout=30, message="the API"
    )

    # And if the supervisor is killed again, `down` still stops everything by the pid files.
    os.kill(fresh.supervisor_pid or 0, signal.SIGKILL)
    wait_until(lambda: supervisor.running_pid(layout.run) is None, timeout=10, message="the supervisor gone")
    local.stop_processes(settings)
    assert all(c.pid is not None and not alive(c.pid) for c in fresh.components)
