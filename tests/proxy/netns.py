"""Scratch network namespaces for real-kernel proxy tests and the proxy benchmark.

:class:`Topology` builds two namespaces joined by a veth pair::

    node  (minik-test-<id>)    10.250.0.1/24 ── veth ── 10.250.0.2-4/24   backends (…-b)

The *node* namespace plays the host that runs minik-proxy (rules are applied there with
``Runner(netns=...)``); the *backends* namespace holds one small TCP/UDP server per address
that answers with the address it was reached on, so a test can tell which endpoint the
kernel chose.  Sockets are opened inside a namespace by a short-lived thread that calls
``setns(2)`` first: a socket stays in the namespace it was created in, so the test process
itself can be client and server without spawning anything.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_supported() -> str | None:
    """None when ``ip netns add`` works here, else the reason it does not."""
    name = f"minik-probe-{secrets.token_hex(3)}"
    try:
        proc = ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return "the ip command (iproute2) is not installed"
    if proc.returncode != 0:
        return f"ip netns add is not permitted here: {proc.stderr.strip()}"
    ip("netns", "del", name, check=False)
    return None


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread that has joined network namespace ``netns``."""
    box: dict[str, object] = {}

    def target() -> None:
        fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({netns})")
            box["value"] = fn()
        except BaseException as err:  # re-raised in the caller
            box["error"] = err
        finally:
            os.close(fd)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def ns_socket(netns: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    return in_netns(netns, lambda: socket.socket(socket.AF_INET, kind))


@dataclass
class Backends:
    """TCP and UDP servers answering with the local address they were reached on."""

    netns: str
    addresses: list[str]
    port: int = 8080
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _socks: list[socket.socket] = field(default_factory=list)
    #: open TCP connections per backend address
    accepted: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        for addr in self.addresses:
            tcp = ns_socket(self.netns)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((addr, self.port))
            tcp.listen(128)
            tcp.settimeout(0.2)
            udp = ns_socket(self.netns, socket.SOCK_DGRAM)
            udp.bind((addr, self.port))
            udp.settimeout(0.2)
            self._socks += [tcp, udp]
            for fn, sock in ((self._serve_tcp, tcp), (self._serve_udp, udp)):
                th = threading.Thread(target=fn, args=(sock, addr), daemon=True)
                th.start()
                self._threads.append(th)

    def _serve_tcp(self, sock: socket.socket, addr: str) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self.accepted[addr] = self.accepted.get(addr, 0) + 1
                conn.sendall(f"{addr}\n".encode())

    def _serve_udp(self, sock: socket.socket, addr: str) -> None:
        while not self._stop.is_set():
            try:
                _, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            sock.sendto(addr.encode(), peer)

    def stop(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(2)
        for s in self._socks:
            s.close()


@dataclass
class Topology:
    """Node namespace + backends namespace joined by a veth pair (see module docstring)."""

    node: str = field(default_factory=lambda: f"minik-test-{secrets.token_hex(4)}")
    node_ip: str = "10.250.0.1"
    backend_ips: list[str] = field(default_factory=lambda: ["10.250.0.2", "10.250.0.3", "10.250.0.4"])

    @property
    def backends_ns(self) -> str:
        return f"{self.node}-b"

    def create(self) -> None:
        ip("netns", "add", self.node)
        ip("netns", "add", self.backends_ns)
        for ns in (self.node, self.backends_ns):
            ip("-n", ns, "link", "set", "lo", "up")
        ip(
            "-n",
            self.node,
            "link",
            "add",
            "veth-node",
            "type",
            "veth",
            "peer",
            "name",
            "veth-be",
            "netns",
            self.backends_ns,
        )
        ip("-n", self.node, "addr", "add", f"{self.node_ip}/24", "dev", "veth-node")
        ip("-n", self.node, "link", "set", "veth-node", "up")
        for addr in self.backend_ips:
            ip("-n", self.backends_ns, "addr", "add", f"{addr}/24", "dev", "veth-be")
        ip("-n", self.backends_ns, "link", "set", "veth-be", "up")

    def destroy(self) -> None:
        for ns in (self.node, self.backends_ns):
            ip("netns", "del", ns, check=False)


def connect(netns: str, addr: str, port: int, *, source: str | None = None, timeout: float = 2.0) -> str:
    """Open a TCP connection from ``netns`` and return the first line the server sends.

    Raises ``ConnectionRefusedError`` for a REJECT, ``TimeoutError`` for silence."""
    sock = ns_socket(netns)
    with sock:
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        sock.connect((addr, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()


def udp_ask(netns: str, addr: str, port: int, *, timeout: float = 2.0) -> str:
    sock = ns_socket(netns, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(timeout)
        sock.sendto(b"?", (addr, port))
        return sock.recvfrom(2048)[0].decode()
