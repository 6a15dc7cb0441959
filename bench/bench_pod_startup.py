"""Pod startup latency: minik (API → kubelet → Docker) next to raw Docker, in one run.

minik: N pods are created at once through the API server (``spec.nodeName`` set, there is
no scheduler here); the latency of a pod is from its create request to the watch event
that shows it ``Running``. A kubelet process runs them on Docker.

Raw Docker: the same N pods done by hand with the Docker SDK at the same concurrency: a
pause container with a fixed IP on a bridge network, then one container of the same image
joining its network namespace, created and started. Latency is to the container start.

Prints p50/p99 and pods/s for both and checks the bar: p50 ≤ raw + 200 ms, p99 ≤ 2 s,
throughput ≥ 80 % of raw. Usage: ``.venv/bin/python bench/bench_pod_startup.py [-n 50]
[--rate R]``. With ``--rate`` pods arrive R per second on both sides, as in upstream's
pod-startup SLO measurements (a steady stream, not one burst): the p99 then says how long
one pod waits, not how long the engine takes to work through a queue of 50.
Everything it creates carries a unique label and is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minik.client.kinds import PODS
from minik.client.rest import APIClient
from minik.cluster.etcd_process import free_port
from minik.kubelet.images import PAUSE_IMAGE, WORKLOAD_IMAGE, ensure_images
from minik.kubelet.runtime.docker_network import ensure_pod_network, remove_pod_network
from tests.conftest import _stop, launch_apiserver, launch_etcd
from tests.kubelet.conftest import _free_subnet, _remove_by_label
from tests.kubelet.harness import KubeletProcess, kubelet_args

LABEL = "io.minik.bench"
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def arrival(i: int, rate: float) -> float:
    """Seconds after the start at which pod ``i`` is created (0 for all: one burst)."""
    return i / rate if rate > 0 else 0.0


def raw_docker(n: int, network: str, cidr: str, run_id: str, rate: float = 0.0) -> tuple[list[float], float]:
    api = docker.APIClient(version="auto", max_pool_size=n)
    hosts = list(ipaddress.ip_network(cidr).hosts())[200 : 200 + n]
    labels = {LABEL: run_id}

    def one(i: int) -> float:
        time.sleep(max(0.0, began + arrival(i, rate) - time.perf_counter()))
        start = time.perf_counter()
        net = api.create_networking_config({network: api.create_endpoint_config(ipv4_address=str(hosts[i]))})
        pause = api.create_container(
            PAUSE_IMAGE,
            name=f"bench-raw-{run_id}-{i}-pause",
            hostname=f"raw-{i}",
            labels=labels,
            host_config=api.create_host_config(network_mode=network, ipc_mode="shareable"),
            networking_config=net,
        )
        api.start(pause["Id"])
        app = api.create_container(
            WORKLOAD_IMAGE,
            command=SLEEP,
            name=f"bench-raw-{run_id}-{i}-app",
            labels=labels,
            host_config=api.create_host_config(
                network_mode=f"container:{pause['Id']}", ipc_mode=f"container:{pause['Id']}"
            ),
        )
        api.start(app["Id"])
        return time.perf_counter() - start

    began = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        latencies = list(pool.map(one, range(n)))
    total = time.perf_counter() - began
    _remove_by_label(api, f"{LABEL}={run_id}")
    api.close()
    return latencies, total


async def minik(n: int, kubeconfig: Path, node: str, ns: str, rate: float = 0.0) -> tuple[list[float], float]:
    client = APIClient.from_kubeconfig(kubeconfig)
    await client.create("namespaces", {"metadata": {"name": ns}})
    listed = await client.list(PODS, namespace=ns)
    stream = client.watch(
        PODS,
        namespace=ns,
        resource_version=listed["metadata"]["resourceVersion"],
        allow_watch_bookmarks=False,
    )
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for event in stream:
            kind, obj = event
            if kind == "BOOKMARK":
                continue
            name = obj["metadata"]["name"]
            if (obj.get("status") or {}).get("phase") == "Running" and name not in seen:
                seen[name] = time.perf_counter()
                if len(seen) == n:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())

    async def create(i: int) -> None:
        await asyncio.sleep(max(0.0, began + arrival(i, rate) - time.perf_counter()))
        name = f"bench-{i}"
        pod = {
            "metadata": {"name": name},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": WORKLOAD_IMAGE, "command": SLEEP}],
            },
        }
        sent[name] = time.perf_counter()
        await client.create(PODS, pod, namespace=ns)

    began = time.perf_counter()
    await asyncio.gather(*(create(i) for i in range(n)))
    await asyncio.wait_for(done.wait(), 300)
    total = time.perf_counter() - began
    watcher.cancel()
    with contextlib.suppress(BaseException):
        await stream.aclose()
    # delete and wait until the kubelet has finished every deletion
    await asyncio.gather(*(client.delete(PODS, name, namespace=ns) for name in sent))
    for _ in range(600):
        if not (await client.list(PODS, namespace=ns))["items"]:
            break
        await asyncio.sleep(0.2)
    await client.aclose()
    return [seen[k] - sent[k] for k in sent], total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--rate", type=float, default=0.0, help="pods created per second (0: all at once)")
    args = ap.parse_args()
    run_id = secrets.token_hex(4)
    ensure_images()
    api = docker.APIClient(version="auto")
    network, cidr = f"minik-bench-{run_id}", _free_subnet(api)
    ensure_pod_network(api, network, cidr, labels={LABEL: run_id})
    work = Path(tempfile.mkdtemp(prefix="minik-bench-"))
    etcd = launch_etcd(work)
    server = launch_apiserver(work, etcd.url)
    port = free_port()
    node = f"bench-{run_id}"
    kubelet = KubeletProcess(
        kubelet_args(
            node=node,
            kubeconfig=server.kubeconfig,
            root=work / "kubelet",
            network=network,
            cidr=cidr,
            port=port,
            owner=f"{LABEL}={run_id}",
            extra=["--anonymous-auth"],
        ),
        work / "kubelet.log",
        port,
    )
    try:
        kubelet.start()
        raw, raw_total = raw_docker(args.n, network, cidr, run_id, args.rate)
        ours, ours_total = asyncio.run(minik(args.n, server.kubeconfig, node, f"bench-{run_id}", args.rate))
    finally:
        kubelet.kill()
        _stop(server.process)
        _stop(etcd.process)
        _remove_by_label(api, f"{LABEL}={run_id}")
        remove_pod_network(api, network)
        api.close()

    def row(label: str, lat: list[float], total: float) -> tuple[float, float, float]:
        p50, p99, rate = statistics.median(lat), pct(lat, 99), len(lat) / total
        print(
            f"{label:<12} p50 {p50 * 1000:7.0f} ms   p99 {p99 * 1000:7.0f} ms   {rate:5.1f} pods/s   ({len(lat)} pods)"
        )
        return p50, p99, rate

    how = f"created {args.rate:g}/s" if args.rate > 0 else "created at once"
    print(f"pod startup, {args.n} pods {how} (create → Running seen through a watch)")
    r50, _, rrate = row("raw docker", raw, raw_total)
    m50, m99, mrate = row("minik", ours, ours_total)
    checks = {
        "p50 ≤ raw + 200 ms": m50 <= r50 + 0.2,
        "p99 ≤ 2 s": m99 <= 2.0,
        "throughput ≥ 80% of raw": mrate >= 0.8 * rrate,
    }
    for what, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {what}")


if __name__ == "__main__":
    main()
