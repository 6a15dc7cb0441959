"""userspace mode: the proxy itself carries every byte, and balances with IPVS's schedulers.

The original kube-proxy mode.  For each service port the proxy listens on an ephemeral
port of its own; iptables only *redirects* the service addresses there::

    client ─▶ 10.96.0.10:80
      nat PREROUTING/OUTPUT ─▶ KUBE-PORTALS-CONTAINER / KUBE-PORTALS-HOST
          -d 10.96.0.10/32 -p tcp --dport 80 -j REDIRECT --to-ports 40123
      ─▶ minik-proxy listening on :40123 (asyncio)
          picks a backend: ClientIP affinity, else the service's scheduler
          (rr, lc, dh, sh, sed, nq — annotation minik.io/scheduler or --scheduler)
          opens its own connection to 10.244.1.5:8080 and copies bytes both ways.

NodePorts are redirected the same way (KUBE-NODEPORT-CONTAINER/-HOST, ``--dst-type
LOCAL``).  A service port with no endpoint gets no redirect: the service-range trap (see
``safety.py``) rejects it, so the client is refused at once.  If a backend refuses, the next
one is tried, so a pod that just died costs a retry rather than an error.

Because the proxy sees every connection it knows the live connection counts that ``lc``,
``sed`` and ``nq`` need — which is why this is the mode where those schedulers can be
observed.  The price is two extra copies of every byte through a userspace process, and the
client address seen by the backend is the proxy's.

TCP connections count as *active* from connect to close.  UDP has no connections: a
*session* per client address (one connected socket to the chosen backend) lives until it
has been idle for ``udp_idle_timeout`` seconds and counts as active meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from minik.proxy.hostexec import Runner
from minik.proxy.iptables import NAT, ChainKey, Hook, RestoreInput
from minik.proxy.iptables_applier import (
    KUBE_PROXY_TRAP,
    ensure_jumps,
    forward_hook_chain,
    remove_jumps,
    trap_hooks,
    trap_rules,
)
from minik.proxy.model import ServicePortInfo, ServicePortName, categorize_endpoints
from minik.proxy.safety import Trap
from minik.proxy.schedulers import Affinity, Backend, Scheduler, choose, make_scheduler

log = logging.getLogger(__name__)

SO_ORIGINAL_DST = 80
SocketFactory = Callable[[int], socket.socket]

PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"
PORTALS_HOST = "KUBE-PORTALS-HOST"
NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER"
NODEPORT_HOST = "KUBE-NODEPORT-HOST"


def _plain_socket(kind: int) -> socket.socket:
    return socket.socket(socket.AF_INET, kind)


def original_destination(sock: socket.socket) -> tuple[str, int] | None:
    """The address a REDIRECTed connection was really sent to (``SO_ORIGINAL_DST``)."""
    try:
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError:
        return None
    port, packed = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(packed), port


class ServiceBalancer:
    """The backends of one service port, its scheduler and its ClientIP affinity table."""

    def __init__(
        self,
        scheduler: Scheduler,
        affinity_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scheduler = scheduler
        self.affinity = Affinity(affinity_timeout, clock) if affinity_timeout else None
        self.backends: list[Backend] = []

    def set_endpoints(self, endpoints: Iterable[tuple[str, int]]) -> None:
        """Replace the backend list, keeping the live counters of backends that stay."""
        old = {b.key: b for b in self.backends}
        fresh = []
        for ip, port in endpoints:
            b = old.get(f"{ip}:{port}") or Backend(ip, port)
            fresh.append(b)
        self.backends = fresh

    def pick(self, client_ip: str, dest_ip: str, exclude: Iterable[str] = ()) -> Backend | None:
        """A backend for a new connection; ``exclude`` names backends that just failed it.

        On a retry the scheduler is asked again over the *full* list (so rr moves on to the
        next server instead of re-indexing a shorter list), and only a scheduler that keeps
        answering with a failed server (dh, sh, ...) is asked over the remaining ones."""
        skip = set(exclude)
        if not skip:
            return choose(self.scheduler, self.backends, client_ip, dest_ip, self.affinity)
        chosen: Backend | None = None
        for _ in range(len(self.backends)):
            chosen = self.scheduler.pick(self.backends, client_ip, dest_ip)
            if chosen is None or chosen.key not in skip:
                break
        if chosen is None or chosen.key in skip:
            rest = [b for b in self.backends if b.key not in skip]
            chosen = self.scheduler.pick(rest, client_ip, dest_ip)
        if chosen is not None and self.affinity is not None:
            self.affinity.remember(client_ip, chosen)
        return chosen


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class TCPServicePort:
    """A listener for one TCP service port that relays each connection to a backend."""

    def __init__(
        self,
        name: ServicePortName,
        balancer: ServiceBalancer,
        service_ip: str,
        *,
        listen_host: str = "0.0.0.0",
        listen_port: int = 0,
        connect_timeout: float = 1.0,
        socket_factory: SocketFactory = _plain_socket,
    ) -> None:
        self.name = name
        self.balancer = balancer
        self.service_ip = service_ip
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.connect_timeout = connect_timeout
        self.socket_factory = socket_factory
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()  # both sides of every relayed connection
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        sock = self.socket_factory(socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen_host, self.listen_port))
        sock.listen(1024)
        sock.setblocking(False)
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def stop(self) -> None:
        """Stop accepting, and end the connections in flight (their handlers then return)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connect(self, backend: Backend) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = self.socket_factory(socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, (backend.ip, backend.port)),
                self.connect_timeout,
            )
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._open.add(writer)
        try:
            client_ip = writer.get_extra_info("peername")[0]
            sock = writer.get_extra_info("socket")
            dest = original_destination(sock) if sock is not None else None
            dest_ip = dest[0] if dest else self.service_ip
            tried: list[str] = []
            while (backend := self.balancer.pick(client_ip, dest_ip, tried)) is not None:
                backend.active += 1  # counted from the moment it is chosen (lc/sed/nq)
                try:
                    up_reader, up_writer = await self._connect(backend)
                except (TimeoutError, OSError) as err:
                    backend.active -= 1
                    log.info("%s: backend %s failed (%s), trying another", self.name, backend.key, err)
                    tried.append(backend.key)
                    continue
                self._open.add(up_writer)
                try:
                    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                finally:
                    backend.active -= 1
                    up_writer.close()
                    self._open.discard(up_writer)
                return
            log.info("%s: no backend for %s", self.name, client_ip)
        finally:
            writer.close()
            self._open.discard(writer)


