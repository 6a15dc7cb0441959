"""A UDP endpoint whose replies leave from the address each query was sent to.

A socket bound to a wildcard address (``0.0.0.0`` or ``::``) receives queries for
every local address, but a plain ``sendto`` lets the kernel pick the reply's source
address from the routing table — often not the address the client asked. Most
clients then ignore the reply, and when the query reached us through a DNAT (the
kube-dns ClusterIP rewritten to this host by kube-proxy), conntrack cannot match
the reply to the translated flow, cannot reverse the NAT, and the client times out.
TCP does not have the problem: an accepted connection is bound to its own address.

The fix is the one every DNS server uses: ask the kernel to tell us each
datagram's destination (``IP_PKTINFO`` / ``IPV6_RECVPKTINFO``, read with
``recvmsg``) and pass it back as the source when replying (``sendmsg`` with the
same control message). asyncio's datagram transport offers neither call, so the
socket is driven directly with ``loop.add_reader``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: ``IP_PKTINFO`` from <linux/in.h>; Python's socket module does not export it.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)

#: Room for one control message of either family (``in6_pktinfo`` is the larger).
_ANCILLARY_SIZE = socket.CMSG_SPACE(20)

#: Datagrams read per wake-up before yielding to the event loop, so one busy
#: socket cannot starve the TCP side and the forwarder's tasks.
_BATCH = 64

#: A reply's source: the control message to hand back to ``sendmsg`` (empty when the
#: kernel gave none, and the kernel then chooses as for ``sendto``).
ReplyFrom = list[tuple[int, int, bytes]]

#: A client's socket address, as ``recvmsg`` returns it: (host, port) or (host, port, flow, scope).
Address = tuple[Any, ...]

#: Called for every datagram: (query bytes, client address, where to reply from).
DatagramHandler = Callable[[bytes, Address, ReplyFrom], None]


def enable_destination_info(sock: socket.socket) -> None:
    """Ask the kernel to report each received datagram's destination address."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)


def reply_from(ancillary: list[tuple[int, int, bytes]]) -> ReplyFrom:
    """The control message that makes a reply leave from the query's destination.

    IPv4's ``struct in_pktinfo`` is (interface index, local address, header
    destination); on send the kernel uses its local address as the source, so the
    header destination goes there and the interface is left to routing. IPv6's
    ``struct in6_pktinfo`` (address, interface) is handed back unchanged: the
    interface matters for link-local addresses."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            destination = data[8:12]
            return [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, destination, bytes(4)))]
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 20:
            return [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, data[:20])]
    return []


class UDPEndpoint:
    """Reads datagrams from a bound, non-blocking socket and sends replies from the right address."""

    def __init__(self, sock: socket.socket, on_datagram: DatagramHandler) -> None:
        enable_destination_info(sock)
        self._sock = sock
        self._on_datagram = on_datagram
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._read)
        self.closed = False

    def _read(self) -> None:
        for _ in range(_BATCH):
            try:
                data, ancillary, _flags, addr = self._sock.recvmsg(65535, _ANCILLARY_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # e.g. an ICMP error queued on the socket: nothing to do
                log.debug("UDP receive error: %s", err)
                return
            self._on_datagram(data, addr, reply_from(ancillary))

    def send(self, data: bytes, addr: Address, source: ReplyFrom) -> None:
        """Send one reply; a full send buffer drops it (the client retries, as for any lost datagram)."""
        if self.closed:
            return
        try:
            self._sock.sendmsg([data], source, 0, addr)
        except OSError as err:
            log.debug("UDP reply to %s not sent: %s", addr, err)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
