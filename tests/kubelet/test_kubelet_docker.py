"""The kubelet end to end on real Docker: an API server, a kubelet, pods set to its node.

There is no scheduler in these tests: pods name their node in ``spec.nodeName``. The
kubelet runs in-process (so the test can read its runtime) except for the restart test,
which runs it as a process to kill it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from minik.client.kinds import CONFIGMAPS, PODS, SERVICES
from minik.client.rest import APIClient
from minik.cluster.etcd_process import free_port
from minik.kubelet.runtime.base import ContainerState
from tests.conftest import APIServerProcess
from tests.kubelet.conftest import SESSION_LABEL, WORKLOAD
from tests.kubelet.harness import InProcess, KubeletProcess, in_process_kubelet, kubelet_args
from tests.kubelet.test_kubelet_fake import _get, cond, eventually

pytestmark = pytest.mark.e2e

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]


@pytest.fixture(scope="session")
def node_name(session_id: str) -> str:
    return f"node-{session_id}"


@pytest_asyncio.fixture
async def kubelet(
    apiserver: APIServerProcess,
    pod_network: tuple[str, str],
    session_id: str,
    kubelet_root: Path,
    node_name: str,
) -> AsyncIterator[InProcess]:
    network, cidr = pod_network
    argv = kubelet_args(
        node=node_name,
        kubeconfig=apiserver.kubeconfig,
        root=kubelet_root,
        network=network,
        cidr=cidr,
        port=free_port(),
        owner=f"{SESSION_LABEL}={session_id}",
        extra=["--anonymous-auth"],
    )
    async with in_process_kubelet(argv) as k:
        yield k


def mkpod(name: str, node: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2, "containers": containers, **spec},
    }


async def pod_where(
    c: APIClient, ns: str, name: str, check: Any, timeout: float = 60, what: str = ""
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        p = await _get(c, PODS, name, ns)
        return p if p is not None and check(p) else None

    try:
        return await eventually(probe, timeout, what or name)
    except AssertionError:
        p = await _get(c, PODS, name, ns)
        raise AssertionError(f"{what}: pod is {json.dumps((p or {}).get('status'), indent=1)}") from None


def running(p: dict[str, Any]) -> bool:
    return (p.get("status") or {}).get("phase") == "Running" and all(
        "running" in cs["state"] for cs in p["status"].get("containerStatuses") or []
    )


async def container(k: InProcess, p: dict[str, Any], name: str) -> ContainerState:
    states: list[ContainerState] = await k.runtime.list_containers(pod_uid=p["metadata"]["uid"])
    live = [s for s in states if s.container_name == name and s.running]
    assert live, f"no running container {name}: {states}"
    return live[0]


async def sh(k: InProcess, p: dict[str, Any], name: str, script: str) -> str:
    cid = (await container(k, p, name)).id
    result = await k.runtime.exec(cid, ["sh", "-c", script], timeout=30)
    assert result.exit_code == 0, (script, result)
    return str(result.stdout.decode())


async def test_two_containers_share_localhost_ip_and_hostname(
    kubelet: InProcess, ns: str, node_name: str
) -> None:
    c = kubelet.client
    fetch = "for i in $(seq 100); do timeout 2 wget -qO- http://localhost:8080/ && break; sleep 0.1; done; echo; hostname; sleep 3600"
    await c.create(
        PODS,
        mkpod(
            "pair",
            node_name,
            [
                {"name": "server", "image": WORKLOAD},
                {"name": "client", "image": WORKLOAD, "command": ["sh", "-c", fetch]},
            ],
        ),
        namespace=ns,
    )
    p = await pod_where(c, ns, "pair", running, what="pair Running")
    ip = p["status"]["podIP"]
    assert ip and p["status"]["hostIP"] == "127.0.0.1"

    async def fetched() -> str:
        cid = (await container(kubelet, p, "client")).id
        chunks = [x async for x in kubelet.runtime.logs(cid)]
        return b"".join(chunks).decode() if b"pod=" in b"".join(chunks) else ""

    out = await eventually(fetched, 30, "client's fetch")
    assert f"pod=pair ip={ip}" in out
    assert out.strip().splitlines()[-1] == "pair"
    for name in ("server", "client"):
        assert (await sh(kubelet, p, name, "hostname")).strip() == "pair"
        assert ip in await sh(kubelet, p, name, "ip -4 addr show dev eth0")

    # The pause container is in `docker ps` with the pod's labels.
    sandbox = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label=io.kubernetes.pod.uid={p['metadata']['uid']}",
            "--filter",
            "label=io.kubernetes.docker.type=podsandbox",
            "--format",
            "{{.Image}} {{.Names}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sandbox[0] == "minik/pause:3.10" and sandbox[1].startswith(f"k8s_POD_pair_{ns}_")


async def test_empty_dir_config_map_and_service_env(kubelet: InProcess, ns: str, node_name: str) -> None:
    c = kubelet.client
    await c.create(CONFIGMAPS, {"metadata": {"name": "conf"}, "data": {"greeting": "hello"}}, namespace=ns)
    await c.create(
        SERVICES,
        {"metadata": {"name": "backend"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
        namespace=ns,
    )
    svc = await c.get(SERVICES, "backend", namespace=ns)
    mounts = [{"name": "shared", "mountPath": "/shared"}, {"name": "conf", "mountPath": "/conf"}]
    await c.create(
        PODS,
        mkpod(
            "vols",
            node_name,
            [
                {
                    "name": "writer",
                    "image": WORKLOAD,
                    "command": ["sh", "-c", "echo from-writer > /shared/f; " + " ".join(SLEEP[2:])],
                    "volumeMounts": mounts,
                },
                {"name": "reader", "image": WORKLOAD, "command": SLEEP, "volumeMounts": mounts},
            ],
            volumes=[{"name": "shared", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "conf"}}],
        ),
        namespace=ns,
    )
    p = await pod_where(c, ns, "vols", running, what="vols Running")

    async def shared() -> str:
        return (await sh(kubelet, p, "reader", "cat /shared/f 2>/dev/null || true")).strip()

    assert await eventually(shared, 20, "shared emptyDir") == "from-writer"
    assert (await sh(kubelet, p, "reader", "cat /conf/greeting")) == "hello"
    env = await sh(kubelet, p, "reader", "env")
    assert f"BACKEND_SERVICE_HOST={svc['spec']['clusterIP']}" in env
    assert "BACKEND_SERVICE_PORT=80" in env

    await c.patch(CONFIGMAPS, "conf", {"data": {"greeting": "updated"}}, namespace=ns)

    async def updated() -> bool:
        return (await sh(kubelet, p, "reader", "cat /conf/greeting")) == "updated"

    await eventually(updated, 30, "configMap update visible in the volume")


async def test_init_containers_run_in_order(kubelet: InProcess, ns: str, node_name: str) -> None:
    c = kubelet.client
    work = [{"name": "work", "mountPath": "/work"}]
    await c.create(
        PODS,
        mkpod(
            "inits",
            node_name,
            [
                {"name": "app", "image": WORKLOAD, "command": SLEEP, "volumeMounts": work},
            ],
            initContainers=[
                {
                    "name": "first",
                    "image": WORKLOAD,
                    "command": ["sh", "-c", "sleep 0.5; echo first >> /work/order"],
                    "volumeMounts": work,
                },
                {
                    "name": "second",
                    "image": WORKLOAD,
                    "command": ["sh", "-c", "echo second >> /work/order"],
                    "volumeMounts": work,
                },
            ],
            volumes=[{"name": "work", "emptyDir": {}}],
        ),
        namespace=ns,
    )
    p = await pod_where(c, ns, "inits", running, what="inits Running")
    assert cond(p, "Initialized") == "True"
    assert [s["state"]["terminated"]["reason"] for s in p["status"]["initContainerStatuses"]] == [
        "Completed",
        "Completed",
    ]
    assert (await sh(kubelet, p, "app", "cat /work/order")).split() == ["first", "second"]


async def test_crash_loop_back_off(kubelet: InProcess, ns: str, node_name: str) -> None:
    c = kubelet.client
    await c.create(
        PODS,
        mkpod("crash", node_name, [{"name": "c", "image": WORKLOAD, "command": ["sh", "-c", "exit 3"]}]),
        namespace=ns,
    )

    def looping(p: dict[str, Any]) -> bool:
        cs = (p.get("status") or {}).get("containerStatuses") or [{}]
        waiting = cs[0].get("state", {}).get("waiting", {})
        return bool(waiting.get("reason") == "CrashLoopBackOff" and cs[0]["restartCount"] >= 1)

    p = await pod_where(c, ns, "crash", looping, what="CrashLoopBackOff")
    cs = p["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert p["status"]["phase"] == "Running"
    assert cond(p, "Ready") == "False"
    # Never: the pod fails instead.
    await c.create(
        PODS,
        mkpod(
            "once",
            node_name,
            [{"name": "c", "image": WORKLOAD, "command": ["sh", "-c", "exit 0"]}],
            restartPolicy="Never",
        ),
        namespace=ns,
    )
    p = await pod_where(
        c, ns, "once", lambda p: p.get("status", {}).get("phase") == "Succeeded", what="Succeeded"
    )
    assert p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


async def test_probes_readiness_and_liveness(kubelet: InProcess, ns: str, node_name: str) -> None:
    c = kubelet.client
    await c.create(
        PODS,
        mkpod(
            "probed",
            node_name,
            [
                {
                    "name": "web",
                    "image": WORKLOAD,
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
                },
                {
                    "name": "never-ready",
                    "image": WORKLOAD,
                    "command": SLEEP,
                    "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1},
                },
            ],
        ),
        namespace=ns,
    )

    def web_ready_pod_not(p: dict[str, Any]) -> bool:
        cs = {s["name"]: s for s in (p.get("status") or {}).get("containerStatuses") or []}
        return (
            running(p)
            and cs["web"]["ready"]
            and not cs["never-ready"]["ready"]
            and cond(p, "Ready") == "False"
        )

    await pod_where(c, ns, "probed", web_ready_pod_not, what="web ready, pod not Ready")

    await c.create(
        PODS,
        mkpod(
            "unhealthy",
            node_name,
            [
                {
                    "name": "c",
                    "image": WORKLOAD,
                    "command": SLEEP,
                    "livenessProbe": {"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 1},
                },
            ],
            terminationGracePeriodSeconds=1,
        ),
        namespace=ns,
    )

    def restarted(p: dict[str, Any]) -> bool:
        cs = (p.get("status") or {}).get("containerStatuses") or [{}]
        return bool(cs[0].get("restartCount", 0) >= 2)

    p = await pod_where(c, ns, "unhealthy", restarted, timeout=60, what="liveness restarts")
    assert p["status"]["containerStatuses"][0]["lastState"]["terminated"]


async def test_graceful_termination_honours_sigterm(
    kubelet: InProcess, ns: str, node_name: str, tmp_path: Path
) -> None:
    c = kubelet.client
    tmp_path.chmod(0o777)
    script = "trap 'echo TERM >> /out/log; sleep 1; exit 0' TERM; echo started >> /out/log; while true; do sleep 0.1; done"
    await c.create(
        PODS,
        mkpod(
            "graceful",
            node_name,
            [
                {
                    "name": "c",
                    "image": WORKLOAD,
                    "command": ["sh", "-c", script],
                    "volumeMounts": [{"name": "out", "mountPath": "/out"}],
                    "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /out/log"]}}},
                },
            ],
            terminationGracePeriodSeconds=20,
            volumes=[{"name": "out", "hostPath": {"path": str(tmp_path)}}],
        ),
        namespace=ns,
    )
    p = await pod_where(c, ns, "graceful", running, what="graceful Running")
    await eventually(lambda: _async((tmp_path / "log").exists()), 10, "container started")
    started = time.monotonic()
    await c.delete(PODS, "graceful", namespace=ns)
    await eventually(lambda: _none(_get(c, PODS, "graceful", ns)), 30, "pod deleted")
    took = time.monotonic() - started
    assert (tmp_path / "log").read_text().split() == ["started", "prestop", "TERM"]
    assert took < 15, took  # exited on SIGTERM, long before the 20 s grace period
    assert await kubelet.runtime.list_containers(pod_uid=p["metadata"]["uid"]) == []


async def _async(value: Any) -> Any:
    return value


async def _none(aw: Any) -> bool:
    return (await aw) is None


async def test_restarted_kubelet_adopts_and_cleans_up(
    apiserver: APIServerProcess,
    pod_network: tuple[str, str],
    session_id: str,
    kubelet_root: Path,
    node_name: str,
    ns: str,
    tmp_path: Path,
) -> None:
    network, cidr = pod_network
    port = free_port()
    argv = kubelet_args(
        node=node_name,
        kubeconfig=apiserver.kubeconfig,
        root=kubelet_root,
        network=network,
        cidr=cidr,
        port=port,
        owner=f"{SESSION_LABEL}={session_id}",
        extra=["--anonymous-auth"],
    )
    proc = KubeletProcess(argv, tmp_path / "kubelet.log", port)
    proc.start()
    c = APIClient.from_kubeconfig(apiserver.kubeconfig)
    try:
        for name in ("keep", "gone"):
            await c.create(
                PODS,
                mkpod(name, node_name, [{"name": "c", "image": WORKLOAD, "command": SLEEP}]),
                namespace=ns,
            )
        keep = await pod_where(c, ns, "keep", running, what="keep Running")
        gone = await pod_where(c, ns, "gone", running, what="gone Running")
        before = _docker_ids(keep["metadata"]["uid"])

        proc.kill()
        await c.delete(PODS, "gone", namespace=ns, grace_period_seconds=0)
        proc.start()

        await eventually(
            lambda: _async(not _docker_ids(gone["metadata"]["uid"])), 30, "deleted pod's containers removed"
        )
        await asyncio.sleep(3)  # a few relists
        assert _docker_ids(keep["metadata"]["uid"]) == before  # nothing restarted or replaced
        p = await c.get(PODS, "keep", namespace=ns)
        assert p["status"]["containerStatuses"][0]["restartCount"] == 0 and running(p)
    finally:
        proc.kill()
        await c.aclose()


def _docker_ids(uid: str) -> list[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=io.kubernetes.pod.uid={uid}",
            "--format",
            "{{.ID}} {{.Status}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(line.split()[0] + ("" if " Up " in f" {line} " else "-dead") for line in out.splitlines())
