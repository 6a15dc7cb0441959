"""A real server on a free 127.0.0.1 port, queried with dnspython over UDP and TCP."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from minik.dns.handler import QueryHandler
from minik.dns.records import RecordIndex
from minik.dns.resolver import Resolver
from minik.dns.server import DNSServer
from minik.dns.upstream import Forwarder

from .objects import endpoint, endpointslice, headless, service, zoo

HOST = "127.0.0.1"
WEB = "web.default.svc.cluster.local"
MANY = 100


@pytest.fixture
def index() -> RecordIndex:
    index = zoo()
    index.upsert_service(headless("big"))
    index.upsert_endpointslice(
        endpointslice(
            "big-1", "big", [endpoint(f"10.245.{i // 250}.{i % 250 + 1}", f"big-{i}") for i in range(MANY)]
        )
    )
    return index


@pytest.fixture
async def server(index: RecordIndex) -> AsyncIterator[DNSServer]:
    server = DNSServer(QueryHandler(Resolver(index)))
    await server.start(HOST, 0)
    yield server
    await server.stop()


async def udp(server: DNSServer, name: str, rdtype: str = "A", **kwargs: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    return await dns.asyncquery.udp(q, HOST, port=server.port, timeout=2)


async def tcp(server: DNSServer, name: str, rdtype: str = "A") -> dns.message.Message:
    return await dns.asyncquery.tcp(dns.message.make_query(name, rdtype), HOST, port=server.port, timeout=2)


def texts(msg: dns.message.Message) -> list[str]:
    return [rr.to_text() for rrset in msg.answer for rr in rrset]


async def test_a(server: DNSServer) -> None:
    r = await udp(server, WEB)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert r.answer[0].to_text() == f"{WEB}. 5 IN A 10.96.0.20"


async def test_srv_with_target_addresses(server: DNSServer) -> None:
    r = await udp(server, "_web._tcp.nginx.default.svc.cluster.local", "SRV")
    assert "0 25 8080 web-0.nginx.default.svc.cluster.local." in texts(r)
    assert any(rrset.name.to_text() == "web-0.nginx.default.svc.cluster.local." for rrset in r.additional)


async def test_ptr(server: DNSServer) -> None:
    r = await udp(server, "20.0.96.10.in-addr.arpa", "PTR")
    assert texts(r) == [f"{WEB}."]
    r = await udp(server, "5.1.244.10.in-addr.arpa", "PTR")
    assert texts(r) == ["web-0.nginx.default.svc.cluster.local."]


async def test_cname(server: DNSServer) -> None:
    r = await udp(server, "db.default.svc.cluster.local")
    assert r.answer[0].rdtype == dns.rdatatype.CNAME
    assert texts(r) == ["db.example.com."]
    r = await udp(server, "alias.default.svc.cluster.local")
    assert texts(r) == [f"{WEB}.", "10.96.0.20"]


async def test_nxdomain_carries_the_soa(server: DNSServer) -> None:
    r = await udp(server, "nope.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA
    assert r.authority[0].name.to_text() == "cluster.local."
    assert r.authority[0].ttl == 5


async def test_aaaa_of_an_ipv4_only_name_is_nodata(server: DNSServer) -> None:
    r = await udp(server, WEB, "AAAA")
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


async def test_names_outside_the_domain_are_refused(server: DNSServer) -> None:
    r = await udp(server, "example.com")
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.flags & dns.flags.AA


async def test_a_big_answer_is_truncated_over_udp_and_complete_over_tcp(server: DNSServer) -> None:
    name = "big.default.svc.cluster.local"
    r = await udp(server, name)
    assert r.flags & dns.flags.TC
    assert len(r.answer[0]) < MANY
    r = await tcp(server, name)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == MANY
    # what a stub resolver does: UDP first, TCP when truncated
    r, used_tcp = await dns.asyncquery.udp_with_fallback(
        dns.message.make_query(name, "A"), HOST, port=server.port, timeout=2
    )
    assert used_tcp and len(r.answer[0]) == MANY


async def test_edns0_payload_size_is_honoured(server: DNSServer) -> None:
    name = "big.default.svc.cluster.local"
    r = await udp(server, name, use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == MANY
    assert r.edns == 0  # the OPT record is echoed
    r = await udp(server, name, use_edns=0, payload=1232)  # 100 A records need ~1.7 KB
    assert r.flags & dns.flags.TC
    assert 512 < len(r.to_wire()) <= 1232


async def test_names_are_case_insensitive_and_the_case_is_echoed(server: DNSServer) -> None:
    mixed = "WeB.DeFaUlT.sVc.ClUsTeR.lOcAl"
    r = await udp(server, mixed)
    assert texts(r) == ["10.96.0.20"]
    assert r.question[0].name.to_text() == f"{mixed}."
    assert r.answer[0].name.to_text() == f"{mixed}."  # DNS 0x20 resolvers check this


async def test_index_updates_are_reflected_immediately(server: DNSServer, index: RecordIndex) -> None:
    assert texts(await udp(server, WEB)) == ["10.96.0.20"]
    index.upsert_service(service("web", cluster_ip="10.96.0.77"))
    assert texts(await udp(server, WEB)) == ["10.96.0.77"]
    assert texts(await tcp(server, WEB)) == ["10.96.0.77"]
    index.delete_service("default", "web")
    assert (await udp(server, WEB)).rcode() == dns.rcode.NXDOMAIN
    index.upsert_service(service("fresh", cluster_ip="10.96.0.78"))
    assert texts(await udp(server, "fresh.default.svc.cluster.local")) == ["10.96.0.78"]


async def test_several_queries_on_one_tcp_connection(server: DNSServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        for i, name in enumerate((WEB, "nope.cluster.local", WEB)):
            msg = dns.message.make_query(name, "A")
            msg.id = 100 + i
            data = msg.to_wire()
            writer.write(struct.pack(">H", len(data)) + data)
        await writer.drain()
        for i in range(3):
            (length,) = struct.unpack(">H", await reader.readexactly(2))
            assert dns.message.from_wire(await reader.readexactly(length)).id == 100 + i
    finally:
        writer.close()


async def test_garbage_does_not_hurt_the_server(server: DNSServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x00", b"\xff" * 40, bytes(range(256))):
            s.sendto(junk, (HOST, server.port))
    assert texts(await udp(server, WEB)) == ["10.96.0.20"]


async def test_udp_and_tcp_share_one_port(server: DNSServer) -> None:
    with socket.socket() as s, pytest.raises(OSError):
        s.bind((HOST, server.port))


class FakeUpstream(asyncio.DatagramProtocol):
    """A stand-in upstream on 127.0.0.1 that answers every A query with 192.0.2.1."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.seen: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        self.seen.append(query.question[0].name.to_text())
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.1"))
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]


