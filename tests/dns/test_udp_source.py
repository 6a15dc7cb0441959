"""UDP replies leave from the address the query was sent to, also from a wildcard socket.

Real packets in a scratch network namespace: its loopback interface carries
two addresses of each family, the server binds the wildcard address, and a client asks the
*second* address. Without ``IP_PKTINFO`` the kernel picks the reply's source
by routing (the first address), which is what made queries to the kube-dns
ClusterIP time out over UDP: conntrack could not match the reply to the DNAT.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from minik.dns.handler import QueryHandler
from minik.dns.resolver import Resolver
from minik.dns.server import DNSServer
from tests.proxy.netns import in_netns, ip, netns_supported

from .objects import zoo

_reason = netns_supported()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

WEB = "web.default.svc.cluster.local"
PRIMARY_V4, SECOND_V4 = "10.250.9.1", "10.250.9.2"
PRIMARY_V6, SECOND_V6 = "fd00:250:9::1", "fd00:250:9::2"


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace whose loopback holds two IPv4 and two IPv6 addresses."""
    name = f"minik-dns-{secrets.token_hex(4)}"
    ip("netns", "add", name)
    try:
        for addr in (f"{PRIMARY_V4}/24", f"{SECOND_V4}/24"):
            ip("-n", name, "addr", "add", addr, "dev", "lo")
        for addr in (f"{PRIMARY_V6}/64", f"{SECOND_V6}/64"):
            ip("-n", name, "addr", "add", addr, "dev", "lo", "nodad")
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("netns", "del", name, check=False)


class ServerInNetns:
    """A DNSServer run by its own event loop in a thread that joined the namespace."""

    def __init__(self, netns: str, host: str) -> None:
        self.netns, self.host = netns, host
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: in_netns(netns, lambda: asyncio.run(self._serve())))

    async def _serve(self) -> None:
        server = DNSServer(QueryHandler(Resolver(zoo())))
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        await server.start(self.host, 0)
        self.port = server.port
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()

    def __enter__(self) -> ServerInNetns:
        self._thread.start()
        assert self._ready.wait(10), "the DNS server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def ask(netns: str, address: str, port: int) -> tuple[dns.message.Message, str]:
    """Send one UDP query from inside ``netns``; return the reply and its source address."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def exchange() -> tuple[bytes, str]:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(dns.message.make_query(WEB, "A").to_wire(), (address, port))
            data, peer = sock.recvfrom(4096)
            return data, peer[0]

    data, source = in_netns(netns, exchange)
    return dns.message.from_wire(data), source


@pytest.mark.parametrize(
    ("bind", "query_to"),
    [
        ("0.0.0.0", SECOND_V4),
        ("::", SECOND_V6),
        ("::", SECOND_V4),  # a dual-stack socket answering IPv4 (v4-mapped addresses)
    ],
)
def test_reply_comes_from_the_queried_address(netns: str, bind: str, query_to: str) -> None:
    with ServerInNetns(netns, bind) as server:
        for target in (query_to, PRIMARY_V4 if "." in query_to else PRIMARY_V6):
            reply, source = ask(netns, target, server.port)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.answer[0].to_text() == f"{WEB}. 5 IN A 10.96.0.20"
            assert ipaddress.ip_address(source) == ipaddress.ip_address(target)