class _UDPSession(asyncio.DatagramProtocol):
    def __init__(self, owner: UDPServicePort, client: tuple[str, int], backend: Backend) -> None:
        self.owner, self.client, self.backend = owner, client, backend
        self.transport: asyncio.DatagramTransport | None = None
        self.last = time.monotonic()
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def datagram_received(self, data: bytes, addr: tuple[str | bytes | int, ...]) -> None:
        self.last = time.monotonic()
        if self.owner.transport is not None:
            self.owner.transport.sendto(data, self.client)

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)


class UDPServicePort(asyncio.DatagramProtocol):
    """A UDP listener for one service port: one session (backend socket) per client address."""

    def __init__(
        self,
        name: ServicePortName,
        balancer: ServiceBalancer,
        service_ip: str,
        *,
        listen_host: str = "0.0.0.0",
        listen_port: int = 0,
        idle_timeout: float = 10.0,
        socket_factory: SocketFactory = _plain_socket,
    ) -> None:
        self.name = name
        self.balancer = balancer
        self.service_ip = service_ip
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.idle_timeout = idle_timeout
        self.socket_factory = socket_factory
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], _UDPSession] = {}
        self._reaper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self.transport is not None, "not started"
        return int(self.transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        sock = self.socket_factory(socket.SOCK_DGRAM)
        sock.bind((self.listen_host, self.listen_port))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._reaper = asyncio.create_task(self._reap())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (selector transports are not DatagramTransport subclasses before Python 3.12)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | bytes | int, ...]) -> None:
        client = (str(addr[0]), int(addr[1]))
        session = self.sessions.get(client)
        if session is None or session.backend not in self.balancer.backends:
            if session is not None:
                self._close(client)
            backend = self.balancer.pick(client[0], self.service_ip)
            if backend is None:
                return
            backend.active += 1
            session = self.sessions[client] = _UDPSession(self, client, backend)
            asyncio.get_running_loop().create_task(self._open(session))
        session.send(data)

    async def _open(self, session: _UDPSession) -> None:
        sock = self.socket_factory(socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.connect((session.backend.ip, session.backend.port))
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: session, sock=sock)

    def _close(self, client: tuple[str, int]) -> None:
        session = self.sessions.pop(client)
        session.backend.active -= 1
        if session.transport is not None:
            session.transport.close()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(self.idle_timeout / 4, 0.05))
            now = time.monotonic()
            for client in [c for c, s in self.sessions.items() if now - s.last > self.idle_timeout]:
                self._close(client)

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for client in list(self.sessions):
            self._close(client)
        if self.transport is not None:
            self.transport.close()


