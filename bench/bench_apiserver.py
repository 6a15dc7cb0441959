"""API server benchmark: creates, latency, LIST and watch fan-out, next to raw etcd.

Run: ``.venv/bin/python bench/bench_apiserver.py`` (or ``make bench``). It starts
its own etcd and minik-apiserver on free loopback ports and prints, from one run:

* apiserver pod creates/s (10k pods of ~1 KiB, 64 in flight) next to raw etcd
  puts/s (aetcd, same value size, same concurrency) — bar: ≥ 25%;
* p50/p99 create latency at full speed and at a paced 500 req/s — bar: p99 ≤ 50 ms;
* LIST of the 10k pods — bar: ≤ 300 ms;
* watch delivery latency p50/p99 with 500 watchers while writing 100 objects/s — bar: p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aetcd
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Connection, Result, build_request, run
from minik.cluster.credentials import ensure_tokens
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from minik.cluster.pki import ensure_pki


def pod_body(i: int, namespace: str) -> bytes:
    """A realistic ~1 KiB pod."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"pod-{i:05d}",
                "namespace": namespace,
                "labels": {"app": "bench", "tier": "web", "shard": str(i % 16)},
                "annotations": {"bench.minik.dev/note": "x" * 200},
            },
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "minik/workload:1.0",
                        "command": ["/bin/httpd", "-f", "-p", "8080"],
                        "env": [{"name": f"VAR_{k}", "value": f"value-{k}"} for k in range(6)],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "16Mi"},
                            "limits": {"memory": "64Mi"},
                        },
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
                    }
                ]
            },
        }
    )


async def raw_etcd_puts(
    endpoint: str, total: int, concurrency: int, value_size: int, rate: float = 0.0
) -> Result:
    """``total`` puts, ``concurrency`` in flight; with ``rate``, put *i* starts at ``i / rate`` s."""
    host, port = endpoint.removeprefix("http://").split(":")
    client = aetcd.Client(host=host, port=int(port))
    await client.connect()
    value = b"v" * value_size
    result = Result()
    counter = iter(range(total))
    started = time.perf_counter()

    async def worker() -> None:
        for i in counter:
            if rate > 0:
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            t0 = time.perf_counter()
            await client.put(f"/bench/raw/{i:06d}".encode(), value)
            result.latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    await client.delete_prefix(b"/bench/raw/")
    await client.close()
    return result


@dataclass
class Fanout:
    """What the watchers of :func:`watch_fanout` saw: every event is delivered or accounted for."""

    latencies: list[float] = field(default_factory=list)
    #: Watches the server ended before the run was over (a client that fell too far
    #: behind is disconnected; it would re-watch), and the events they did not get.
    closed: int = 0
    missed_by_closed: int = 0
    #: Watches still open at the end, and the events they had not received by then.
    missed_by_open: int = 0


