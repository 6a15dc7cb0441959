"""Real-kernel tests: rendered rules applied inside a scratch network namespace.

Each test builds a *node* namespace and a *backends* namespace joined by a veth pair (see
``netns.py``), runs an applier against the node namespace with ``Runner(netns=...)`` — the
same code path as on a host — and then opens real TCP/UDP connections from inside the node
namespace to ClusterIPs and NodePorts.  Nothing leaves the two namespaces: the service range
is trapped inside the node namespace before any rule is written, and every test ends with
the applier's cleanup and the namespaces' deletion.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from minik.proxy.hostexec import CommandError, Runner
from minik.proxy.iptables import IptablesConfig
from minik.proxy.iptables_applier import IptablesApplier
from minik.proxy.model import ServicePortInfo, ServicePortName, build_model
from minik.proxy.nftables import NftConfig
from minik.proxy.nftables_applier import NftablesApplier
from minik.proxy.safety import ROUTE_LOCALNET, Trap
from minik.proxy.userspace import UserspaceApplier
from tests.proxy.netns import Backends, Topology, connect, netns_supported, ns_socket, udp_ask
from tests.proxy.objects import endpoint, endpoint_slice, service

_reason = netns_supported()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

WEB = ServicePortName("default", "web", "http")


class Applier(Protocol):
    trap: Trap

    def sync(self, model: Any, changed: Any = None, *, full: bool = False) -> Any: ...
    def setup(self) -> None: ...
    def cleanup(self) -> None: ...


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: install the Debian packages iptables and nftables")


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


def make_applier(mode: str, topo: Topology, tmp_path: Path) -> Applier:
    runner = Runner(netns=topo.node)
    trap = Trap(runner, bridge=f"mt{secrets.token_hex(4)}", state_file=tmp_path / "trap.json")
    if mode == "iptables":
        _need("iptables-restore")
        return IptablesApplier(IptablesConfig(cluster_cidr="10.244.0.0/16"), runner=runner, trap=trap)
    _need("nft")
    return NftablesApplier(NftConfig(table=f"minik-test-{secrets.token_hex(3)}"), runner=runner, trap=trap)


def services(
    topo: Topology, web_endpoints: list[str] | None = None
) -> dict[ServicePortName, ServicePortInfo]:
    eps = topo.backend_ips if web_endpoints is None else web_endpoints
    svcs = [
        service(
            "web",
            "10.96.0.50",
            type="NodePort",
            ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
        ),
        service("empty", "10.96.0.51"),
        service(
            "sticky",
            "10.96.0.52",
            sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        ),
        service("dns", "10.96.0.53", ports=[{"name": "dns", "protocol": "UDP", "port": 53}]),
    ]
    udp_port = [{"name": "dns", "protocol": "UDP", "port": 8080}]
    slices = [
        endpoint_slice("web", [endpoint(ip) for ip in eps]),
        endpoint_slice("sticky", [endpoint(ip) for ip in topo.backend_ips]),
        endpoint_slice("dns", [endpoint(ip) for ip in topo.backend_ips], ports=udp_port),
    ]
    return build_model(svcs, slices, "node-a", [topo.node_ip])


def answers(ns: str, addr: str, port: int, n: int = 45, **kw: Any) -> Counter[str]:
    return Counter(connect(ns, addr, port, **kw) for _ in range(n))


def refused_quickly(ns: str, addr: str, port: int) -> float:
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        connect(ns, addr, port, timeout=3)
    return time.monotonic() - start


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_trap_is_in_place_before_any_service_rule(mode: str, topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    applier = make_applier(mode, t, tmp_path)
    try:
        applier.setup()
        route = applier.trap.runner.run(["ip", "route", "get", "10.96.0.50"])
        assert f"dev {applier.trap.bridge}" in route
        assert refused_quickly(t.node, "10.96.0.50", 80) < 0.5  # rejected, never sent anywhere
    finally:
        applier.cleanup()


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_services_on_the_real_packet_path(mode: str, topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    applier = make_applier(mode, t, tmp_path)
    try:
        applier.sync(services(t))
        # ClusterIP: every replica answers, and not lopsidedly.
        got = answers(t.node, "10.96.0.50", 80)
        assert set(got) == set(t.backend_ips) and min(got.values()) >= 4, got
        # NodePort on the node's address and on 127.0.0.1 (route_localnet + masquerade).
        assert set(answers(t.node, t.node_ip, 30080, 30)) == set(t.backend_ips)
        assert set(answers(t.node, "127.0.0.1", 30080, 30)) == set(t.backend_ips)
        # ClientIP affinity: one client, one backend.
        assert len(answers(t.node, "10.96.0.52", 80, 15)) == 1
        # No endpoints: refused at once; an address no Service has: trapped and refused.
        assert refused_quickly(t.node, "10.96.0.51", 80) < 0.5
        assert refused_quickly(t.node, "10.96.0.99", 80) < 0.5
        # UDP.
        assert udp_ask(t.node, "10.96.0.53", 53) in t.backend_ips
    finally:
        applier.cleanup()


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_endpoint_change_is_small_and_takes_effect(mode: str, topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    applier = make_applier(mode, t, tmp_path)
    try:
        applier.sync(services(t))
        gone = t.backend_ips[2]
        result = applier.sync(services(t, t.backend_ips[:2]), {WEB})
        assert not result.full
        if mode == "iptables":
            assert (result.chains_written, result.chains_deleted, result.lines_edited) == (1, 1, 0)
        else:
            assert result.commands <= 8, result
        got = answers(t.node, "10.96.0.50", 80, 30)
        assert gone not in got and set(got) == set(t.backend_ips[:2])
        # ...and back, then to zero endpoints: refused at once.
        applier.sync(services(t), {WEB})
        assert set(answers(t.node, "10.96.0.50", 80)) == set(t.backend_ips)
        applier.sync(services(t, []), {WEB})
        assert refused_quickly(t.node, "10.96.0.50", 80) < 0.5
        assert refused_quickly(t.node, t.node_ip, 30080) < 0.5
        # A full resync of the same model changes nothing observable.
        applier.sync(services(t), full=True)
        assert set(answers(t.node, "10.96.0.50", 80)) == set(t.backend_ips)
    finally:
        applier.cleanup()


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_cleanup_leaves_nothing_of_ours(mode: str, topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    applier = make_applier(mode, t, tmp_path)
    runner = applier.trap.runner
    runner.write_sysctl(ROUTE_LOCALNET, "0")
    applier.sync(services(t))
    assert runner.read_sysctl(ROUTE_LOCALNET) == "1"
    applier.cleanup()
    saved = runner.run(["iptables-save"])
    assert "KUBE-" not in saved, saved
    ruleset = runner.run(["nft", "list", "ruleset"])
    assert "minik" not in ruleset and "KUBE-" not in ruleset, ruleset
    assert applier.trap.bridge not in runner.run(["ip", "-o", "link"])
    assert "10.96.0.0/12" not in runner.run(["ip", "route"])
    assert runner.read_sysctl(ROUTE_LOCALNET) == "0"
    applier.cleanup()  # idempotent


def test_userspace_mode_redirects_cluster_ip_to_its_own_listener(topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    _need("iptables-restore")
    runner = Runner(netns=t.node)
    trap = Trap(runner, bridge=f"mt{secrets.token_hex(4)}", state_file=tmp_path / "trap.json")
    factory: Callable[[int], socket.socket] = lambda kind: ns_socket(t.node, kind)  # noqa: E731
    applier = UserspaceApplier(scheduler="rr", runner=runner, trap=trap, socket_factory=factory)

    async def scenario() -> None:
        try:
            await applier.sync(services(t))
            order = [await asyncio.to_thread(connect, t.node, "10.96.0.50", 80) for _ in range(6)]
            assert order[:3] == order[3:] and sorted(order[:3]) == sorted(t.backend_ips)  # round robin
            assert await asyncio.to_thread(connect, t.node, t.node_ip, 30080) in t.backend_ips
            assert len({await asyncio.to_thread(connect, t.node, "10.96.0.52", 80) for _ in range(6)}) == 1
            assert await asyncio.to_thread(udp_ask, t.node, "10.96.0.53", 53) in t.backend_ips
            await asyncio.to_thread(refused_quickly, t.node, "10.96.0.51", 80)
        finally:
            await applier.cleanup()

    asyncio.run(scenario())
    assert "KUBE-" not in runner.run(["iptables-save"])
    assert trap.bridge not in runner.run(["ip", "-o", "link"])


def _hairpin_topology(t: Topology) -> None:
    """Let the backends namespace reach the service range through the node (like a pod)."""
    Runner(netns=t.node).write_sysctl("net.ipv4.ip_forward", "1")
    Runner(netns=t.backends_ns).run(["ip", "route", "add", "10.96.0.0/12", "via", t.node_ip])


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_hairpin_an_endpoint_reaches_itself_through_its_service(mode: str, topo: Any, tmp_path: Path) -> None:
    t, _ = topo
    _hairpin_topology(t)
    applier = make_applier(mode, t, tmp_path)
    me = t.backend_ips[0]
    try:
        applier.sync(services(t, [me]))
        # DNAT sends the packet back to its own source: only masquerade makes the reply
        # come back through the node, where conntrack un-NATs it.
        # (The nftables applier here has no cluster CIDR, so nothing else masquerades it.)
        assert connect(t.backends_ns, "10.96.0.50", 80, source=me) == me
        # The endpoint is replaced by another address: the hairpin follows it.
        other = t.backend_ips[1]
        applier.sync(services(t, [other]), {WEB})
        assert connect(t.backends_ns, "10.96.0.50", 80, source=other) == other
    finally:
        applier.cleanup()


def test_nftables_partial_syncs_touch_only_elements_and_both_appliers_agree(
    topo: Any, tmp_path: Path
) -> None:
    """Replacing an endpoint is element changes only, the same through libnftables and nft -f."""
    t, _ = topo
    for libnftables in (True, False):
        applier = make_applier("nftables", t, tmp_path)
        assert isinstance(applier, NftablesApplier)
        applier.runner.libnftables = libnftables
        try:
            applier.sync(services(t, t.backend_ips[:2]))
            result = applier.sync(services(t, [t.backend_ips[0], t.backend_ips[2]]), {WEB})
            script = applier.runner.history[-1]
            assert script == "nft -f -" if libnftables else script.startswith("nft -f -")
            # Delete + add one endpoints-tcp element; the hairpin set keeps both addresses (the
            # other Services still use them: reference counts).
            assert result.commands == 2, result
            got = answers(t.node, "10.96.0.50", 80, 30)
            assert set(got) == {t.backend_ips[0], t.backend_ips[2]}, got
            # A rejected transaction changes nothing and raises with nft's own message.
            with pytest.raises(CommandError, match=r"No such file or directory|does not exist"):
                applier.runner.nft(f"add element ip {applier.config.table} no-such-map {{ 1 }}\n")
            assert set(answers(t.node, "10.96.0.50", 80, 30)) == {t.backend_ips[0], t.backend_ips[2]}
        finally:
            applier.cleanup()
