"""1,000 fake nodes in ONE kubelet process become Ready and stay Ready for two minutes.

The issue's must-show fake-node run (issue 20). It is the one slow test of the suite —
about three and a half minutes, most of it the two minutes of watching — and is marked
``scale`` so it can be picked (``-m scale``) or left out (``-m 'not scale'``) on purpose.

It gets an etcd and an API server of its own, so its thousand nodes never show up in
another test's node list. "Stays Ready" is judged the way the node lifecycle controller
judges it: every node's Lease ``renewTime`` is younger than its ``leaseDurationSeconds``
(40 s) at every look, and every node's ``Ready`` condition is ``True``. The kubelet
process must still be alive at the end. Its CPU time and peak RSS are printed for
docs/scale.md; they are figures, not assertions.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from minik.cluster.etcd_process import free_port
from tests.conftest import APIServerProcess, _stop, launch_apiserver, launch_etcd

pytestmark = [pytest.mark.integration, pytest.mark.scale]

NODES = int(os.environ.get("MINIK_SCALE_NODES", "1000"))
STAY_READY = float(os.environ.get("MINIK_SCALE_STAY_SECONDS", "120"))
READY_WITHIN = 240.0


@pytest.fixture(scope="module")
def own_apiserver(workdir: Path) -> Iterator[APIServerProcess]:
    etcd = launch_etcd(workdir)
    try:
        server = launch_apiserver(workdir, etcd.url)
        try:
            yield server
        finally:
            _stop(server.process)
    finally:
        _stop(etcd.process)


def _ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds used, peak RSS in MiB) of ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) // 1024
    return cpu, peak


def test_one_process_runs_1000_nodes_that_stay_ready(own_apiserver: APIServerProcess, workdir: Path) -> None:
    run = secrets.token_hex(3)
    prefix = f"fake-{run}-"
    selector = f"minik.dev/scale-run={run}"
    log_file = workdir / f"fake-kubelet-{run}.log"
    argv = [
        sys.executable,
        "-m",
        "minik.kubelet.main",
        "--runtime=fake",
        f"--fake-nodes={NODES}",
        f"--node-name-prefix={prefix}",
        f"--kubeconfig={own_apiserver.kubeconfig}",
        f"--root-dir={workdir / f'fake-kubelet-{run}'}",
        "--node-ip-loopback",
        f"--port={free_port()}",
        "--anonymous-auth",
        "--cluster-cidr=10.200.0.0/14",  # 1,024 /24s: one per node
        "--fake-cidr-start=0",
        f"--node-labels=minik.dev/scale-run={run},type=kwok",
        "--register-with-taints=kwok.x-k8s.io/node=fake:NoSchedule",
    ]
    started = time.monotonic()
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with own_apiserver.client(timeout=60) as api:

            def nodes() -> list[dict[str, Any]]:
                r = api.get("/api/v1/nodes", params={"labelSelector": selector})
                assert r.status_code == 200, r.text
                return list(r.json()["items"])

            def leases() -> dict[str, dict[str, Any]]:
                r = api.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")
                assert r.status_code == 200, r.text
                return {
                    i["metadata"]["name"]: i["spec"]
                    for i in r.json()["items"]
                    if i["metadata"]["name"] in names
                }

            def alive() -> None:
                assert proc.poll() is None, f"the fake kubelet exited:\n{log_file.read_text()[-5000:]}"

            # 1. All of them register, report Ready and hold a Lease.
            names = {f"{prefix}{i}" for i in range(NODES)}
            deadline = started + READY_WITHIN
            ready = 0
            while time.monotonic() < deadline:
                alive()
                held = leases()
                ready = sum(1 for n in nodes() if _ready(n) and n["metadata"]["name"] in held)
                if ready == NODES:
                    break
                time.sleep(2)
            assert ready == NODES, f"only {ready}/{NODES} nodes Ready after {READY_WITHIN:.0f}s"
            all_ready = time.monotonic() - started
            print(f"\n{NODES} fake nodes Ready {all_ready:.1f}s after the kubelet process started")

            some = nodes()[0]
            assert some["metadata"]["labels"]["type"] == "kwok"
            assert {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"} in (
                some["spec"]["taints"]
            )

            # 2. For two minutes: every Lease fresh, every node Ready, the process alive.
            watch_until = time.monotonic() + STAY_READY
            worst = 0.0
            looks = 0
            while True:
                alive()
                held = leases()
                now = datetime.now(UTC)
                assert set(held) == names, f"{len(names - set(held))} nodes have no Lease"
                for name, spec in held.items():
                    renewed = datetime.fromisoformat(str(spec["renewTime"]).replace("Z", "+00:00"))
                    age = (now - renewed).total_seconds()
                    worst = max(worst, age)
                    assert age < float(str(spec["leaseDurationSeconds"])), f"{name}'s Lease is {age:.1f}s old"
                not_ready = [n["metadata"]["name"] for n in nodes() if not _ready(n)]
                assert not not_ready, f"{len(not_ready)} nodes not Ready, e.g. {not_ready[:3]}"
                looks += 1
                if time.monotonic() >= watch_until:
                    break
                time.sleep(5)
            cpu, rss = _proc_figures(proc.pid)
            elapsed = time.monotonic() - started
            print(
                f"stayed Ready for {STAY_READY:.0f}s ({looks} looks; oldest Lease seen {worst:.1f}s); "
                f"fake kubelet: {cpu:.0f}s CPU in {elapsed:.0f}s ({100 * cpu / elapsed:.0f}% of a core), "
                f"peak RSS {rss} MiB"
            )
            alive()
    finally:
        _stop(proc)
    text = log_file.read_text(errors="replace")
    assert "Traceback" not in text, f"the fake kubelet logged an unhandled error:\n{text[-5000:]}"


def test_the_fake_kubelet_refuses_bad_registration_flags(own_apiserver: APIServerProcess) -> None:
    for flag in ("--register-with-taints=a=b:Sometimes", "--node-labels=no-equals-sign"):
        done = subprocess.run(
            [sys.executable, "-m", "minik.kubelet.main", "--runtime=fake", flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert flag.split("=", 1)[0] in done.stderr and "invalid" in done.stderr, done.stderr
