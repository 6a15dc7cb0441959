"""The controller-manager: flag handling, then two real processes failing over on a Lease."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minik.client.process import duration
from minik.cluster.etcd_process import free_port
from minik.controllers.manager import ManagerState, parse_args
from minik.controllers.registry import CONTROLLERS
from tests.conftest import APIServerProcess, _stop
from tests.helpers import wait_until

# -- unit ----------------------------------------------------------------------------------------


def test_flags(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        duration("15s") == 15 and duration("500ms") == 0.5 and duration("1m") == 60 and duration("2.5") == 2.5
    )
    args = parse_args(
        [
            "--controllers",
            "*,-job",
            "--leader-elect-lease-duration",
            "3s",
            "--leader-elect-renew-deadline",
            "2s",
            "--leader-elect-retry-period",
            "500ms",
        ]
    )
    assert args.leader_elect_lease_duration == 3 and args.leader_elect_retry_period == 0.5
    assert "job" not in [s.name for s in args.selected]
    monkeypatch.setenv("MINIK_CONTROLLERS", "podgc")
    monkeypatch.setenv("MINIK_ALLOCATE_NODE_CIDRS", "false")
    args = parse_args([])
    assert [s.name for s in args.selected] == ["podgc"]
    assert [s.name for s in parse_args(["--controllers", "*"]).selected if s.name == "nodeipam"] == []
    for bad in (
        ["--controllers", "*,-nope"],
        ["--leader-elect-lease-duration", "1s"],
        ["--pod-gc-period", "soon"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(bad)
        assert exit_info.value.code == 2
    assert "unknown controller 'nope'" in capsys.readouterr().err


def test_metrics_render() -> None:
    state = ManagerState("me")
    state.leader = True
    text = state.render_metrics()
    assert 'minik_controller_manager_leader{identity="me"} 1' in text


# -- two processes, one lease --------------------------------------------------------------------


class Manager:
    def __init__(
        self, apiserver: APIServerProcess, log_dir: Path, identity: str, lease: str, controllers: str
    ) -> None:
        self.identity = identity
        self.port = free_port()
        self.log_file = log_dir / f"cm-{identity}.log"
        args = [
            sys.executable,
            "-m",
            "minik.controllers.manager",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--identity",
            identity,
            "--leader-elect-resource-name",
            lease,
            "--controllers",
            controllers,
            "--leader-elect-lease-duration",
            "3s",
            "--leader-elect-renew-deadline",
            "2s",
            "--leader-elect-retry-period",
            "0.5s",
            "--port",
            str(self.port),
            "--log-format",
            "json",
        ]
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=2)

    def metrics(self) -> str:
        try:
            return self.get("/metrics").text
        except httpx.HTTPError:
            return ""

    def leading(self) -> bool:
        return f'minik_controller_manager_leader{{identity="{self.identity}"}} 1' in self.metrics()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


@pytest.fixture
def managers(apiserver: APIServerProcess, tmp_path: Path) -> Iterator[list[Manager]]:
    started: list[Manager] = []
    yield started
    for manager in started:
        _stop(manager.process)


def _holder(api: httpx.Client, lease: str) -> str:
    r = api.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}")
    return str(r.json().get("spec", {}).get("holderIdentity") or "") if r.status_code == 200 else ""


def _service_with_ready_pod(api: httpx.Client, ns: str, name: str, ip: str) -> None:
    r = api.post(
        f"/api/v1/namespaces/{ns}/services",
        json={
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        },
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/api/v1/namespaces/{ns}/pods",
        json={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    assert r.status_code == 201, r.text
    pod = r.json()
    pod["status"].update(
        phase="Running", podIP=ip, podIPs=[{"ip": ip}], conditions=[{"type": "Ready", "status": "True"}]
    )
    r = api.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod)
    assert r.status_code == 200, r.text


def _endpoint_ips(api: httpx.Client, ns: str, name: str) -> list[str]:
    r = api.get(f"/api/v1/namespaces/{ns}/endpoints/{name}")
    if r.status_code != 200:
        return []
    return [a["ip"] for s in r.json().get("subsets") or [] for a in s.get("addresses") or []]


@pytest.mark.integration
def test_leader_failover_between_two_processes(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, managers: list[Manager], tmp_path: Path
) -> None:
    lease = f"cm-failover-{secrets.token_hex(3)}"
    a = Manager(apiserver, tmp_path, "cm-a", lease, "endpoint,namespace")
    managers.append(a)
    wait_until(lambda: _holder(api, lease) == "cm-a", timeout=20, message=f"cm-a leads\n{a.log()}")
    b = Manager(apiserver, tmp_path, "cm-b", lease, "endpoint,namespace")
    managers.append(b)
    wait_until(lambda: _reachable(b), timeout=20, message=f"cm-b serves /healthz\n{b.log()}")
    wait_until(a.leading, timeout=10, message="cm-a reports leading")
    assert not b.leading() and _holder(api, lease) == "cm-a"  # the standby only campaigns

    _service_with_ready_pod(api, ns, "first", "10.244.77.1")
    wait_until(
        lambda: _endpoint_ips(api, ns, "first") == ["10.244.77.1"],
        timeout=15,
        message="the leader's endpoint controller works",
    )
    assert 'minik_controller_reconcile_total{controller="endpoint"' in a.metrics()

    os.killpg(a.process.pid, signal.SIGKILL)  # no chance to release the lease
    a.process.wait(10)
    wait_until(
        lambda: _holder(api, lease) == "cm-b", timeout=15, interval=0.1, message=f"cm-b takes over\n{b.log()}"
    )
    wait_until(b.leading, timeout=10, message="cm-b reports leading")
    _service_with_ready_pod(api, ns, "second", "10.244.77.2")
    wait_until(
        lambda: _endpoint_ips(api, ns, "second") == ["10.244.77.2"],
        timeout=15,
        message="the new leader's controllers work",
    )

    # Graceful stop: exit 0 and give the lease up for the next replica at once.
    os.killpg(b.process.pid, signal.SIGTERM)
    assert b.process.wait(15) == 0, b.log()
    assert _holder(api, lease) == ""
    assert '"msg": "stopped"' in b.log()


def _reachable(manager: Manager) -> bool:
    try:
        return manager.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.integration
def test_every_controller_starts(
    apiserver: APIServerProcess, api: httpx.Client, managers: list[Manager], tmp_path: Path
) -> None:
    lease = f"cm-all-{secrets.token_hex(3)}"
    manager = Manager(apiserver, tmp_path, "cm-all", lease, "*")
    managers.append(manager)
    every = [spec.name for spec in CONTROLLERS]
    wait_until(
        lambda: all(f'minik_controller_enabled{{controller="{n}"}} 1' in manager.metrics() for n in every),
        timeout=20,
        message=f"all controllers enabled\n{manager.log()}",
    )
    wait_until(
        lambda: 'minik_controller_reconcile_total{controller="garbagecollector"' in manager.metrics(),
        timeout=20,
        message="the garbage collector synced and reconciles",
    )
    assert manager.process.poll() is None, manager.log()
