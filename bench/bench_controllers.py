"""Controller-manager benchmark: a Deployment scaled 0 → 1000, next to raw apiserver creates.

Run: ``.venv/bin/python bench/bench_controllers.py`` (or ``make bench``). It starts its own
etcd, minik-apiserver and minik-controller-manager on free loopback ports (no kubelet, no
scheduler: the pods stay Pending, which is all the controllers need) and prints, from one run:

* pods/s the controllers create when a Deployment is scaled 0 → 1000 (Deployment controller
  → ReplicaSet → ReplicaSet controller's slow-start batches of pod creates), timed from the
  scale request to the 1000th pod seen on a watch;
* the raw apiserver create rate of the same pods in the same run (a client creating them
  directly, as many in flight as the controller's largest batch allows) — goal: ≥ 0.8x;
* the controller-manager's resident memory with its informers empty and with 10,000 pods
  cached (the other 9,000 are created directly, so every pod informer holds them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import build_request, run
from minik.cluster.credentials import ensure_tokens, write_kubeconfig
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from minik.cluster.pki import ensure_pki

LABELS = {"app": "bench"}


def container() -> dict[str, Any]:
    return {
        "name": "app",
        "image": "minik/workload:1.0",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": f"VAR_{k}", "value": f"value-{k}"} for k in range(6)],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }


def deployment(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": {"containers": [container()]}},
        },
    }


def raw_pod(i: int, namespace: str) -> bytes:
    """The pod a ReplicaSet would create, created directly (no owner)."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"raw-{i:05d}", "namespace": namespace, "labels": LABELS},
            "spec": {"containers": [container()]},
        }
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def settled_rss(pid: int, timeout: float = 60.0) -> float:
    """RSS once it stops growing (three readings 1 s apart within 1%), or at the deadline."""
    deadline = time.monotonic() + timeout
    readings = [rss_mib(pid)]
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        readings.append(rss_mib(pid))
        last = readings[-3:]
        if len(last) == 3 and max(last) - min(last) <= 0.01 * max(last):
            break
    return readings[-1]


class Api:
    """The few calls the benchmark makes, over one HTTPS client."""

    def __init__(self, url: str, token: str, ca: Path) -> None:
        self.url = url
        self.client = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            verify=ssl.create_default_context(cafile=ca),
        )

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        content = json.dumps(body).encode() if body is not None else None
        r = await self.client.request(method, path, content=content, headers={"Content-Type": content_type})
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    async def count_pods(self, namespace: str, want: int, since: str, started: float) -> float:
        """Seconds from ``started`` until ``want`` pods were ADDED in ``namespace`` (watch)."""
        seen = 0
        params = {"watch": "1", "resourceVersion": since, "allowWatchBookmarks": "false"}
        async with self.client.stream(
            "GET", f"/api/v1/namespaces/{namespace}/pods", params=params, timeout=None
        ) as stream:
            async for line in stream.aiter_lines():
                if line and json.loads(line)["type"] == "ADDED":
                    seen += 1
                    if seen >= want:
                        return time.perf_counter() - started
        raise RuntimeError(f"the watch ended after {seen} pods")


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


