"""From a question to an answer: the DNS semantics on top of the record index.

A DNS question is ``(name, type)``; :meth:`Resolver.resolve` turns it into an
:class:`Answer` — response code and the three record sections — without any
wire format (that is :mod:`minik.dns.wire`'s job). The cases, in the order
they are decided:

1. **Not ours.** A name outside the cluster domain and the reverse trees gets
   ``REFUSED``: minik-dns is authoritative for the cluster, not a recursive
   resolver. (With ``--upstream`` the server forwards such queries instead; the
   resolver never sees them.)
2. **Alias.** A name holding a CNAME (an ExternalName Service) answers with the
   CNAME whatever type was asked. If its target lies in a zone we serve, the
   chase continues there and the target's records are appended — a client
   asking ``A`` gets the address in one round trip (RFC 1034 §4.3.2).
3. **Positive answer.** The name has records of the type: they are the answer.
   SRV answers carry the targets' addresses in the *additional* section, so a
   client need not ask again.
4. **NODATA.** The name exists but has no records of this type — ``AAAA`` of an
   IPv4-only Service, or ``default.svc.cluster.local`` (an empty non-terminal):
   ``NOERROR`` with an empty answer.
5. **NXDOMAIN.** The name does not exist, and neither does anything below it.

Both negative answers put the zone's SOA in the *authority* section: its
``minimum`` field (and TTL) tells resolvers how long to cache the negative
answer (RFC 2308). Without it a negative answer cannot be cached at all, and
every pod's resolver would re-ask on each search-path step.

Pod records (``10-244-1-5.default.pod.cluster.local``) are not stored: any
address in dashed form below an existing namespace's ``pod`` subtree answers
with that address, as the specification requires ("for any values").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from minik.dns.names import parent, parse_dashed
from minik.dns.records import RecordIndex, RRSets
from minik.dns.rr import CNAME, RR, SOA, SRV, RData, RType
from minik.dns.schema import address_record

#: Longest CNAME chain followed before giving up (a loop would otherwise never end).
MAX_CHAIN = 8

#: Zone transfers are for secondary servers; this zone changes too often to copy.
TRANSFER_TYPES = frozenset({251, 252})  # IXFR, AXFR


class Rcode(enum.IntEnum):
    """Response codes (RFC 1035 §4.1.1, RFC 6891 for the extended BADVERS)."""

    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    BADVERS = 16


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: Rcode
    authoritative: bool = True
    answer: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    additional: tuple[RR, ...] = ()


REFUSED = Answer(Rcode.REFUSED, authoritative=False)


class Resolver:
    """Answers questions from a :class:`~minik.dns.records.RecordIndex` with a fixed TTL."""

    def __init__(self, index: RecordIndex, *, ttl: int = 5) -> None:
        self.index = index
        self.ttl = ttl

    @property
    def domain(self) -> str:
        return self.index.domain

    def authoritative_for(self, name: str) -> bool:
        """Whether ``name`` (canonical) is in a zone this resolver answers."""
        return self.index.zone_of(name) is not None

    def soa(self, zone: str) -> RR:
        data = SOA(
            mname=f"ns.dns.{self.domain}",
            rname=f"hostmaster.{self.domain}",
            serial=self.index.serial & 0xFFFFFFFF,
            refresh=7200,
            retry=1800,
            expire=86400,
            minimum=self.ttl,
        )
        return RR(zone, self.ttl, data)

    def resolve(self, name: str, qtype: int) -> Answer:
        """The answer to ``name`` (canonical spelling) of type ``qtype``."""
        zone = self.index.zone_of(name)
        if zone is None or qtype in TRANSFER_TYPES:
            return REFUSED
        answer: list[RR] = []
        for _ in range(MAX_CHAIN):
            rrsets = self._rrsets(name, zone)
            if rrsets is None:
                return Answer(Rcode.NXDOMAIN, answer=tuple(answer), authority=(self.soa(zone),))
            aliases = rrsets.get(RType.CNAME)
            if aliases and qtype != RType.CNAME:
                alias = aliases[0]
                assert isinstance(alias, CNAME)
                answer.append(RR(name, self.ttl, alias))
                target = alias.target
                target_zone = self.index.zone_of(target)
                if target_zone is None:  # an outside name: the client's resolver takes it from here
                    return Answer(Rcode.NOERROR, answer=tuple(answer))
                name, zone = target, target_zone
                continue
            datas = self._select(rrsets, qtype)
            if not datas:
                return Answer(Rcode.NOERROR, answer=tuple(answer), authority=(self.soa(zone),))
            answer.extend(RR(name, self.ttl, d) for d in datas)
            return Answer(Rcode.NOERROR, answer=tuple(answer), additional=self._additional(datas))
        return Answer(Rcode.SERVFAIL, answer=tuple(answer))

    # -- helpers ----------------------------------------------------------------------------------

    def _rrsets(self, name: str, zone: str) -> RRSets | None:
        rrsets = self.index.get(name)
        if rrsets is None:
            return self._pod_record(name)
        if name == zone:
            return {**rrsets, RType.SOA: (self.soa(zone).data,)}
        return rrsets

    def _pod_record(self, name: str) -> RRSets | None:
        """``a-b-c-d.<ns>.pod.<zone>`` → ``A a.b.c.d`` when the namespace exists."""
        label, _, namespace_subtree = name.partition(".")
        if parent(parent(namespace_subtree)) != self.domain or not namespace_subtree.endswith(
            ".pod." + self.domain
        ):
            return None
        if not self.index.exists(namespace_subtree):
            return None
        ip = parse_dashed(label)
        if ip is None:
            return None
        data = address_record(ip)
        return {data.rtype: (data,)}

    @staticmethod
    def _select(rrsets: RRSets, qtype: int) -> tuple[RData, ...]:
        if qtype == RType.ANY:
            return tuple(d for datas in rrsets.values() for d in datas)
        return rrsets.get(qtype, ())

    def _additional(self, datas: tuple[RData, ...]) -> tuple[RR, ...]:
        extra: list[RR] = []
        for data in datas:
            if isinstance(data, SRV):
                rrsets = self.index.get(data.target) or {}
                for rtype in (RType.A, RType.AAAA):
                    extra.extend(RR(data.target, self.ttl, d) for d in rrsets.get(rtype, ()))
        return tuple(extra)
