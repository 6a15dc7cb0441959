"""Query bytes in, answer bytes out: the cache in front of the resolver.

**Why cache encoded answers.** Cluster DNS traffic is extremely repetitive: the
same pods ask the same few names (and their search-path variants) over and
over. Parsing a query, resolving it and encoding the answer costs tens of
microseconds in Python; looking the *raw query bytes* up in a dict and swapping
in the two-byte message ID costs well under one. So the first time a query is
seen it is answered the long way and the encoded answer stored; every identical
query after that is a dict hit.

The key is everything after the ID: flags, question (with the caller's exact
capitalisation), and the EDNS record — every input the answer depends on.
UDP and TCP keep separate caches because the same query may need truncating
over UDP but not over TCP.

**Invalidation** is by generation: the record index bumps
:attr:`~minik.dns.records.RecordIndex.generation` on every change that alters
what it serves, and the first query after that finds the generation moved and
drops both caches. An update is therefore visible to the very next query. The
caches are also emptied when they reach ``cache_size`` entries, which bounds
memory against floods of random names.

**Before the first sync** (``ready`` false) the index is incomplete, and an
NXDOMAIN for a Service that exists would be cached by the client's resolver.
Names in our zones are answered SERVFAIL instead ("try again") and those
answers are never cached, so nothing of that state outlives it.

**Forwarding.** With an upstream configured, queries for names outside our
zones are not answered here: :meth:`QueryHandler.handle` returns
:data:`FORWARD` and the server relays the query (asynchronously) instead.
Without one they are REFUSED — minik-dns never sends a packet anywhere unless
told to.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from minik.dns.metrics import DNSMetrics, QueryKey
from minik.dns.resolver import REFUSED, Answer, Rcode, Resolver
from minik.dns.rr import type_name
from minik.dns.wire import (
    CLASS_ANY,
    CLASS_IN,
    MAX_TCP_SIZE,
    DropQuery,
    QueryError,
    encode_error,
    encode_response,
    parse_query,
    udp_limit,
)

log = logging.getLogger(__name__)


class Forward:
    """The marker :meth:`QueryHandler.handle` returns for "send this upstream"."""

    def __repr__(self) -> str:
        return "FORWARD"


FORWARD: Final = Forward()

UDP = "udp"
TCP = "tcp"


class QueryHandler:
    """Answers raw DNS queries from a :class:`~minik.dns.resolver.Resolver`, with a cache."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        metrics: DNSMetrics | None = None,
        forwarding: bool = False,
        max_udp_size: int = 4096,
        cache_size: int = 100_000,
        ready: bool = True,
    ) -> None:
        self.resolver = resolver
        #: False until the index holds the whole cluster (see the module docs).
        self.ready = ready
        self.metrics = metrics or DNSMetrics()
        self.forwarding = forwarding
        self.max_udp_size = max_udp_size
        self.cache_size = cache_size
        self._index = resolver.index
        self._generation = self._index.generation
        self._caches: dict[str, dict[bytes, tuple[bytes, QueryKey]]] = {UDP: {}, TCP: {}}

    def cache_entries(self) -> int:
        return sum(len(c) for c in self._caches.values())

    def handle(self, data: bytes, proto: str = UDP) -> bytes | Forward | None:
        """The answer to ``data``, :data:`FORWARD`, or ``None`` (drop: not a query at all)."""
        start = time.perf_counter()
        if self._index.generation != self._generation:
            self._generation = self._index.generation
            for cache in self._caches.values():
                cache.clear()
        cache = self._caches[proto]
        hit = cache.get(data[2:])
        if hit is not None:
            tail, key = hit
            self.metrics.cache_hits += 1
            self.metrics.observe(key, time.perf_counter() - start)
            return data[:2] + tail
        self.metrics.cache_misses += 1
        return self._miss(data, proto, cache, start)

    def _miss(
        self, data: bytes, proto: str, cache: dict[bytes, tuple[bytes, QueryKey]], start: float
    ) -> bytes | Forward | None:
        try:
            query = parse_query(data)
        except DropQuery:
            return None
        except QueryError as err:
            self.metrics.observe((proto, "unknown", err.rcode.name), time.perf_counter() - start)
            return encode_error(err)
        answer: Answer
        if query.qclass not in (CLASS_IN, CLASS_ANY):
            answer = REFUSED
        elif self.forwarding and not self.resolver.authoritative_for(query.name):
            return FORWARD
        elif not self.ready and self.resolver.authoritative_for(query.name):
            answer = Answer(Rcode.SERVFAIL, authoritative=False)
            response = encode_response(query, answer, limit=MAX_TCP_SIZE if proto == TCP else 512)
            self.metrics.observe(
                (proto, type_name(query.qtype), answer.rcode.name), time.perf_counter() - start
            )
            return response
        else:
            try:
                answer = self.resolver.resolve(query.name, query.qtype)
            except Exception:  # a bug must cost one answer, not the server
                log.exception("resolving %s %s failed", query.name, type_name(query.qtype))
                answer = Answer(Rcode.SERVFAIL, authoritative=False)
        limit = MAX_TCP_SIZE if proto == TCP else udp_limit(query, self.max_udp_size)
        response = encode_response(query, answer, limit=limit)
        key = (proto, type_name(query.qtype), answer.rcode.name)
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[data[2:]] = (response[2:], key)
        self.metrics.observe(key, time.perf_counter() - start)
        return response

    def forward_failed(self, data: bytes) -> bytes | None:
        """SERVFAIL for a query the upstream did not answer."""
        try:
            query = parse_query(data)
        except (DropQuery, QueryError):
            return None
        return encode_response(query, Answer(Rcode.SERVFAIL, authoritative=False), limit=MAX_TCP_SIZE)

    def record_forwarded(self, data: bytes, proto: str, response: bytes | None, start: float) -> None:
        """Count a forwarded query once its upstream answer (or failure) is in."""
        self.metrics.forwarded += 1
        rcode = Rcode.SERVFAIL.name
        if response is not None and len(response) >= 4:
            code = response[3] & 0xF
            rcode = Rcode(code).name if code in Rcode._value2member_map_ else str(code)
        try:
            qtype = type_name(parse_query(data).qtype)
        except (DropQuery, QueryError):
            qtype = "unknown"
        self.metrics.observe((proto, qtype, rcode), time.perf_counter() - start)
