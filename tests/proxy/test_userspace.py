"""userspace mode: real TCP/UDP forwarding on 127.0.0.1 through each scheduler."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.proxy.iptables import NAT
from minik.proxy.model import ServicePortName, build_model
from minik.proxy.userspace import Portal, UserspaceApplier, render_redirects
from tests.proxy.objects import endpoint, endpoint_slice, service


class EchoBackends:
    """TCP servers on 127.0.0.1 that send their name, then hold the connection until the
    client closes it; plus UDP servers that answer their name."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.ports: dict[str, int] = {}
        self.servers: list[asyncio.Server] = []
        self.udp: list[asyncio.DatagramTransport] = []
        self.udp_ports: dict[str, int] = {}

    async def start(self) -> None:
        for name in self.names:

            async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, name: str = name) -> None:
                w.write(f"{name}\n".encode())
                await w.drain()
                await r.read()  # until the client closes
                w.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]

            class Answer(asyncio.DatagramProtocol):
                def __init__(self, name: str) -> None:
                    self.name = name

                def connection_made(self, transport: Any) -> None:
                    self.transport = transport

                def datagram_received(self, data: bytes, addr: Any) -> None:
                    self.transport.sendto(self.name.encode(), addr)

            answer = Answer(name)
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda answer=answer: answer,  # type: ignore[misc]
                local_addr=("127.0.0.1", 0),
            )
            self.udp.append(transport)
            self.udp_ports[name] = transport.get_extra_info("sockname")[1]

    @property
    def order(self) -> list[str]:
        """Backend names in endpoint order (the model sorts endpoints by address:port)."""
        return sorted(self.names, key=lambda n: self.ports[n])

    async def stop(self) -> None:
        for s in self.servers:
            s.close()
        for t in self.udp:
            t.close()


@pytest.fixture()
async def backends() -> AsyncIterator[EchoBackends]:
    b = EchoBackends(["a", "b", "c"])
    await b.start()
    yield b
    await b.stop()


def model_for(
    backends: EchoBackends, *, protocol: str = "TCP", dead_first: int | None = None, **spec: Any
) -> Any:
    """One service whose endpoints are the echo servers (all on 127.0.0.1, distinct ports).

    EndpointSlices give one port per slice, so each backend gets a slice of its own."""
    svc = service("echo", "10.96.0.80", ports=[{"name": "p", "protocol": protocol, "port": 80}], **spec)
    ports = backends.udp_ports if protocol == "UDP" else backends.ports
    slices = [
        endpoint_slice(
            "echo",
            [endpoint("127.0.0.1")],
            name=f"echo-{n}",
            ports=[{"name": "p", "protocol": protocol, "port": p}],
        )
        for n, p in ports.items()
    ]
    if dead_first is not None:
        slices.insert(
            0,
            endpoint_slice(
                "echo", [endpoint("127.0.0.1")], name="echo-dead", ports=[{"name": "p", "port": dead_first}]
            ),
        )
    return build_model([svc], slices, "node-a")


NAME = ServicePortName("default", "echo", "p")


async def open_conn(port: int, source: str = "127.0.0.1") -> tuple[str, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    line = await asyncio.wait_for(reader.readline(), 5)
    return line.decode().strip(), writer


async def ask(port: int, source: str = "127.0.0.1") -> str:
    name, writer = await open_conn(port, source)
    writer.close()
    await writer.wait_closed()
    return name


async def applier_for(model: Any, scheduler: str) -> tuple[UserspaceApplier, int]:
    applier = UserspaceApplier(scheduler=scheduler, listen_host="127.0.0.1", udp_idle_timeout=0.5)
    await applier.sync(model)
    (portal,) = applier.portals.values()
    return applier, portal.proxy_port


async def settle(applier: UserspaceApplier, total_active: int) -> None:
    """Wait until the proxy has noticed closed connections."""
    for _ in range(200):
        if sum(b.active for b in applier.proxies[NAME].balancer.backends) == total_active:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("connection counts did not settle")


async def test_rr_round_robins_real_connections(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends), "rr")
    try:
        assert [await ask(port) for _ in range(6)] == backends.order * 2
    finally:
        await applier.stop()


@pytest.mark.parametrize("scheduler", ["lc", "sed", "nq"])
async def test_connection_count_schedulers_prefer_the_backend_with_fewer_open_connections(
    backends: EchoBackends, scheduler: str
) -> None:
    applier, port = await applier_for(model_for(backends), scheduler)
    held: list[asyncio.StreamWriter] = []
    try:
        first, w1 = await open_conn(port)
        second, w2 = await open_conn(port)
        third, w3 = await open_conn(port)
        held += [w1, w2, w3]
        assert [first, second, third] == backends.order  # each time the idle one
        w2.close()  # the second backend now has no open connection
        await settle(applier, 2)
        fourth, w4 = await open_conn(port)
        held.append(w4)
        assert fourth == second
        counts = {b.port: b.active for b in applier.proxies[NAME].balancer.backends}
        assert sorted(counts.values()) == [1, 1, 1]
    finally:
        for w in held:
            w.close()
        await applier.stop()


