"""Scheduler benchmark: pods bound per second through the API, next to pure decisions per second.

Run: ``.venv/bin/python bench/bench_scheduler.py`` (or ``make bench``). One run measures, on
the same workload — 1,000 fake nodes and 10,000 pods with mixed requests, some with node
selectors, tolerations, pod (anti-)affinity and topology spread:

* **pure decisions/s** — the default profile's framework on an in-memory snapshot, each
  decision assumed into the cache so later pods see earlier ones; no API, no JSON, no
  network. The ceiling the scheduling logic itself allows.
* **pods bound/s end to end** — its own etcd + minik-apiserver (free loopback ports), the
  nodes and pods created first, then a real ``minik-scheduler`` process started: it lists
  and watches, schedules, POSTs every binding and writes a ``Scheduled`` event per pod.
  Measured from the first binding to the last (read from the scheduler's
  ``/metrics``), then checked with one LIST that every pod has a ``spec.nodeName``.
  Bar: >= 270 pods/s, kube-scheduler's own SchedulingBasic threshold (set for 5,000 nodes).

It also prints the CPU seconds the scheduler, the API server and etcd used during the
run (the machine has two cores; whoever is at 100 % of one is the limit) and, with
``--profile``, the scheduler's hottest functions from a py-spy recording.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Connection, build_request, run
from minik.cluster.credentials import ensure_tokens, write_kubeconfig
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from minik.cluster.pki import ensure_pki
from minik.scheduler.framework.types import CycleState, PodInfo
from minik.scheduler.scheduler import Scheduler

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
NAMESPACE = "bench"


# -- the workload ---------------------------------------------------------------------------------


def make_node(i: int) -> Obj:
    labels = {"kubernetes.io/hostname": f"node-{i:04d}", ZONE: f"zone-{i % 10}"}
    if i % 4 == 0:
        labels["disktype"] = "ssd"
    taints = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}] if i % 20 == 0 else []
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    images = [{"names": ["registry.local/app:1.0"], "sizeBytes": 200 * 1024 * 1024}] if i % 3 == 0 else []
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"node-{i:04d}", "labels": labels},
        "spec": {"taints": taints},
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "images": images,
        },
    }


def make_pod(i: int, rng: random.Random) -> Obj:
    """20 kinds, by ``i % 20``: 0 best-effort, 1 nodeSelector, 2 required anti-affinity,
    3 preferred affinity, 4 topology spread, 5 toleration, 6 preferred node affinity,
    the rest plain pods with mixed requests."""
    kind = i % 20
    app = f"app-{i % 200}"
    labels = {"app": app}
    requests = {
        "cpu": rng.choice(["100m", "250m", "500m", "1"]),
        "memory": rng.choice(["128Mi", "256Mi", "512Mi", "1Gi"]),
    }
    ctr: Obj = {"name": "app", "image": "registry.local/app:1.0" if i % 2 else "nginx"}
    if kind != 0:
        ctr["resources"] = {"requests": requests}
    spec: Obj = {"containers": [ctr]}
    term = {"labelSelector": {"matchLabels": labels}}
    if kind == 1:
        spec["nodeSelector"] = {"disktype": "ssd"}
    elif kind == 2:
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {**term, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    elif kind == 3:
        spec["affinity"] = {
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 50, "podAffinityTerm": {**term, "topologyKey": ZONE}}
                ]
            }
        }
    elif kind == 4:
        spec["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", **term}
        ]
    elif kind == 5:
        spec["tolerations"] = [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
        ]
    elif kind == 6:
        spec["affinity"] = {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {
                            "matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]
                        },
                    }
                ]
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": NAMESPACE, "labels": labels},
        "spec": spec,
    }


def workload(nodes: int, pods: int, seed: int = 1) -> tuple[list[Obj], list[Obj]]:
    rng = random.Random(seed)
    return [make_node(i) for i in range(nodes)], [make_pod(i, rng) for i in range(pods)]


# -- pure decisions -------------------------------------------------------------------------------


def pure_decisions(nodes: list[Obj], pods: list[Obj]) -> tuple[float, float, int, Counter[str]]:
    """Schedule every pod on an in-memory cache; returns (wall s, cpu s, failures, pods per zone)."""
    scheduler = Scheduler(rng=random.Random(7))
    for node in nodes:
        scheduler.cache.add_node(node)
    infos = []
    for i, pod in enumerate(pods):
        body = orjson.loads(orjson.dumps(pod))
        body["metadata"]["uid"] = f"uid-{i}"
        body["spec"].setdefault("schedulerName", "default-scheduler")
        body["spec"].setdefault("priority", 0)
        infos.append(PodInfo.from_pod(body))
    fwk = scheduler.profiles["default-scheduler"]
    failures = 0
    zones: Counter[str] = Counter()
    wall, cpu = time.perf_counter(), time.process_time()
    for info in infos:
        scheduler.cache.update_snapshot(scheduler.snapshot)
        try:
            host = scheduler.schedule_pod(fwk, CycleState(), info)
        except Exception:
            failures += 1
            continue
        scheduler.cache.assume_pod(info.assumed_on(host))
        zones[scheduler.snapshot.node_info_map[host].labels[ZONE]] += 1
    return time.perf_counter() - wall, time.process_time() - cpu, failures, zones


# -- end to end -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def metric(port: int, name: str, labels: str = "") -> float:
    """One value from the scheduler's /metrics (0 if absent)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0.0
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def histogram_quantiles(port: int, name: str) -> tuple[float, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    buckets: list[tuple[float, float]] = []
    for line in body.splitlines():
        m = re.match(rf'{name}_bucket{{.*result="scheduled".*le="([^"]+)"}} (\S+)', line)
        if m:
            buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2))))
    total = buckets[-1][1] if buckets else 0

    def q(p: float) -> float:
        for bound, count in buckets:
            if count >= p * total:
                return bound
        return float("inf")

    return q(0.5), q(0.99)


