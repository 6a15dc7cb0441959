"""Resource records: the typed data a DNS answer is made of.

A DNS *resource record* (RR) is ``owner name, type, class, TTL, data``. An
*RRset* is all records sharing one owner name and type — the unit DNS answers
in: a query for ``web.default.svc.cluster.local A`` returns the whole A RRset
of that name, never one record of it.

minik-dns only needs the class ``IN`` (Internet) and the handful of types
Kubernetes DNS uses, each a small immutable value here (the *data* part; the
owner name is the key it is filed under, the TTL is added when answering):

=========  =======================================  ===================================
type       data                                     used for
=========  =======================================  ===================================
``A``      an IPv4 address                          ClusterIPs, headless endpoints, pods
``AAAA``   an IPv6 address                          the same, for IPv6
``CNAME``  another name ("look there instead")      ExternalName Services
``PTR``    a name                                   reverse lookups of service/pod IPs
``SRV``    priority, weight, port, target name      named Service ports
``TXT``    strings                                  ``dns-version.<zone>``
``SOA``    the zone's "start of authority"          the authority section of negative answers
=========  =======================================  ===================================

The classes are frozen and hashable, so a set of records can be deduplicated
(the same endpoint address may appear in two EndpointSlices while the slice
controller moves it) and two record sets compared to see whether an API change
changed anything DNS serves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar


class RType(enum.IntEnum):
    """Record (and query) type codes from the IANA registry."""

    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    ANY = 255


def type_name(code: int) -> str:
    """``1`` → ``"A"``; an unknown code as ``TYPE65`` (RFC 3597 spelling)."""
    try:
        return RType(code).name
    except ValueError:
        return f"TYPE{code}"


@dataclass(frozen=True, slots=True)
class A:
    address: str
    rtype: ClassVar[RType] = RType.A


@dataclass(frozen=True, slots=True)
class AAAA:
    address: str
    rtype: ClassVar[RType] = RType.AAAA


@dataclass(frozen=True, slots=True)
class CNAME:
    target: str
    rtype: ClassVar[RType] = RType.CNAME


@dataclass(frozen=True, slots=True)
class PTR:
    target: str
    rtype: ClassVar[RType] = RType.PTR


@dataclass(frozen=True, slots=True)
class SRV:
    """RFC 2782: clients try the lowest ``priority`` first and spread load by ``weight``."""

    priority: int
    weight: int
    port: int
    target: str
    rtype: ClassVar[RType] = RType.SRV


@dataclass(frozen=True, slots=True)
class TXT:
    strings: tuple[str, ...]
    rtype: ClassVar[RType] = RType.TXT


@dataclass(frozen=True, slots=True)
class SOA:
    """Start of authority. ``minimum`` doubles as the TTL of negative answers (RFC 2308)."""

    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int
    rtype: ClassVar[RType] = RType.SOA


RData = A | AAAA | CNAME | PTR | SRV | TXT | SOA


@dataclass(frozen=True, slots=True)
class RR:
    """One record as it goes into an answer: owner name (canonical), TTL, data."""

    name: str
    ttl: int
    data: RData

    @property
    def rtype(self) -> RType:
        return self.data.rtype
