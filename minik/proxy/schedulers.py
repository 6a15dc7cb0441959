"""The six IPVS schedulers named in the material, as pure choice functions.

IPVS (the kernel's layer-4 load balancer) picks a real server for each *new* connection
with a pluggable scheduler.  These are the definitions from the IPVS documentation and the
kernel sources (``net/netfilter/ipvs/ip_vs_{rr,lc,dh,sh,sed,nq}.c``); the userspace proxy
uses them for its own balancing, and the ipvs renderer passes their names to the kernel.

``rr``  round robin: the next server in the list, cyclically.
``lc``  least connection: the server with the lowest *overhead* ``active * 256 + inactive``
        (an active connection weighs far more than one in TIME_WAIT); first on ties.
``dh``  destination hashing: a 256-bucket table filled with the servers in turn; the
        connection's destination address picks the bucket, so one destination always
        lands on one server (cache affinity).  An unavailable server is not replaced.
``sh``  source hashing: the same table indexed by the client's address (``hash_32``), so
        one client always lands on one server.
``sed`` shortest expected delay: minimum of ``(active + 1) / weight`` — the delay a new
        connection would see if every server served its connections one at a time.
``nq``  never queue: an idle server (no active connection) if there is one, else ``sed``.

Weights default to 1 (the kube-proxy default); a server with weight 0 gets no new
connections (that is how IPVS drains a terminating endpoint).  Affinity (sessionAffinity:
ClientIP, IPVS "persistence") sits in front of any scheduler: :class:`Affinity` remembers
the server chosen for a client address until ``timeout`` seconds after its last use.
"""

from __future__ import annotations

import ipaddress
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

SCHEDULERS = ("rr", "lc", "dh", "sh", "sed", "nq")
_TAB_SIZE = 256  # IP_VS_DH_TAB_SIZE / IP_VS_SH_TAB_SIZE (8 bits)
_GOLDEN_RATIO_32 = 0x61C88647


@dataclass(eq=False)
class Backend:
    """One real server and its live connection counts (maintained by the proxy)."""

    ip: str
    port: int
    weight: int = 1
    active: int = 0
    inactive: int = 0

    @property
    def key(self) -> str:
        return f"{self.ip}:{self.port}"


class Scheduler(ABC):
    name = ""

    @abstractmethod
    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        """The server for a new connection from ``client_ip`` to ``dest_ip``, or None."""


class RoundRobin(Scheduler):
    name = "rr"

    def __init__(self) -> None:
        self._last = -1

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        n = len(backends)
        for step in range(1, n + 1):
            i = (self._last + step) % n
            if backends[i].weight > 0:
                self._last = i
                return backends[i]
        return None


class LeastConnection(Scheduler):
    name = "lc"

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        live = [b for b in backends if b.weight > 0]
        return min(live, key=lambda b: b.active * 256 + b.inactive) if live else None


def _ip_int(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def _bucket_table(backends: Sequence[Backend], weighted: bool) -> list[Backend]:
    """Fill the 256 buckets with the servers in turn (``sh`` repeats each per its weight)."""
    order = [b for b in backends for _ in range(max(b.weight, 1) if weighted else 1)]
    return [order[i % len(order)] for i in range(_TAB_SIZE)]


class DestinationHash(Scheduler):
    name = "dh"

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        if not backends:
            return None
        bucket = (_ip_int(dest_ip) * 2654435761) & (_TAB_SIZE - 1)
        chosen = _bucket_table(backends, weighted=False)[bucket]
        return chosen if chosen.weight > 0 else None


def hash_32(value: int, bits: int) -> int:
    """The kernel's ``hash_32``: multiply by the golden ratio, keep the top ``bits``."""
    return ((value * _GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


class SourceHash(Scheduler):
    name = "sh"

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        live = [b for b in backends if b.weight > 0]
        if not live:
            return None
        return _bucket_table(live, weighted=True)[hash_32(_ip_int(client_ip), 8)]


class ShortestExpectedDelay(Scheduler):
    name = "sed"

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        best: Backend | None = None
        for b in backends:
            if b.weight <= 0:
                continue
            # (b.active+1)/b.weight < (best.active+1)/best.weight, without division
            if best is None or (b.active + 1) * best.weight < (best.active + 1) * b.weight:
                best = b
        return best


class NeverQueue(ShortestExpectedDelay):
    name = "nq"

    def pick(self, backends: Sequence[Backend], client_ip: str, dest_ip: str) -> Backend | None:
        for b in backends:
            if b.weight > 0 and b.active == 0:
                return b
        return super().pick(backends, client_ip, dest_ip)


_BY_NAME: dict[str, type[Scheduler]] = {
    c.name: c
    for c in (RoundRobin, LeastConnection, DestinationHash, SourceHash, ShortestExpectedDelay, NeverQueue)
}


def make_scheduler(name: str) -> Scheduler:
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}: choose one of {', '.join(SCHEDULERS)}") from None


@dataclass
class Affinity:
    """ClientIP stickiness: client address -> server key, valid ``timeout`` s after last use."""

    timeout: float
    clock: Callable[[], float] = time.monotonic
    _table: dict[str, tuple[str, float]] = field(default_factory=dict)

    def lookup(self, client_ip: str, backends: Sequence[Backend]) -> Backend | None:
        entry = self._table.get(client_ip)
        if entry is None:
            return None
        key, expires = entry
        if self.clock() >= expires:
            del self._table[client_ip]
            return None
        for b in backends:
            if b.key == key and b.weight > 0:
                return b
        del self._table[client_ip]  # its server is gone
        return None

    def remember(self, client_ip: str, backend: Backend) -> None:
        self._table[client_ip] = (backend.key, self.clock() + self.timeout)
        if len(self._table) > 65536:  # bound memory: drop expired entries
            now = self.clock()
            self._table = {k: v for k, v in self._table.items() if v[1] > now}


def choose(
    scheduler: Scheduler,
    backends: Sequence[Backend],
    client_ip: str,
    dest_ip: str,
    affinity: Affinity | None = None,
) -> Backend | None:
    """Affinity first (if configured), then the scheduler; remembers the choice."""
    if affinity is not None:
        sticky = affinity.lookup(client_ip, backends)
        if sticky is not None:
            affinity.remember(client_ip, sticky)
            return sticky
    chosen = scheduler.pick(backends, client_ip, dest_ip)
    if chosen is not None and affinity is not None:
        affinity.remember(client_ip, chosen)
    return chosen
