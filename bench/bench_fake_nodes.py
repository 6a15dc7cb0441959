"""Fake nodes at scale: N nodes in one kubelet process, P pods on them, then a pod GC sweep.

1. An etcd and an API server of its own; one ``minik-kubelet --runtime fake
   --fake-nodes N`` process. Time until every node is Ready and holds a Lease.
2. P pods created with ``spec.nodeName`` already set (round robin; there is no scheduler
   here), 32 requests in flight. Time until every pod is Running (pods/s), and the
   kubelet's pod status writes per pod (from the API server's ``/metrics``).
3. The kubelet stops, the pod GC controller starts (in this process, on a pooled client,
   as in the controller-manager) and every node is deleted: the pods are orphans, force
   deleted by the GC; pods/s from the last node deletion to the last pod gone.

Prints the fake kubelet's CPU time and peak RSS after each phase. Usage:
``.venv/bin/python bench/bench_fake_nodes.py [--nodes 1000] [--pods 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import LEASES, NODES, PODS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.pooled import PooledAPIClient
from minik.cluster.etcd_process import free_port
from minik.controllers.podgc import PodGCController
from tests.conftest import _stop, launch_apiserver, launch_etcd


def proc_figures(pid: int) -> str:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = next(
        int(line.split()[1]) // 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return f"CPU {cpu:.1f}s, peak RSS {peak} MiB"


def ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


async def status_patches(client: PooledAPIClient) -> float:
    """PATCHes of pods the API server has served (its request counter; in this bench only
    the kubelet patches pods, and only their status)."""
    text = await client.request("GET", "/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in str(text).splitlines()
        if line.startswith("apiserver_request_total") and 'verb="patch"' in line and 'resource="pods"' in line
    )


async def main(nodes: int, pods: int, extra: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="minik-bench-fake-"))
    etcd = launch_etcd(work)
    server = launch_apiserver(work, etcd.url)
    log_file = work / "kubelet.log"
    argv = [
        sys.executable, "-m", "minik.kubelet.main", "--runtime=fake", f"--fake-nodes={nodes}",
        "--node-name-prefix=bench-", f"--kubeconfig={server.kubeconfig}", f"--root-dir={work / 'kubelet'}",
        "--node-ip-loopback", f"--port={free_port()}", "--anonymous-auth", "--cluster-cidr=10.200.0.0/14",
        "--fake-cidr-start=0", "--node-labels=type=kwok",
    ]  # fmt: skip
    client = PooledAPIClient(load_kubeconfig(server.kubeconfig), max_connections=64)
    kubelet: subprocess.Popen[bytes] | None = None
    try:
        await client.create(
            "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
        )
        start = time.monotonic()
        with open(log_file, "ab") as out:
            kubelet = subprocess.Popen(
                argv + extra, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        while True:
            listed = (await client.list(NODES, label_selector="type=kwok"))["items"]
            leases = {
                i["metadata"]["name"]
                for i in (await client.list(LEASES, namespace="kube-node-lease"))["items"]
            }
            if sum(1 for n in listed if ready(n) and n["metadata"]["name"] in leases) == nodes:
                break
            assert kubelet.poll() is None, log_file.read_text()[-3000:]
            await asyncio.sleep(1)
        print(
            f"{nodes} nodes Ready in {time.monotonic() - start:.1f}s; kubelet {proc_figures(kubelet.pid)}; "
            f"API server {proc_figures(server.process.pid)}"
        )

        before = await status_patches(client)
        slots = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"p{i}", "namespace": "bench"},
                "spec": {"nodeName": f"bench-{i % nodes}", "containers": [{"name": "c", "image": "x"}]},
            }
            async with slots:
                await client.create(PODS, pod)

        start = time.monotonic()
        await asyncio.gather(*(create(i) for i in range(pods)))
        created = time.monotonic() - start
        while True:
            items = (await client.list(PODS, namespace="bench"))["items"]
            running = sum(1 for p in items if (p.get("status") or {}).get("phase") == "Running")
            if running == pods:
                break
            await asyncio.sleep(0.5)
        took = time.monotonic() - start
        await asyncio.sleep(25)  # two relists: a redundant write would show up in the count
        writes = await status_patches(client) - before
        print(
            f"{pods} pods created in {created:.1f}s, all Running after {took:.1f}s ({pods / took:.0f} pods/s); "
            f"{writes / pods:.2f} status writes per pod; kubelet {proc_figures(kubelet.pid)}; "
            f"API server {proc_figures(server.process.pid)}"
        )

        _stop(kubelet)
        factory = SharedInformerFactory(client)
        gc = PodGCController(client, factory, EventRecorder(client, "bench"), gc_period=0.5, quarantine=0.0)
        factory.start()
        await factory.wait_for_sync(60)
        task = asyncio.create_task(gc.run())

        async def delete(name: str) -> None:
            async with slots:
                await client.delete(NODES, name)

        await asyncio.gather(*(delete(n["metadata"]["name"]) for n in listed))
        start = time.monotonic()
        while (await client.list(PODS, namespace="bench", limit=1))["items"]:
            await asyncio.sleep(0.2)
        took = time.monotonic() - start
        print(
            f"pod GC: {pods} orphans force deleted {took:.1f}s after their nodes ({pods / took:.0f} pods/s)"
        )
        task.cancel()
        await factory.shutdown()
    finally:
        if kubelet is not None:
            _stop(kubelet)
        text = log_file.read_text(errors="replace") if log_file.exists() else ""
        tracebacks = len(re.findall("Traceback", text))
        print(f"kubelet log: {tracebacks} tracebacks, {text.count('WARNING')} warnings")
        await client.aclose()
        _stop(server.process)
        _stop(etcd.process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=2000)
    a, kubelet_flags = parser.parse_known_args()  # anything else goes to the fake kubelet
    asyncio.run(main(a.nodes, a.pods, kubelet_flags))
