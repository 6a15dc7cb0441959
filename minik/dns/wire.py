"""The DNS wire format (RFC 1035, RFC 6891): parsing queries, encoding answers.

A DNS message is a 12-byte header, then four sections — question, answer,
authority, additional — each a run of records::

    header     ID | QR OPCODE AA TC RD RA Z AD CD RCODE | QDCOUNT ANCOUNT NSCOUNT ARCOUNT
    question   name, type, class                         (exactly one, in practice)
    answer     name, type, class, TTL, RDLENGTH, RDATA   (the records asked for)
    authority  ...                                       (the SOA of a negative answer)
    additional ...                                       (SRV targets' addresses; the OPT record)

Names travel as length-prefixed labels (``3web7default3svc...0``). To save
space a name may end in a two-byte *pointer* to an earlier occurrence of the
same suffix (compression, RFC 1035 §4.1.4). Every answer here starts by
pointing at the question's name, which is also why the answer echoes the
caller's own capitalisation: resolvers that randomise the case of query names
(DNS 0x20, an anti-spoofing trick) check that it comes back unchanged.

**EDNS0** (RFC 6891). Classic DNS over UDP caps a message at 512 bytes. A client
that can take more says so with an OPT pseudo-record in the additional section:
its CLASS field carries the UDP payload size it accepts, its TTL field an
extended RCODE, the EDNS version and the DO bit. The server answers with an OPT
record of its own; a version it does not speak gets ``BADVERS``.

**Truncation.** If the answer does not fit the size the client accepts, the
server sends what fits, sets TC ("truncated"), and the client asks again over
TCP, where a message may be up to 65535 bytes (each prefixed by a two-byte
length). Records of the answer and authority sections are never split; extra
records in the additional section are simply left out (that needs no TC, RFC
2181 §9).

This is hand-written rather than built on a DNS library because the server's
hot path is "look up a cached byte string and swap in the ID": the encoder only
runs on cache misses, and the parser only when the cache has never seen a query.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from minik.dns.resolver import Answer, Rcode
from minik.dns.rr import AAAA, CNAME, PTR, RR, SOA, SRV, TXT, A, RType

HEADER = struct.Struct(">HHHHHH")
_RR_FIXED = struct.Struct(">HHIH")  # type, class, TTL, RDLENGTH
_SRV_FIXED = struct.Struct(">HHH")
_SOA_FIXED = struct.Struct(">IIIII")

CLASS_IN = 1
CLASS_ANY = 255

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
FLAG_CD = 0x0010

MIN_UDP_SIZE = 512
MAX_TCP_SIZE = 65535
#: The OPT record we append: root name, type, class, TTL, RDLENGTH.
OPT_SIZE = 11


class DropQuery(Exception):
    """Not worth an answer: too short to carry an ID, or a response rather than a query."""


@dataclass(frozen=True, slots=True)
class Edns:
    """What a client's OPT record said."""

    udp_size: int
    version: int
    dnssec_ok: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. ``name`` is canonical (lower case, no trailing dot); ``question``
    is the question section exactly as sent, echoed back in the answer."""

    id: int
    flags: int
    name: str
    qtype: int
    qclass: int
    question: bytes
    edns: Edns | None

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


class QueryError(Exception):
    """A query that can only be answered with an error code (FORMERR, NOTIMP, BADVERS...).

    Carries as much of the query as was understood, so the error answer can
    still echo the ID, the question and EDNS.
    """

    def __init__(
        self, rcode: Rcode, *, id: int, flags: int, question: bytes = b"", edns: Edns | None = None
    ) -> None:
        super().__init__(rcode.name)
        self.rcode = rcode
        self.id = id
        self.flags = flags
        self.question = question
        self.edns = edns


# -- parsing --------------------------------------------------------------------------------------


def parse_query(data: bytes) -> Query:
    """Parse one query message; raises :class:`DropQuery` or :class:`QueryError`."""
    if len(data) < HEADER.size:
        raise DropQuery("shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & FLAG_QR:
        raise DropQuery("a response, not a query")
    if qdcount != 1 or ancount or nscount:
        raise QueryError(Rcode.FORMERR, id=qid, flags=flags)
    try:
        name, end = _parse_question_name(data, HEADER.size)
        qtype, qclass = struct.unpack_from(">HH", data, end)
    except (IndexError, struct.error, ValueError):
        raise QueryError(Rcode.FORMERR, id=qid, flags=flags) from None
    question = data[HEADER.size : end + 4]
    try:
        edns = _parse_additional(data, end + 4, arcount)
    except (IndexError, struct.error, ValueError):
        raise QueryError(Rcode.FORMERR, id=qid, flags=flags, question=question) from None
    if (flags >> 11) & 0xF != 0:  # only standard queries (no NOTIFY, UPDATE, ...)
        raise QueryError(Rcode.NOTIMP, id=qid, flags=flags, question=question, edns=edns)
    if edns is not None and edns.version != 0:
        raise QueryError(Rcode.BADVERS, id=qid, flags=flags, question=question, edns=edns)
    return Query(qid, flags, name, qtype, qclass, question, edns)


def _parse_question_name(data: bytes, offset: int) -> tuple[str, int]:
    """The question's name, canonical; compression is not allowed there."""
    labels: list[str] = []
    total = 0
    while True:
        length = data[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        if length > 63:
            raise ValueError("compressed or invalid label in question")
        label = data[offset + 1 : offset + 1 + length]
        if len(label) != length:
            raise ValueError("truncated label")
        total += length + 1
        if total > 255:
            raise ValueError("name too long")
        text = label.lower().decode("latin-1")
        # A dot inside a label is legal but cannot be any name we serve; escape it so
        # the canonical spelling stays unambiguous.
        labels.append(text.replace(".", "\\."))
        offset += 1 + length


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length


def _parse_additional(data: bytes, offset: int, count: int) -> Edns | None:
    edns: Edns | None = None
    for _ in range(count):
        name_end = _skip_name(data, offset)
        rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, name_end)
        if rtype == RType.OPT:
            if edns is not None or name_end != offset + 1:  # one OPT, owned by the root
                raise ValueError("bad OPT record")
            edns = Edns(max(MIN_UDP_SIZE, rclass), (ttl >> 16) & 0xFF, bool(ttl & 0x8000))
        offset = name_end + _RR_FIXED.size + rdlength
        if offset > len(data):
            raise ValueError("truncated record")
    return edns