async def main_async(args: argparse.Namespace, work: Path) -> int:
    etcd_port, peer_port = free_port(), free_port()
    etcd = start_etcd(work / "etcd", client_port=etcd_port, peer_port=peer_port, log_file=work / "etcd.log")
    wait_for_port(etcd_port)
    ca, crt, key = ensure_pki(work / "pki")
    token = ensure_tokens(work / "tokens.csv")["admin"]
    api_port = free_port()
    url = f"https://127.0.0.1:{api_port}"
    procs = [etcd]
    try:
        procs.append(
            spawn(
                [sys.executable, "-m", "minik.apiserver.main", "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
                 "--secure-port", str(api_port), "--tls-cert-file", str(crt), "--tls-private-key-file", str(key),
                 "--token-auth-file", str(work / "tokens.csv"), "--etcd-compaction-interval", "0"],
                work / "apiserver.log",
            )
        )  # fmt: skip
        wait_for_port(api_port)
        api = Api(url, token, ca)
        for _ in range(50):
            try:
                await api.call("GET", "/readyz")
                break
            except (httpx.HTTPError, RuntimeError, json.JSONDecodeError):
                await asyncio.sleep(0.2)
        for ns in ("bench-raw", "bench-deploy", "bench-bulk"):
            await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})

        # Baseline: the same pods created directly by one client, in the same run.
        print(f"raw apiserver: {args.replicas} pod creates, {args.concurrency} in flight ...", flush=True)
        bodies = [raw_pod(i, "bench-raw") for i in range(args.replicas)]
        raw = await run(
            url,
            lambda i: build_request("POST", f"{url}/api/v1/namespaces/bench-raw/pods", token, bodies[i]),
            total=args.replicas,
            concurrency=args.concurrency,
            ca_file=str(ca),
        )

        kubeconfig = work / "kubeconfig"
        write_kubeconfig(kubeconfig, url, ca, token)
        manager = spawn(
            [sys.executable, "-m", "minik.controllers.manager", "--kubeconfig", str(kubeconfig), "--port", "0",
             "--leader-elect", "false", "--log-level", "warning"],
            work / "controller-manager.log",
        )  # fmt: skip
        procs.append(manager)
        await asyncio.sleep(args.warmup)  # informers list and start watching
        idle_rss = await settled_rss(manager.pid)

        await api.call(
            "POST", "/apis/apps/v1/namespaces/bench-deploy/deployments", deployment("bench-deploy")
        )
        since = (await api.call("GET", "/api/v1/namespaces/bench-deploy/pods"))["metadata"]["resourceVersion"]
        print(f"controllers: Deployment scaled 0 → {args.replicas} ...", flush=True)
        started = time.perf_counter()
        counting = asyncio.create_task(api.count_pods("bench-deploy", args.replicas, since, started))
        await api.call(
            "PATCH",
            "/apis/apps/v1/namespaces/bench-deploy/deployments/bench/scale",
            {"spec": {"replicas": args.replicas}},
            content_type="application/merge-patch+json",
        )
        elapsed = await asyncio.wait_for(counting, timeout=600)
        controller_rate = args.replicas / elapsed

        bulk = args.cached - 2 * args.replicas
        print(f"memory: {bulk} more pods so that {args.cached} are cached ...", flush=True)
        bulk_bodies = [raw_pod(i, "bench-bulk") for i in range(bulk)]
        await run(
            url,
            lambda i: build_request(
                "POST", f"{url}/api/v1/namespaces/bench-bulk/pods", token, bulk_bodies[i]
            ),
            total=bulk,
            concurrency=args.concurrency,
            ca_file=str(ca),
        )
        cached_rss = await settled_rss(manager.pid)
        alive = manager.poll() is None
        await api.client.aclose()

        ratio = controller_rate / raw.rate if raw.rate else 0.0
        print()
        print("| measure | minik controllers | baseline (same run) | goal |")
        print("|---|---|---|---|")
        print(
            f"| pods created/s, Deployment 0 → {args.replicas} | {controller_rate:,.0f} ({elapsed:.2f} s) | "
            f"raw apiserver creates/s {raw.rate:,.0f}, {args.concurrency} in flight (ratio {ratio:.2f}x) | ≥ 0.8x |"
        )
        print(
            f"| controller-manager RSS, {args.cached:,} pods cached | {cached_rss:,.0f} MiB | "
            f"idle (empty informers) {idle_rss:,.0f} MiB → {(cached_rss - idle_rss) * 1024 / args.cached:,.1f} KiB/pod | |"
        )
        print(f"\nraw create codes {raw.codes}; controller-manager still running: {alive}")
        return 0 if alive else 1
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cached", type=int, default=10_000)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="minik-bench-ctrl-"))
    try:
        return asyncio.run(main_async(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