ServicePortProxy = TCPServicePort | UDPServicePort


@dataclass(frozen=True)
class Portal:
    """Where one service port is reachable and the local port its proxy listens on."""

    name: ServicePortName
    protocol: str
    addresses: tuple[str, ...]
    port: int
    node_port: int
    proxy_port: int


def render_redirects(portals: Iterable[Portal]) -> dict[ChainKey, list[str]]:
    """The nat chains that REDIRECT service addresses to the proxy's listeners."""
    chains: dict[ChainKey, list[str]] = {
        (NAT, PORTALS_CONTAINER): [],
        (NAT, PORTALS_HOST): [],
        (NAT, NODEPORT_CONTAINER): [],
        (NAT, NODEPORT_HOST): [],
    }
    for p in sorted(portals, key=lambda p: p.name):
        proto = p.protocol.lower()
        note = f'-m comment --comment "{p.name}"'
        for addr in p.addresses:
            rule = f"{note} -p {proto} -m {proto} -d {addr}/32 --dport {p.port} -j REDIRECT --to-ports {p.proxy_port}"
            chains[(NAT, PORTALS_CONTAINER)].append(rule)
            chains[(NAT, PORTALS_HOST)].append(rule)
        if p.node_port:
            rule = (
                f"{note} -p {proto} -m {proto} --dport {p.node_port} -m addrtype --dst-type LOCAL "
                f"-j REDIRECT --to-ports {p.proxy_port}"
            )
            chains[(NAT, NODEPORT_CONTAINER)].append(rule)
            chains[(NAT, NODEPORT_HOST)].append(rule)
    return chains


def redirect_hooks() -> tuple[Hook, ...]:
    return (
        Hook(NAT, "PREROUTING", f'-m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j {PORTALS_CONTAINER}'),
        Hook(NAT, "PREROUTING", f'-m comment --comment "handle service NodePorts" -j {NODEPORT_CONTAINER}'),
        Hook(NAT, "OUTPUT", f'-m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j {PORTALS_HOST}'),
        Hook(NAT, "OUTPUT", f'-m comment --comment "handle service NodePorts" -j {NODEPORT_HOST}'),
    )  # fmt: skip