# -- encoding -------------------------------------------------------------------------------------


class _Writer:
    """A message under construction, remembering where each name suffix was written."""

    def __init__(self) -> None:
        self.buf = bytearray(HEADER.size)
        self.names: dict[str, int] = {}

    def question(self, question: bytes, name: str) -> None:
        """Copy the question as sent, and note where each suffix of its ``name`` (canonical) starts.

        The canonical spelling has the same label lengths as the bytes on the wire
        (lower-casing changes no length), except for the rare name with a dot
        inside a label, which is simply not used for compression.
        """
        if "\\." not in name:
            offset = HEADER.size
            rest = name
            while rest:
                self.names.setdefault(rest, offset)
                label, _, rest = rest.partition(".")
                offset += 1 + len(label)
        self.buf += question

    def name(self, name: str, *, compress: bool = True) -> None:
        buf = self.buf
        rest = name
        while rest:
            if compress:
                pointer = self.names.get(rest)
                if pointer is not None:
                    buf += (0xC000 | pointer).to_bytes(2, "big")
                    return
            if len(buf) < 0x3FFF:
                self.names.setdefault(rest, len(buf))
            label, _, rest = rest.partition(".")
            encoded = label.encode("latin-1")
            buf.append(len(encoded))
            buf += encoded
        buf.append(0)

    def record(self, rr: RR) -> None:
        self.name(rr.name)
        data = rr.data
        start = len(self.buf)
        self.buf += _RR_FIXED.pack(data.rtype, CLASS_IN, rr.ttl, 0)
        if isinstance(data, A):
            self.buf += socket.inet_pton(socket.AF_INET, data.address)
        elif isinstance(data, AAAA):
            self.buf += socket.inet_pton(socket.AF_INET6, data.address)
        elif isinstance(data, CNAME | PTR):
            self.name(data.target)
        elif isinstance(data, SRV):
            self.buf += _SRV_FIXED.pack(data.priority, data.weight, data.port)
            self.name(data.target, compress=False)  # RFC 2782: SRV targets are not compressed
        elif isinstance(data, TXT):
            for text in data.strings:
                encoded = text.encode()[:255]
                self.buf.append(len(encoded))
                self.buf += encoded
        elif isinstance(data, SOA):
            self.name(data.mname)
            self.name(data.rname)
            self.buf += _SOA_FIXED.pack(data.serial, data.refresh, data.retry, data.expire, data.minimum)
        rdlength = len(self.buf) - start - _RR_FIXED.size
        struct.pack_into(">H", self.buf, start + 8, rdlength)

    def opt(self, udp_size: int, extended_rcode: int, dnssec_ok: bool) -> None:
        ttl = (extended_rcode << 24) | (0x8000 if dnssec_ok else 0)
        self.buf += b"\x00" + _RR_FIXED.pack(RType.OPT, udp_size, ttl, 0)


