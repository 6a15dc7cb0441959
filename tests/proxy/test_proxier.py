"""minik-proxy end to end: a real API server, real informers, real rules, real connections.

The proxy process (:class:`~minik.proxy.main.ProxyApp`, in-process) runs in the host
network namespace so it can reach the fixture API server on 127.0.0.1, but with ``--netns``
every rule, route, link and sysctl it writes — and, in userspace mode, every listener it
opens — lives in the scratch *node* namespace of :class:`~tests.proxy.netns.Topology`.  The
host's own tables are never touched.  The test creates a selector-less Service and a
hand-made EndpointSlice pointing at the TCP servers of the *backends* namespace, then
connects from the node namespace to the ClusterIP and NodePort.

Per mode (iptables, nftables, userspace, and ipvs, which falls back to iptables here):

* every endpoint answers through the ClusterIP, NodePort on the node address and 127.0.0.1;
* an endpoint removed from the EndpointSlice gets no new connections one second later;
* sessionAffinity ClientIP sticks; a Service without endpoints refuses at once;
* /healthz is 200 and /metrics has the sync histogram;
* SIGTERM-style stop leaves the rules in place, and ``minik-proxy --cleanup`` then leaves
  nothing of ours in ``iptables-save`` / ``nft list ruleset`` / links / routes / sysctls.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.proxy.hostexec import Runner
from minik.proxy.iptables import IptablesConfig
from minik.proxy.iptables_applier import IptablesApplier
from minik.proxy.main import ProxyApp, main, parse_args
from minik.proxy.model import build_model
from minik.proxy.nftables import NftConfig
from minik.proxy.nftables_applier import DOCKER_FORWARD_CHAIN, NftablesApplier
from minik.proxy.safety import ROUTE_LOCALNET, Trap
from tests.conftest import APIServerProcess
from tests.proxy.netns import Backends, Topology, connect, netns_supported
from tests.proxy.objects import endpoint, endpoint_slice, service

_reason = netns_supported() or (
    None if shutil.which("iptables-restore") and shutil.which("nft") else "iptables/nft not installed"
)
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


@pytest.fixture()
def topo() -> Iterator[tuple[Topology, Backends]]:
    t = Topology()
    t.create()
    backends = Backends(t.backends_ns, t.backend_ips)
    backends.start()
    try:
        yield t, backends
    finally:
        backends.stop()
        t.destroy()


class Names:
    """Unique names for everything one proxy run creates."""

    def __init__(self, topo: Topology, tmp_path: Path) -> None:
        tag = secrets.token_hex(3)
        self.netns = topo.node
        self.table = f"minik-t-{tag}"
        self.bridge = f"mt{tag}"
        self.state_dir = tmp_path / "state"

    def flags(self) -> list[str]:
        return [
            "--netns", self.netns, "--nft-table", self.table, "--trap-bridge", self.bridge,
            "--state-dir", str(self.state_dir),
        ]  # fmt: skip


@asynccontextmanager
async def running_proxy(
    apiserver: APIServerProcess, topo: Topology, names: Names, mode: str, ns: str
) -> AsyncIterator[ProxyApp]:
    args = parse_args(
        [
            "--kubeconfig", str(apiserver.kubeconfig), "--proxy-mode", mode,
            "--node-name", "node-a", "--node-ip", topo.node_ip,
            "--cluster-cidr", "10.244.0.0/16", "--service-cidr", "10.96.0.0/12",
            "--min-sync-period", "0.1", "--sync-period", "30", "--scheduler", "rr",
            "--healthz-port", "0", "--healthz-bind-address", "127.0.0.1", "--metrics-port", "0",
            "--watch-namespace", ns, *names.flags(),
        ]
    )  # fmt: skip
    app = ProxyApp(args)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()  # leaves the rules in place, as upstream does on SIGTERM


async def create(client: httpx.AsyncClient, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=obj)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def put(client: httpx.AsyncClient, path: str, obj: dict[str, Any]) -> None:
    r = await client.put(path, json=obj)
    assert r.status_code == 200, r.text


def spec_service(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    svc = service(name, "", namespace=ns, **spec)
    for key in ("clusterIP", "clusterIPs"):
        svc["spec"].pop(key)  # let the API server allocate
    svc["spec"]["ports"] = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    return svc


async def answers(netns: str, addr: str, port: int, n: int) -> Counter[str]:
    return Counter([await asyncio.to_thread(connect, netns, addr, port) for _ in range(n)])


async def refused_within(netns: str, addr: str, port: int) -> float:
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(connect, netns, addr, port, timeout=3)
    return time.monotonic() - start


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def assert_nothing_of_ours(names: Names) -> None:
    runner = Runner(netns=names.netns)
    saved = runner.run(["iptables-save"])
    assert "KUBE-" not in saved and DOCKER_FORWARD_CHAIN not in saved, saved
    ruleset = runner.run(["nft", "list", "ruleset"])
    assert names.table not in ruleset and "KUBE-" not in ruleset, ruleset
    assert names.bridge not in runner.run(["ip", "-o", "link"])
    assert "10.96.0.0/12" not in runner.run(["ip", "route"])
    assert runner.read_sysctl(ROUTE_LOCALNET) == "0"


@pytest.mark.parametrize("mode", ["iptables", "nftables", "userspace", "ipvs"])
async def test_proxy_follows_the_api(
    mode: str,
    apiserver: APIServerProcess,
    ns: str,
    topo: tuple[Topology, Backends],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t, _ = topo
    names = Names(t, tmp_path)
    node = t.node
    # A new network namespace inherits the host's route_localnet, which a running minik
    # cluster sets to 1: start from 0 so that the cleanup check below means something.
    Runner(netns=node).write_sysctl(ROUTE_LOCALNET, "0")
    caplog.set_level(logging.WARNING, logger="minik.proxy")
    base = f"/api/v1/namespaces/{ns}/services"
    slices_path = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    async with apiserver.async_client() as api:
        web = await create(api, base, spec_service("web", ns, type="NodePort"))
        sticky = await create(
            api, base,
            spec_service("sticky", ns, sessionAffinity="ClientIP",
                         sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
        )  # fmt: skip
        empty = await create(api, base, spec_service("empty", ns))
        web_ip, node_port = web["spec"]["clusterIP"], web["spec"]["ports"][0]["nodePort"]
        sticky_ip, empty_ip = sticky["spec"]["clusterIP"], empty["spec"]["clusterIP"]
        web_slice = endpoint_slice("web", [endpoint(ip) for ip in t.backend_ips], namespace=ns)
        web_slice = await create(api, slices_path, web_slice)
        await create(
            api, slices_path, endpoint_slice("sticky", [endpoint(ip) for ip in t.backend_ips], namespace=ns)
        )

        async with running_proxy(apiserver, t, names, mode, ns) as app:
            if mode == "ipvs":
                assert app.proxier.mode == "iptables"
                warnings = [r for r in caplog.records if "IPVS" in r.getMessage()]
                assert (
                    len(warnings) == 1 and "falling back to the iptables proxier" in warnings[0].getMessage()
                )
            await wait_for(lambda: _serving(node, web_ip))

            # ClusterIP: every replica answers; rr in userspace is exact, random elsewhere.
            got = await answers(node, web_ip, 80, 45)
            assert set(got) == set(t.backend_ips) and min(got.values()) >= 4, got
            # NodePort on the node address and on 127.0.0.1.
            assert set(await answers(node, t.node_ip, node_port, 30)) == set(t.backend_ips)
            assert set(await answers(node, "127.0.0.1", node_port, 30)) == set(t.backend_ips)
            # ClientIP affinity sticks.
            assert len(await answers(node, sticky_ip, 80, 12)) == 1
            # No endpoints: refused at once (not a timeout).
            assert await refused_within(node, empty_ip, 80) < 0.5

            # Remove one endpoint: one second later it gets no new connections.
            gone = t.backend_ips[2]
            web_slice["endpoints"] = [endpoint(ip) for ip in t.backend_ips[:2]]
            changed_at = time.monotonic()
            await put(api, f"{slices_path}/{web_slice['metadata']['name']}", web_slice)
            await asyncio.sleep(max(0.0, changed_at + 1.0 - time.monotonic()))
            got = await answers(node, web_ip, 80, 30)
            assert gone not in got and set(got) == set(t.backend_ips[:2]), got

            # Health and metrics.
            assert app.healthz is not None and app.metrics is not None
            async with httpx.AsyncClient() as http:
                health = await http.get(f"http://127.0.0.1:{app.healthz.port}/healthz")
                assert health.status_code == 200, health.text
                metrics = (await http.get(f"http://127.0.0.1:{app.metrics.port}/metrics")).text
            assert "minik_proxy_sync_proxy_rules_duration_seconds_count" in metrics
            assert "minik_proxy_network_programming_duration_seconds_count" in metrics
            assert app.proxier.metrics.programming.count >= 1
            assert app.proxier.metrics.rules() > 0

        # Stopped without --cleanup-on-exit: the kernel rules are left in place.
        if mode != "userspace":  # (userspace: the relays died with the process)
            assert set(await answers(node, web_ip, 80, 20)) == set(t.backend_ips[:2])
        # minik-proxy --cleanup removes everything any mode made.
        await asyncio.to_thread(main, ["--cleanup", *names.flags()])
        assert_nothing_of_ours(names)


async def _serving(netns: str, addr: str) -> bool:
    try:
        await asyncio.to_thread(connect, netns, addr, 80, timeout=0.5)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_forwarded_service_traffic_survives_docker_forward_drop(
    mode: str, topo: tuple[Topology, Backends], tmp_path: Path
) -> None:
    """A Docker-like node (FORWARD policy DROP, a DOCKER-USER chain jumped to first): a client
    in the backends namespace reaches a ClusterIP through the node, i.e. *forwarded* — and
    lands on every endpoint, itself included (hairpin)."""
    t, _ = topo
    runner = Runner(netns=t.node)
    runner.write_sysctl("net.ipv4.ip_forward", "1")
    runner.run(["iptables", "-w", "-N", "DOCKER-USER"])
    runner.run(["iptables", "-w", "-A", "DOCKER-USER", "-j", "RETURN"])
    runner.run(["iptables", "-w", "-A", "FORWARD", "-j", "DOCKER-USER"])
    runner.run(["iptables", "-w", "-P", "FORWARD", "DROP"])
    Runner(netns=t.backends_ns).run(["ip", "route", "add", "10.96.0.0/12", "via", t.node_ip])
    trap = Trap(runner, bridge=f"mt{secrets.token_hex(3)}", state_file=tmp_path / "trap.json")
    applier: IptablesApplier | NftablesApplier
    if mode == "iptables":
        applier = IptablesApplier(IptablesConfig(cluster_cidr="10.244.0.0/16"), runner=runner, trap=trap)
    else:
        table = NftConfig(table=f"minik-t-{secrets.token_hex(3)}", cluster_cidr="10.244.0.0/16")
        applier = NftablesApplier(table, runner=runner, trap=trap)
    svc = service("web", "10.96.0.50")
    model = build_model([svc], [endpoint_slice("web", [endpoint(ip) for ip in t.backend_ips])], "node-a")
    client = t.backend_ips[0]
    try:
        applier.sync(model)
        user = runner.run(["iptables", "-w", "-S", "DOCKER-USER"]).splitlines()
        assert user[1].endswith("KUBE-PROXY-TRAP" if mode == "iptables" else DOCKER_FORWARD_CHAIN), user
        got = Counter(connect(t.backends_ns, "10.96.0.50", 80, source=client) for _ in range(45))
        assert set(got) == set(t.backend_ips), got
    finally:
        applier.cleanup()
        saved = runner.run(["iptables-save"])
        assert "KUBE-" not in saved and DOCKER_FORWARD_CHAIN not in saved, saved