async def watch_fanout(
    url: str, token: str, ca: str, namespace: str, *, watchers: int, rate: float, seconds: float
) -> Fanout:
    """Open ``watchers`` watches, write ``rate`` objects/s, return delivery latencies and losses."""
    result = Fanout()
    total = int(rate * seconds)
    ready = 0
    ready_event = asyncio.Event()
    stop = asyncio.Event()
    # timeoutSeconds counts from each watch's own request, and opening 500 TLS watches
    # on a busy machine can take half a minute: a short one ended the first watches
    # while writes were still going (that was the "396,236 of 500,000" once reported).
    # An hour is past any run, so every watch that ends early was ended by the server.
    path = f"{url}/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion=0&timeoutSeconds=3600"
    request = build_request("GET", path, token)

    async def watcher() -> None:
        nonlocal ready
        conn = await Connection.open(url, ca)
        conn.writer.write(request)
        while True:  # headers
            line = await conn.reader.readline()
            if line in (b"\r\n", b""):
                break
        ready += 1
        if ready == watchers:
            ready_event.set()
        marker = b'"bench/sent":"'
        received = 0
        ended_by_server = False
        try:
            while not stop.is_set():
                size_line = await asyncio.wait_for(conn.reader.readline(), 5)
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    ended_by_server = True  # the end of the chunked stream
                    break
                chunk = await conn.reader.readexactly(size + 2)
                now = time.time()
                pos = chunk.find(marker)
                while pos >= 0:
                    end = chunk.index(b'"', pos + len(marker))
                    result.latencies.append(now - float(chunk[pos + len(marker) : end]))
                    received += 1
                    pos = chunk.find(marker, end)
        except (asyncio.IncompleteReadError, ConnectionError):
            ended_by_server = not stop.is_set()
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            conn.close()
            if ended_by_server:
                result.closed += 1
                result.missed_by_closed += max(0, total - received)
            else:
                result.missed_by_open += max(0, total - received)

    tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
    await asyncio.wait_for(ready_event.wait(), 60)
    writer = await Connection.open(url, ca)
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = orjson.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"w-{i:05d}", "annotations": {"bench/sent": f"{time.time():.6f}"}},
                "data": {"i": str(i)},
            }
        )
        code, _ = await writer.request(
            build_request("POST", f"{url}/api/v1/namespaces/{namespace}/configmaps", token, body)
        )
        assert code == 201, code
    writer.close()
    deadline = time.monotonic() + 10
    while len(result.latencies) < total * watchers and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by every process in a process group.

    CPU per request is the figure that does not depend on what else the machine is doing
    (throughput does: the load generator and etcd share the same cores).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state; pgrp is the 5th field of stat
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def main_async(args: argparse.Namespace, work: Path) -> int:
    etcd_port, peer_port = free_port(), free_port()
    etcd = start_etcd(work / "etcd", client_port=etcd_port, peer_port=peer_port, log_file=work / "etcd.log")
    wait_for_port(etcd_port)
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    ca, crt, key = ensure_pki(work / "pki")
    token = ensure_tokens(work / "tokens.csv")["admin"]
    api_port = free_port()
    url = f"https://127.0.0.1:{api_port}"
    procs = [etcd]
    try:
        print(f"raw etcd: {args.pods} puts of 1 KiB, {args.concurrency} in flight ...", flush=True)
        etcd_cpu_before = group_cpu_seconds(etcd.pid)
        raw = await raw_etcd_puts(etcd_url, args.pods, args.concurrency, 1024)
        etcd_cpu_per_put = (group_cpu_seconds(etcd.pid) - etcd_cpu_before) / args.pods
        print(f"raw etcd: {args.paced} puts paced at 500/s ...", flush=True)
        raw_paced = await raw_etcd_puts(etcd_url, args.paced, 32, 1024, rate=500)

        with open(work / "apiserver.log", "ab") as log:
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "minik.apiserver.main",
                    "--etcd-servers",
                    etcd_url,
                    "--secure-port",
                    str(api_port),
                    "--tls-cert-file",
                    str(crt),
                    "--tls-private-key-file",
                    str(key),
                    "--token-auth-file",
                    str(work / "tokens.csv"),
                    "--etcd-compaction-interval",
                    "0",
                    "--workers",
                    str(args.workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(api)
        wait_for_port(api_port)
        await asyncio.sleep(1.0)
        conn = await Connection.open(url, str(ca))
        for ns in ("bench", "bench-paced", "bench-watch"):
            body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            await conn.request(build_request("POST", f"{url}/api/v1/namespaces", token, body))

        print(f"apiserver: {args.pods} pod creates, {args.concurrency} in flight ...", flush=True)
        bodies = [pod_body(i, "bench") for i in range(args.pods)]
        create_path = f"{url}/api/v1/namespaces/bench/pods"
        api_cpu_before, etcd_cpu_before = group_cpu_seconds(api.pid), group_cpu_seconds(etcd.pid)
        creates = await run(
            url,
            lambda i: build_request("POST", create_path, token, bodies[i]),
            total=args.pods,
            concurrency=args.concurrency,
            ca_file=str(ca),
        )

        api_cpu_per_create = (group_cpu_seconds(api.pid) - api_cpu_before) / args.pods
        etcd_cpu_per_create = (group_cpu_seconds(etcd.pid) - etcd_cpu_before) / args.pods

        print(f"apiserver: {args.paced} creates paced at 500/s ...", flush=True)
        paced_bodies = [pod_body(i, "bench-paced") for i in range(args.paced)]
        paced_path = f"{url}/api/v1/namespaces/bench-paced/pods"
        paced = await run(
            url,
            lambda i: build_request("POST", paced_path, token, paced_bodies[i]),
            total=args.paced,
            concurrency=32,
            ca_file=str(ca),
            rate=500,
        )

        print(f"LIST of {args.pods} pods (5 times) ...", flush=True)
        conn.close()
        conn = await Connection.open(url, str(ca))
        list_times = []
        list_raw = build_request("GET", f"{url}/api/v1/namespaces/bench/pods", token)
        items = 0
        for _ in range(5):
            t0 = time.perf_counter()
            _code, body = await conn.request(list_raw)
            list_times.append(time.perf_counter() - t0)
            items = len(json.loads(body)["items"])
        conn.close()

        print(
            f"watch: {args.watchers} watchers, {args.watch_rate} writes/s for {args.watch_seconds}s ...",
            flush=True,
        )
        fanout = await watch_fanout(
            url,
            token,
            str(ca),
            "bench-watch",
            watchers=args.watchers,
            rate=args.watch_rate,
            seconds=args.watch_seconds,
        )
        expected = int(args.watch_rate * args.watch_seconds) * args.watchers
        delivery = fanout.latencies

        ratio = creates.rate / raw.rate if raw.rate else 0
        ms = 1000.0
        print()
        print("| measure | minik | baseline (same run) | bar |")
        print("|---|---|---|---|")
        print(
            f"| creates/s (1 KiB pods, {args.concurrency} in flight) | {creates.rate:,.0f} | raw etcd puts/s {raw.rate:,.0f} "
            f"(ratio {ratio:.0%}) | ≥ 25% |"
        )
        us = 1e6
        print(
            f"| CPU per create (apiserver processes) | {api_cpu_per_create * us:,.0f} µs "
            f"(+ etcd {etcd_cpu_per_create * us:,.0f} µs) | etcd CPU per raw put {etcd_cpu_per_put * us:,.0f} µs | |"
        )
        print(
            f"| create latency p50 / p99, full speed | {creates.median() * ms:.1f} / {creates.percentile(99) * ms:.1f} ms | "
            f"raw put p50 / p99 {raw.median() * ms:.1f} / {raw.percentile(99) * ms:.1f} ms | |"
        )
        print(
            f"| create latency p50 / p99 at 500 req/s | {paced.median() * ms:.1f} / {paced.percentile(99) * ms:.1f} ms "
            f"(achieved {paced.rate:,.0f}/s) | raw put p50 / p99 at 500/s {raw_paced.median() * ms:.1f} / "
            f"{raw_paced.percentile(99) * ms:.1f} ms | p99 ≤ 50 ms |"
        )
        print(f"| LIST {items} pods (median of 5) | {sorted(list_times)[2] * ms:.0f} ms | | ≤ 300 ms |")
        print(
            f"| watch delivery p50 / p99 ({args.watchers} watchers, {args.watch_rate:.0f} writes/s) | "
            f"{pct(delivery, 50) * ms:.0f} / {pct(delivery, 99) * ms:.0f} ms ({len(delivery):,}/{expected:,} delivered; "
            f"{fanout.closed} watches closed by the server, {fanout.missed_by_closed:,} events not sent to them; "
            f"{fanout.missed_by_open:,} events open watches had not received by the end) | | p99 ≤ 1 s |"
        )
        print(f"\nstatus codes: creates {creates.codes}, paced {paced.codes}")
        return 0
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
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--paced", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--workers", type=int, default=1, help="apiserver processes (minik-apiserver --workers)"
    )
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--watch-rate", type=float, default=100.0)
    parser.add_argument("--watch-seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # The load generator must not add pauses of its own to the latencies it measures:
    # its heap (10k request bodies, the latencies) is long-lived, so no full collections.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    work = Path(tempfile.mkdtemp(prefix="minik-bench-"))
    try:
        return asyncio.run(main_async(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