def summarize_profile(raw: Path, top: int = 14) -> list[str]:
    """Own time by function from py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.rsplit(";", 1)[-1]
        own[re.sub(r" \((/[^)]*/)?([^/)]+)\)", r" (\2)", leaf)] += n
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)] if total else []


async def end_to_end(
    args: argparse.Namespace, work: Path, nodes: list[Obj], pods: list[Obj]
) -> dict[str, Any]:
    etcd_port, peer_port = free_port(), free_port()
    etcd = start_etcd(
        work / "etcd",
        client_port=etcd_port,
        peer_port=peer_port,
        log_file=work / "etcd.log",
        unsafe_no_fsync=True,
    )
    wait_for_port(etcd_port)
    ca, crt, key = ensure_pki(work / "pki")
    token = ensure_tokens(work / "tokens.csv")["admin"]
    api_port, metrics_port = free_port(), free_port()
    url = f"https://127.0.0.1:{api_port}"
    procs: list[subprocess.Popen[bytes]] = [etcd]
    out: dict[str, Any] = {}
    try:
        with open(work / "apiserver.log", "ab") as log:
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "minik.apiserver.main",
                    "--etcd-servers",
                    f"http://127.0.0.1:{etcd_port}",
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
                    "--watch-cache-size",
                    str(max(10_000, 3 * len(pods))),
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(api)
        wait_for_port(api_port)
        await asyncio.sleep(1.0)
        conn = await Connection.open(url, str(ca))
        body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        await conn.request(build_request("POST", f"{url}/api/v1/namespaces", token, body))
        conn.close()

        print(f"creating {len(nodes)} nodes and {len(pods)} pods ...", flush=True)
        node_bodies = [orjson.dumps(n) for n in nodes]
        created = await run(
            url,
            lambda i: build_request("POST", f"{url}/api/v1/nodes", token, node_bodies[i]),
            total=len(nodes),
            concurrency=32,
            ca_file=str(ca),
        )
        assert created.codes == {201: len(nodes)}, created.codes
        pod_bodies = [orjson.dumps(p) for p in pods]
        pod_path = f"{url}/api/v1/namespaces/{NAMESPACE}/pods"
        created = await run(
            url,
            lambda i: build_request("POST", pod_path, token, pod_bodies[i]),
            total=len(pods),
            concurrency=args.concurrency,
            ca_file=str(ca),
        )
        assert created.codes == {201: len(pods)}, created.codes

        kubeconfig = write_kubeconfig(work / "kubeconfig", url, ca, token)
        print("starting minik-scheduler ...", flush=True)
        with open(work / "scheduler.log", "ab") as log:
            sched = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "minik.scheduler.main",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--leader-elect=false",
                    "--metrics-port",
                    str(metrics_port),
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(sched)
        started = time.perf_counter()
        spy: subprocess.Popen[bytes] | None = None
        if args.profile:
            spy_bin = Path(sys.executable).parent / "py-spy"
            spy = subprocess.Popen(
                [
                    str(spy_bin),
                    "record",
                    "--pid",
                    str(sched.pid),
                    "--rate",
                    "97",
                    "--format",
                    "raw",
                    "--output",
                    str(work / "profile.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        first = done = None
        cpu0: dict[str, float] = {}
        deadline = started + args.timeout
        while time.perf_counter() < deadline:
            if sched.poll() is not None:
                raise RuntimeError(f"minik-scheduler exited:\n{(work / 'scheduler.log').read_text()[-3000:]}")
            bound = await metric(metrics_port, "scheduler_schedule_attempts_total", 'result="scheduled"')
            now = time.perf_counter()
            if first is None and bound > 0:
                first = now
                cpu0 = {
                    "scheduler": cpu_seconds(sched.pid),
                    "apiserver": cpu_seconds(api.pid),
                    "etcd": cpu_seconds(etcd.pid),
                }
                first_count = bound
            if bound >= len(pods):
                done = now
                break
            await asyncio.sleep(0.2)
        if first is None or done is None:
            raise RuntimeError(f"not all pods were bound within {args.timeout}s")
        out["cpu"] = {
            "scheduler": cpu_seconds(sched.pid) - cpu0["scheduler"],
            "apiserver": cpu_seconds(api.pid) - cpu0["apiserver"],
            "etcd": cpu_seconds(etcd.pid) - cpu0["etcd"],
        }
        out["window"] = done - first
        out["rate"] = (len(pods) - first_count) / (done - first)
        out["with_startup"] = len(pods) / (done - started)
        out["startup"] = first - started
        out["attempts"] = {
            r: await metric(metrics_port, "scheduler_schedule_attempts_total", f'result="{r}"')
            for r in ("scheduled", "unschedulable", "error")
        }
        out["latency"] = await histogram_quantiles(
            metrics_port, "scheduler_scheduling_attempt_duration_seconds"
        )
        out["e2e_latency"] = await histogram_quantiles(
            metrics_port, "scheduler_e2e_scheduling_duration_seconds"
        )
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
            profile = work / "profile.txt"
            out["profile"] = summarize_profile(profile) if profile.exists() else []
            if args.profile != "-" and profile.exists():
                shutil.copy(profile, args.profile)

        # The API's truth: every pod has a node, and the nodes are not overcommitted.
        conn = await Connection.open(url, str(ca))
        _code, listing = await conn.request(build_request("GET", pod_path, token))
        conn.close()
        items = orjson.loads(listing)["items"]
        out["bound_in_api"] = sum(1 for p in items if p["spec"].get("nodeName"))
        out["nodes_used"] = len({p["spec"].get("nodeName") for p in items if p["spec"].get("nodeName")})
        await asyncio.sleep(2.0)  # let the event recorder drain
        conn = await Connection.open(url, str(ca))
        _, listing = await conn.request(
            build_request("GET", f"{url}/api/v1/namespaces/{NAMESPACE}/events", token)
        )
        conn.close()
        out["scheduled_events"] = sum(
            1 for e in orjson.loads(listing)["items"] if e.get("reason") == "Scheduled"
        )
        return out
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)


async def main_async(args: argparse.Namespace, work: Path) -> int:
    nodes, pods = workload(args.nodes, args.pods)
    print(f"pure decisions: {args.nodes} nodes, {args.pods} pods ...", flush=True)
    wall, cpu, failures, zones = pure_decisions(nodes, pods)
    pure_rate = args.pods / wall
    e2e = None if args.pure_only else await end_to_end(args, work, nodes, pods)

    print()
    print("| measure | minik | baseline (same run) | bar |")
    print("|---|---|---|---|")
    if e2e is not None:
        print(
            f"| pods bound/s end to end ({args.nodes:,} nodes, {args.pods:,} pods) | {e2e['rate']:,.0f} "
            f"| pure decisions/s {pure_rate:,.0f} | ≥ 270 |"
        )
        print(
            f"| incl. scheduler start-up (list+watch of {args.pods:,} pods) | {e2e['with_startup']:,.0f} "
            f"(first bind after {e2e['startup']:.1f} s) | | |"
        )
        p50, p99 = e2e["latency"]
        e50, e99 = e2e["e2e_latency"]
        print(
            f"| attempt latency p50 / p99 (cycle start → bind done) | ≤ {p50 * 1000:g} / ≤ {p99 * 1000:g} ms | | |"
        )
        print(
            f"| pod e2e latency p50 / p99 (first attempt → bound) | ≤ {e50 * 1000:g} / ≤ {e99 * 1000:g} ms | | |"
        )
    else:
        print(f"| pure decisions/s ({args.nodes:,} nodes, {args.pods:,} pods) | {pure_rate:,.0f} | | |")
    print(f"| pure decisions/s by CPU time | {args.pods / cpu:,.0f} ({failures} unschedulable) | | |")
    if e2e is not None:
        window = e2e["window"]
        cpu_used = e2e["cpu"]
        print()
        print(
            f"bound {e2e['bound_in_api']:,}/{args.pods:,} pods (per LIST) on {e2e['nodes_used']:,} nodes; "
            f"attempts {e2e['attempts']}; Scheduled events written {e2e['scheduled_events']:,}"
        )
        print(
            f"CPU during the {window:.1f} s window (2 cores): "
            + ", ".join(f"{k} {v:.1f} s ({100 * v / window:.0f}% of a core)" for k, v in cpu_used.items())
        )
        print(f"pods per zone (pure run): {dict(sorted(zones.items()))}")
        if e2e.get("profile"):
            print("\nscheduler profile (py-spy, own time):")
            for line in e2e["profile"]:
                print("  " + line)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64, help="connections used to create the pods")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="give up on binding after this many seconds"
    )
    parser.add_argument("--pure-only", action="store_true", help="skip the end-to-end part")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="-",
        default=None,
        help="record the scheduler with py-spy (optionally keep the raw profile at this path)",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="minik-bench-sched-"))
    try:
        return asyncio.run(main_async(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
