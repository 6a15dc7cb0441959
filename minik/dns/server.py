"""The DNS server: one UDP socket and one TCP listener on the same address and port.

**UDP** is how nearly every lookup travels: one datagram in, one out, no
connection. Each reply leaves from the address its query was sent to, also when
the socket is bound to a wildcard address (see :mod:`minik.dns.udp` for why that
matters behind the kube-dns ClusterIP). The endpoint hands each datagram to the
:class:`~minik.dns.handler.QueryHandler` and sends back what it returns —
synchronously, in the event loop's callback, because a cached answer takes
less time than scheduling a task would. The socket's receive buffer is
enlarged so that a burst of queries queues in the kernel instead of being
dropped while Python works through the previous ones.

**TCP** carries what did not fit into a UDP answer (the client saw the TC bit
and asks again) and zone-sized answers. Each message is prefixed by its
two-byte length; a client may send several queries on one connection
(pipelining, RFC 7766), answered in order. Idle connections are closed after
``tcp_idle_timeout`` seconds so they cannot pile up.

Queries for outside names go to the :class:`~minik.dns.upstream.Forwarder` in
a task of their own (they wait on the network), only if one was configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from typing import Any

from minik.dns.handler import FORWARD, TCP, UDP, QueryHandler
from minik.dns.udp import Address, ReplyFrom, UDPEndpoint
from minik.dns.upstream import Forwarder

log = logging.getLogger(__name__)

#: Kernel receive buffer asked for on the UDP socket (the kernel may cap it).
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


class _UDPQueries:
    """Answers each UDP query, from the address it was sent to (see :mod:`minik.dns.udp`)."""

    def __init__(self, server: DNSServer, sock: socket.socket) -> None:
        self._server = server
        self._handle = server.handler.handle
        self.endpoint = UDPEndpoint(sock, self.datagram_received)

    def datagram_received(self, data: bytes, addr: Address, source: ReplyFrom) -> None:
        response = self._handle(data, UDP)
        if response.__class__ is bytes:
            self.endpoint.send(response, addr, source)
        elif response is FORWARD:
            self._server.spawn(self._forward(data, addr, source))

    async def _forward(self, data: bytes, addr: Address, source: ReplyFrom) -> None:
        response = await self._server.forward(data, UDP)
        if response is not None:
            self.endpoint.send(response, addr, source)


class DNSServer:
    """Serves a :class:`QueryHandler` over UDP and TCP."""

    def __init__(
        self,
        handler: QueryHandler,
        *,
        forwarder: Forwarder | None = None,
        tcp_idle_timeout: float = 10.0,
    ) -> None:
        if forwarder is not None and not handler.forwarding:
            raise ValueError("a forwarder needs a handler created with forwarding=True")
        self.handler = handler
        self.forwarder = forwarder
        self.tcp_idle_timeout = tcp_idle_timeout
        self.host = ""
        self.port = 0
        self._udp: _UDPQueries | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 5353) -> None:
        """Bind UDP and TCP to ``host:port``; port 0 picks one free for both."""
        for attempt in range(20):
            udp_sock = self._udp_socket(host, port)
            chosen = udp_sock.getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, chosen, reuse_address=True)
            except OSError:
                udp_sock.close()
                if port or attempt == 19:  # a fixed port taken over TCP: say so
                    raise
                continue  # the free UDP port was taken over TCP: try another
            break
        self._udp = _UDPQueries(self, udp_sock)
        self.host, self.port = host, chosen
        log.info("minik-dns answering on %s:%d (UDP and TCP)", host, chosen)

    @staticmethod
    def _udp_socket(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.endpoint.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- forwarding -------------------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def forward(self, data: bytes, proto: str) -> bytes | None:
        start = time.perf_counter()
        response = None
        if self.forwarder is not None:
            response = await self.forwarder.query(data, tcp=proto == TCP)
        if response is None:
            response = self.handler.forward_failed(data)
        self.handler.record_forwarded(data, proto, response, start)
        return response

    # -- TCP --------------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                async with asyncio.timeout(self.tcp_idle_timeout):
                    (length,) = struct.unpack(">H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                response = self.handler.handle(data, TCP)
                if response is FORWARD:
                    response = await self.forward(data, TCP)
                if response is None:
                    continue
                assert isinstance(response, bytes)
                writer.write(struct.pack(">H", len(response)) + response)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # idle, or the client closed: both normal ends of a DNS TCP connection
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
