"""Relaying queries for outside names to an upstream server — only when asked to.

Cluster DNS in real clusters (CoreDNS's ``forward`` plugin) sends names it is
not authoritative for to the node's resolver, so pods can resolve
``example.com`` through the same nameserver. minik-dns does that only when
``--upstream HOST:PORT`` is given explicitly; by default outside names are
REFUSED and no packet leaves the process. A learning cluster should never leak
queries to the Internet behind its user's back.

The relay is deliberately dumb: the client's query bytes go out unchanged (same
ID, same EDNS), the upstream's answer comes back unchanged. Over UDP each
query uses a fresh socket, so the kernel picks a random source port (what
stops off-path spoofing) and the answer is checked to come from the upstream
with the same ID. A TCP query is relayed over TCP (a client only uses TCP after
a truncated UDP answer, so the upstream's UDP answer would be truncated too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

log = logging.getLogger(__name__)


def parse_hostport(text: str, *, default_port: int) -> tuple[str, int]:
    """``"127.0.0.1:53"``, ``"[::1]:53"`` or a bare host → ``(host, port)``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data[:2] == self.query_id and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


class Forwarder:
    """Sends a query to one upstream server and returns its answer (``None`` on failure)."""

    def __init__(self, host: str, port: int = 53, *, timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<Forwarder {self.host}:{self.port}>"

    async def query(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        try:
            async with asyncio.timeout(self.timeout):
                return await (self._tcp(data) if tcp else self._udp(data))
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.warning("upstream %s:%d did not answer: %s", self.host, self.port, exc or type(exc).__name__)
            return None

    async def _udp(self, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Reply(data[:2]), remote_addr=(self.host, self.port)
        )
        try:
            transport.sendto(data)
            return await protocol.answer
        finally:
            transport.close()

    async def _tcp(self, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(struct.pack(">H", len(data)) + data)
            await writer.drain()
            (length,) = struct.unpack(">H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
