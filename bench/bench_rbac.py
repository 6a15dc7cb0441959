"""What authorization costs: pod creates/s with RBAC off and on, in the same run.

Run: ``.venv/bin/python bench/bench_rbac.py``. It starts one etcd and two minik-apiservers
on it -- ``--authorization-mode=AlwaysAllow`` and ``--authorization-mode=RBAC`` -- and
has the same user, *not* in ``system:masters`` (so RBAC really evaluates its bindings),
create pods in a namespace where a RoleBinding gives it ``edit``. The rounds alternate
(off, on, off, on, ...) so that drift in the machine's load falls on both sides.
Bar (issue 15): creates/s with RBAC on ≥ 90% of RBAC off. Throughput moves with whatever
else the machine runs, so the API server's CPU time per create is printed too: it is the
steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_apiserver import group_cpu_seconds, pod_body
from bench.loadgen import Connection, build_request, run
from minik.cluster.credentials import ensure_tokens
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from minik.cluster.pki import ensure_pki

USER_TOKEN = "bench-user-token-0123456789abcdef"


def start_apiserver(work: Path, etcd_url: str, mode: str, port: int) -> subprocess.Popen[bytes]:
    _ca, crt, key = ensure_pki(work / "pki")
    with open(work / f"apiserver-{mode}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "minik.apiserver.main", "--etcd-servers", etcd_url,
             "--secure-port", str(port), "--tls-cert-file", str(crt), "--tls-private-key-file", str(key),
             "--token-auth-file", str(work / "tokens.csv"), "--etcd-compaction-interval", "0",
             "--authorization-mode", mode],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


async def setup(url: str, ca: str, admin: str, namespace: str) -> None:
    """The namespace and a RoleBinding of ``edit`` to the bench user in it (written as admin)."""
    conn = await Connection.open(url, ca)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    await conn.request(build_request("POST", f"{url}/api/v1/namespaces", admin, orjson.dumps(ns)))
    binding = {
        "metadata": {"name": "bench-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "User", "name": "bench-user"}],
    }
    path = f"{url}/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"
    await conn.request(build_request("POST", path, admin, orjson.dumps(binding)))
    conn.close()


async def main_async(args: argparse.Namespace, work: Path) -> int:
    etcd_port, peer_port = free_port(), free_port()
    etcd = start_etcd(work / "etcd", client_port=etcd_port, peer_port=peer_port, log_file=work / "etcd.log")
    wait_for_port(etcd_port)
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    ca = str(ensure_pki(work / "pki")[0])
    admin = ensure_tokens(work / "tokens.csv")["admin"]
    with (work / "tokens.csv").open("a") as f:
        f.write(f"{USER_TOKEN},bench-user,5000\n")
    ports = {"AlwaysAllow": free_port(), "RBAC": free_port()}
    servers = {mode: start_apiserver(work, etcd_url, mode, port) for mode, port in ports.items()}
    procs = [etcd, *servers.values()]
    try:
        for port in ports.values():
            wait_for_port(port)
        await asyncio.sleep(2.0)  # bootstrap roles written and aggregated
        urls = {mode: f"https://127.0.0.1:{port}" for mode, port in ports.items()}
        for mode, url in urls.items():
            await setup(url, ca, admin, f"bench-{mode.lower()}")
        await asyncio.sleep(1.0)
        totals = {mode: [0, 0.0, 0.0] for mode in urls}  # creates, seconds, apiserver CPU seconds
        per_round = args.pods // args.rounds
        for r in range(args.rounds):
            for mode, url in urls.items():
                namespace = f"bench-{mode.lower()}"
                bodies = [pod_body(r * per_round + i, namespace) for i in range(per_round)]
                path = f"{url}/api/v1/namespaces/{namespace}/pods"
                requests = [build_request("POST", path, USER_TOKEN, body) for body in bodies]
                cpu_before = group_cpu_seconds(servers[mode].pid)
                result = await run(
                    url,
                    requests.__getitem__,
                    total=per_round,
                    concurrency=args.concurrency,
                    ca_file=ca,
                )
                if set(result.codes) != {201}:
                    print(f"{mode}: unexpected answers {result.codes}", file=sys.stderr)
                    return 1
                totals[mode][0] += result.count
                totals[mode][1] += result.elapsed
                totals[mode][2] += group_cpu_seconds(servers[mode].pid) - cpu_before
        off = totals["AlwaysAllow"][0] / totals["AlwaysAllow"][1]
        on = totals["RBAC"][0] / totals["RBAC"][1]
        ratio = on / off
        cpu = {mode: 1000 * t[2] / t[0] for mode, t in totals.items()}
        print("| authorization | pod creates/s | apiserver CPU ms per create |")
        print("|---|---|---|")
        print(f"| AlwaysAllow | {off:.0f} | {cpu['AlwaysAllow']:.2f} |")
        print(f"| RBAC (user bound to edit) | {on:.0f} | {cpu['RBAC']:.2f} |")
        print(f"\nCPU per create, RBAC off / on: {cpu['AlwaysAllow'] / cpu['RBAC']:.1%}")
        verdict = "PASS" if ratio >= 0.9 else "FAIL"
        print(f"RBAC on / off, creates/s: {ratio:.1%} (bar ≥ 90%) {verdict}")
        return 0 if ratio >= 0.9 else 1
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pods", type=int, default=6_000, help="creates per side, over all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="minik-bench-rbac-"))
    try:
        return asyncio.run(main_async(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