def _flags(query_flags: int, rcode: int, *, authoritative: bool, truncated: bool) -> int:
    flags = FLAG_QR | (query_flags & (0x7800 | FLAG_RD | FLAG_CD)) | FLAG_RA | (rcode & 0xF)
    if authoritative:
        flags |= FLAG_AA
    if truncated:
        flags |= FLAG_TC
    return flags


def encode_response(query: Query, answer: Answer, *, limit: int, udp_size: int = 1232) -> bytes:
    """The answer as a message of at most ``limit`` bytes (TC set if answer records were cut).

    ``udp_size`` is what our own OPT record advertises (only sent if the query had EDNS).
    """
    w = _Writer()
    w.question(query.question, query.name)
    room = limit - (OPT_SIZE if query.edns else 0)
    counts = [0, 0, 0]
    truncated = False
    for section, records in enumerate((answer.answer, answer.authority, answer.additional)):
        for rr in records:
            mark = len(w.buf)
            w.record(rr)
            if len(w.buf) > room:
                del w.buf[mark:]
                truncated = section < 2
                break
            counts[section] += 1
        else:
            continue
        break
    arcount = counts[2]
    if query.edns is not None:
        w.opt(udp_size, answer.rcode >> 4, query.edns.dnssec_ok)
        arcount += 1
    flags = _flags(query.flags, answer.rcode, authoritative=answer.authoritative, truncated=truncated)
    HEADER.pack_into(w.buf, 0, query.id, flags, 1, counts[0], counts[1], arcount)
    return bytes(w.buf)


def encode_error(error: QueryError, *, udp_size: int = 1232) -> bytes:
    """An error answer echoing whatever of the query was understood."""
    w = _Writer()
    qdcount = 0
    if error.question:
        w.buf += error.question
        qdcount = 1
    arcount = 0
    if error.edns is not None:
        w.opt(udp_size, error.rcode >> 4, error.edns.dnssec_ok)
        arcount = 1
    flags = _flags(error.flags, error.rcode, authoritative=False, truncated=False)
    HEADER.pack_into(w.buf, 0, error.id, flags, qdcount, 0, 0, arcount)
    return bytes(w.buf)


def udp_limit(query: Query, max_udp_size: int) -> int:
    """How big a UDP answer to this query may be: 512 without EDNS, else what the client accepts."""
    if query.edns is None:
        return MIN_UDP_SIZE
    return max(MIN_UDP_SIZE, min(query.edns.udp_size, max_udp_size))