async def test_sh_keeps_each_source_on_one_backend(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends), "sh")
    try:
        per_source: dict[str, set[str]] = {}
        for i in range(2, 26):
            src = f"127.0.0.{i}"
            per_source[src] = {await ask(port, src) for _ in range(3)}
        assert all(len(s) == 1 for s in per_source.values()), per_source
        assert len({next(iter(s)) for s in per_source.values()}) >= 2  # sources spread
    finally:
        await applier.stop()


async def test_dh_sends_one_destination_to_one_backend(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends), "dh")
    try:
        got = Counter([await ask(port, f"127.0.0.{i}") for i in range(2, 12)])
        assert len(got) == 1  # every connection had the same destination (no redirect: the VIP)
    finally:
        await applier.stop()


async def test_client_ip_affinity_overrides_the_scheduler(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends, sessionAffinity="ClientIP"), "rr")
    try:
        assert len({await ask(port, "127.0.0.7") for _ in range(5)}) == 1
        assert len({await ask(port, f"127.0.0.{i}") for i in range(20, 26)}) == 3  # new clients: rr
    finally:
        await applier.stop()


async def test_scheduler_annotation_per_service(backends: EchoBackends) -> None:
    model = model_for(backends)
    svc_info = model[NAME]
    from dataclasses import replace

    applier, port = await applier_for({NAME: replace(svc_info, scheduler="dh")}, "rr")
    try:
        assert len({await ask(port) for _ in range(6)}) == 1
    finally:
        await applier.stop()


async def test_dead_backend_is_skipped(backends: EchoBackends) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()  # nothing listens there now
    applier, port = await applier_for(model_for(backends, dead_first=dead), "rr")
    try:
        assert len(applier.proxies[NAME].balancer.backends) == 4
        got = [await ask(port) for _ in range(8)]
        assert set(got) == {"a", "b", "c"}
    finally:
        await applier.stop()


async def test_endpoint_updates_apply_to_new_connections(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends), "rr")
    try:
        name, held = await open_conn(port)
        assert name == backends.order[0]
        # the others go away (scale down): new connections only reach it, the open one survives.
        svc = service("echo", "10.96.0.80", ports=[{"name": "p", "protocol": "TCP", "port": 80}])
        only_a = endpoint_slice(
            "echo", [endpoint("127.0.0.1")], ports=[{"name": "p", "port": backends.ports["a"]}]
        )
        await applier.sync(build_model([svc], [only_a], "node-a"))
        assert applier.portals[NAME].proxy_port == port
        assert {await ask(port) for _ in range(4)} == {"a"}
        held.write(b"still here")
        await held.drain()
        held.close()
        # no endpoints: no portal (the trap rejects), and the listener closes new connections
        await applier.sync(build_model([svc], [], "node-a"))
        assert NAME not in applier.portals
    finally:
        await applier.stop()


async def test_udp_sessions_are_balanced_and_sticky(backends: EchoBackends) -> None:
    applier, port = await applier_for(model_for(backends, protocol="UDP"), "rr")
    loop = asyncio.get_running_loop()
    socks = []
    try:
        answers = []
        for _ in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            socks.append(s)
            replies = []
            for _ in range(2):
                await loop.sock_sendto(s, b"?", ("127.0.0.1", port))
                replies.append((await asyncio.wait_for(loop.sock_recv(s, 100), 5)).decode())
            assert replies[0] == replies[1]  # one client = one session = one backend
            answers.append(replies[0])
        assert answers == sorted(backends.names, key=lambda n: backends.udp_ports[n])
        (udp,) = applier.proxies.values()
        assert sum(b.active for b in udp.balancer.backends) == 3
        await asyncio.sleep(1.0)  # idle timeout 0.5 s: sessions reaped
        assert sum(b.active for b in udp.balancer.backends) == 0
    finally:
        for s in socks:
            s.close()
        await applier.stop()


def test_render_redirects() -> None:
    name = ServicePortName("default", "web", "http")
    portal = Portal(name, "TCP", ("10.96.0.50", "192.0.2.10"), 80, 30080, 40123)
    chains = render_redirects([portal])
    assert chains[(NAT, "KUBE-PORTALS-HOST")] == [
        '-m comment --comment "default/web:http" -p tcp -m tcp -d 10.96.0.50/32 --dport 80 -j REDIRECT --to-ports 40123',
        '-m comment --comment "default/web:http" -p tcp -m tcp -d 192.0.2.10/32 --dport 80 -j REDIRECT --to-ports 40123',
    ]
    assert chains[(NAT, "KUBE-PORTALS-CONTAINER")] == chains[(NAT, "KUBE-PORTALS-HOST")]
    assert chains[(NAT, "KUBE-NODEPORT-HOST")] == [
        '-m comment --comment "default/web:http" -p tcp -m tcp --dport 30080 -m addrtype --dst-type LOCAL '
        "-j REDIRECT --to-ports 40123"
    ]