class UserspaceApplier:
    """Runs one proxy per service port and (given a runner) the iptables redirects to them.

    The userspace mode's applier; asynchronous, because the relays run on the event loop.
    The proxier reaches it through a :class:`~minik.proxy.proxier.UserspaceBackend`."""

    def __init__(
        self,
        *,
        scheduler: str = "rr",
        listen_host: str = "0.0.0.0",
        runner: Runner | None = None,
        trap: Trap | None = None,
        iptables: str = "iptables",
        udp_idle_timeout: float = 10.0,
        socket_factory: SocketFactory = _plain_socket,
    ) -> None:
        make_scheduler(scheduler)  # validate early
        self.default_scheduler = scheduler
        self.listen_host = listen_host
        self.runner = runner
        self.trap = trap if trap is not None or runner is None else Trap(runner)
        self.iptables = iptables
        self.udp_idle_timeout = udp_idle_timeout
        self.socket_factory = socket_factory
        self.proxies: dict[ServicePortName, ServicePortProxy] = {}
        self._schedulers: dict[ServicePortName, str] = {}
        self.portals: dict[ServicePortName, Portal] = {}
        self._set_up = False
        self._forward_chain = "FORWARD"

    async def sync(self, model: Mapping[ServicePortName, ServicePortInfo]) -> None:
        for name in [n for n in self.proxies if n not in model]:
            await self.proxies.pop(name).stop()
            self.portals.pop(name, None)
        for name, info in model.items():
            wanted_scheduler = info.scheduler or self.default_scheduler
            proxy = self.proxies.get(name)
            if proxy is not None and (
                self._schedulers.get(name) != wanted_scheduler
                or (proxy.balancer.affinity.timeout if proxy.balancer.affinity else None)
                != info.affinity_timeout
            ):
                await proxy.stop()
                proxy = None
            if proxy is None:
                balancer = ServiceBalancer(make_scheduler(wanted_scheduler), info.affinity_timeout)
                proxy = self._new_proxy(info, balancer)
                await proxy.start()
                self.proxies[name] = proxy
                self._schedulers[name] = wanted_scheduler
            eps = categorize_endpoints(info)
            chosen = eps.local if info.internal_policy_local else eps.cluster
            proxy.balancer.set_endpoints((e.ip, e.port) for e in chosen)
            if chosen:
                addresses = (info.cluster_ip, *info.external_ips, *info.load_balancer_ips)
                self.portals[name] = Portal(
                    name, info.protocol, addresses, info.port, info.node_port, proxy.port
                )
            else:
                self.portals.pop(name, None)
        if self.runner is not None:
            await asyncio.to_thread(self._apply, model)

    def _new_proxy(self, info: ServicePortInfo, balancer: ServiceBalancer) -> ServicePortProxy:
        if info.protocol == "UDP":
            return UDPServicePort(
                info.name, balancer, info.cluster_ip, listen_host=self.listen_host,
                idle_timeout=self.udp_idle_timeout, socket_factory=self.socket_factory,
            )  # fmt: skip
        return TCPServicePort(
            info.name,
            balancer,
            info.cluster_ip,
            listen_host=self.listen_host,
            socket_factory=self.socket_factory,
        )

    def _apply(self, model: Mapping[ServicePortName, ServicePortInfo]) -> None:
        assert self.runner is not None and self.trap is not None
        extra = {ip for i in model.values() for ip in (*i.external_ips, *i.load_balancer_ips)}
        trapped = self.trap.trapped(extra)
        self.trap.ensure(trapped)
        tx = RestoreInput()
        tx.declare(("filter", KUBE_PROXY_TRAP), trap_rules(trapped))
        if not self._set_up:
            self.runner.run([f"{self.iptables}-restore", "--noflush", "--wait"], input=tx.text())
            self._forward_chain = forward_hook_chain(self.runner, self.iptables)
            ensure_jumps(self.runner, self.iptables, trap_hooks(self._forward_chain))
            tx = RestoreInput()
        for key, rules in render_redirects(self.portals.values()).items():
            tx.declare(key, rules)
        self.runner.run([f"{self.iptables}-restore", "--noflush", "--wait"], input=tx.text())
        if not self._set_up:
            ensure_jumps(self.runner, self.iptables, redirect_hooks())
            self._set_up = True

    async def stop(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()
        self.proxies.clear()
        self.portals.clear()

    async def cleanup(self) -> None:
        """Stop every listener and remove the redirect chains, the trap and its hooks."""
        await self.stop()
        if self.runner is None or self.trap is None:
            return
        runner = self.runner
        remove_jumps(runner, self.iptables, (*redirect_hooks(), *trap_hooks(self._forward_chain)))
        tx = RestoreInput()
        tx.deleted_chains += [
            (NAT, c) for c in (PORTALS_CONTAINER, PORTALS_HOST, NODEPORT_CONTAINER, NODEPORT_HOST)
        ]
        tx.deleted_chains.append(("filter", KUBE_PROXY_TRAP))
        existing = runner.run([f"{self.iptables}-save"])
        tx.deleted_chains = [k for k in tx.deleted_chains if f":{k[1]} " in existing]
        if tx.deleted_chains:
            runner.run([f"{self.iptables}-restore", "--noflush", "--wait"], input=tx.text())
        await asyncio.to_thread(self.trap.cleanup)
        self._set_up = False