async def test_forwarding_only_relays_outside_names_to_the_configured_upstream(index: RecordIndex) -> None:
    # The upstream is a fake on the loopback interface: nothing leaves the machine.
    loop = asyncio.get_running_loop()
    transport, upstream = await loop.create_datagram_endpoint(FakeUpstream, local_addr=(HOST, 0))
    upstream_port = transport.get_extra_info("sockname")[1]
    server = DNSServer(
        QueryHandler(Resolver(index), forwarding=True), forwarder=Forwarder(HOST, upstream_port, timeout=1)
    )
    await server.start(HOST, 0)
    try:
        r = await udp(server, "example.com")
        assert texts(r) == ["192.0.2.1"]
        assert texts(await udp(server, WEB)) == ["10.96.0.20"]
        assert upstream.seen == ["example.com."]
        assert server.handler.metrics.forwarded == 1
    finally:
        await server.stop()
        transport.close()


async def test_an_upstream_that_does_not_answer_gives_servfail(index: RecordIndex) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never read
        silent.bind((HOST, 0))
        server = DNSServer(
            QueryHandler(Resolver(index), forwarding=True),
            forwarder=Forwarder(HOST, silent.getsockname()[1], timeout=0.3),
        )
        await server.start(HOST, 0)
        try:
            r = await udp(server, "example.com")
            assert r.rcode() == dns.rcode.SERVFAIL
        finally:
            await server.stop()
