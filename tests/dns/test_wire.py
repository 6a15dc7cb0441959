"""The wire format: parsing queries (and refusing bad ones), encoding answers dnspython can read."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from minik.dns.resolver import Answer, Rcode
from minik.dns.rr import CNAME, RR, SOA, SRV, TXT, A
from minik.dns.wire import (
    DropQuery,
    QueryError,
    encode_error,
    encode_response,
    parse_query,
    udp_limit,
)


def wire(name: str, rdtype: str = "A", **kwargs: object) -> bytes:
    return dns.message.make_query(name, rdtype, **kwargs).to_wire()  # type: ignore[arg-type]


def test_parse_a_plain_query() -> None:
    data = wire("Web.Default.svc.cluster.local", "SRV")
    q = parse_query(data)
    assert q.name == "web.default.svc.cluster.local"
    assert q.qtype == 33 and q.qclass == 1
    assert q.edns is None
    assert q.question == data[12:]
    assert q.id == struct.unpack(">H", data[:2])[0]


def test_parse_edns() -> None:
    q = parse_query(wire("a.cluster.local", use_edns=0, payload=4096, want_dnssec=True))
    assert q.edns is not None
    assert (q.edns.udp_size, q.edns.version, q.edns.dnssec_ok) == (4096, 0, True)
    small = parse_query(wire("a.cluster.local", use_edns=0, payload=100))
    assert small.edns is not None and small.edns.udp_size == 512  # never below classic DNS


@pytest.mark.parametrize("data", [b"", b"\x00" * 11])
def test_too_short_to_answer_is_dropped(data: bytes) -> None:
    with pytest.raises(DropQuery):
        parse_query(data)


def test_responses_are_dropped() -> None:
    msg = dns.message.make_response(dns.message.make_query("a.cluster.local", "A"))
    with pytest.raises(DropQuery):
        parse_query(msg.to_wire())


def _mangled(data: bytes, qdcount: int) -> bytes:
    return data[:4] + struct.pack(">H", qdcount) + data[6:]


@pytest.mark.parametrize(
    ("data", "rcode"),
    [
        (_mangled(wire("a.cluster.local"), 0), Rcode.FORMERR),
        (_mangled(wire("a.cluster.local"), 2), Rcode.FORMERR),
        (wire("a.cluster.local")[:20], Rcode.FORMERR),  # name cut short
        (wire("a.cluster.local")[:12] + b"\xc0\x0c\x00\x01\x00\x01", Rcode.FORMERR),  # pointer in question
    ],
)
def test_malformed_queries_are_format_errors(data: bytes, rcode: Rcode) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(data)
    assert err.value.rcode == rcode
    reply = dns.message.from_wire(encode_error(err.value))
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.id == struct.unpack(">H", data[:2])[0]


def test_other_opcodes_are_not_implemented() -> None:
    msg = dns.message.make_query("a.cluster.local", "A")
    msg.set_opcode(dns.opcode.STATUS)
    with pytest.raises(QueryError) as err:
        parse_query(msg.to_wire())
    reply = dns.message.from_wire(encode_error(err.value))
    assert reply.rcode() == dns.rcode.NOTIMP
    assert reply.opcode() == dns.opcode.STATUS
    assert reply.question[0].name.to_text() == "a.cluster.local."


def test_an_unknown_edns_version_gets_badvers() -> None:
    with pytest.raises(QueryError) as err:
        parse_query(wire("a.cluster.local", use_edns=1))
    reply = dns.message.from_wire(encode_error(err.value))
    assert reply.rcode() == dns.rcode.BADVERS  # 16: the high bits travel in the OPT record
    assert reply.edns == 0


def answer_for(name: str, records: list[RR], **kwargs: object) -> Answer:
    return Answer(Rcode.NOERROR, answer=tuple(records), **kwargs)  # type: ignore[arg-type]


def test_answers_point_back_at_the_question_and_keep_its_case() -> None:
    data = wire("WEB.default.svc.cluster.local")
    q = parse_query(data)
    out = encode_response(q, answer_for(q.name, [RR(q.name, 5, A("10.96.0.20"))]), limit=512)
    assert out[len(data) : len(data) + 2] == b"\xc0\x0c"  # owner = pointer to offset 12
    reply = dns.message.from_wire(out)
    assert reply.answer[0].name.to_text() == "WEB.default.svc.cluster.local."
    assert reply.flags & dns.flags.AA and reply.flags & dns.flags.RD and reply.flags & dns.flags.QR


def test_every_record_type_round_trips_through_dnspython() -> None:
    q = parse_query(wire("x.cluster.local", "ANY"))
    records = [
        RR("x.cluster.local", 5, A("10.0.0.1")),
        RR("x.cluster.local", 5, CNAME("y.example.org")),
        RR("x.cluster.local", 5, SRV(0, 50, 8080, "web-0.x.cluster.local")),
        RR("x.cluster.local", 5, TXT(("1.1.0",))),
        RR("cluster.local", 5, SOA("ns.dns.cluster.local", "hostmaster.cluster.local", 7, 1, 2, 3, 5)),
    ]
    reply = dns.message.from_wire(encode_response(q, answer_for(q.name, records), limit=65535))
    texts = [rrset.to_text() for rrset in reply.answer]
    assert texts == [
        "x.cluster.local. 5 IN A 10.0.0.1",
        "x.cluster.local. 5 IN CNAME y.example.org.",
        "x.cluster.local. 5 IN SRV 0 50 8080 web-0.x.cluster.local.",
        'x.cluster.local. 5 IN TXT "1.1.0"',
        "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 7 1 2 3 5",
    ]


def many(q_name: str, n: int) -> list[RR]:
    return [RR(q_name, 5, A(f"10.244.{i // 250}.{i % 250 + 1}")) for i in range(n)]


def test_an_answer_too_big_for_udp_is_cut_at_a_record_boundary_and_marked_truncated() -> None:
    q = parse_query(wire("big.cluster.local"))
    out = encode_response(q, answer_for(q.name, many(q.name, 100)), limit=udp_limit(q, 4096))
    assert len(out) <= 512
    reply = dns.message.from_wire(out)
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100
    full = dns.message.from_wire(encode_response(q, answer_for(q.name, many(q.name, 100)), limit=65535))
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == 100


def test_edns_raises_the_limit_and_is_echoed() -> None:
    q = parse_query(wire("big.cluster.local", use_edns=0, payload=4096, want_dnssec=True))
    assert udp_limit(q, 4096) == 4096
    assert udp_limit(q, 1232) == 1232  # our own cap wins over a bigger offer
    reply = dns.message.from_wire(encode_response(q, answer_for(q.name, many(q.name, 100)), limit=4096))
    assert not reply.flags & dns.flags.TC and len(reply.answer[0]) == 100
    assert reply.edns == 0 and reply.payload == 1232
    assert reply.ednsflags & dns.flags.DO


def test_extra_records_that_do_not_fit_are_dropped_without_truncation() -> None:
    q = parse_query(wire("_x._tcp.cluster.local", "SRV"))
    srv = [RR(q.name, 5, SRV(0, 100, 80, "a.cluster.local"))]
    answer = Answer(Rcode.NOERROR, answer=tuple(srv), additional=tuple(many("a.cluster.local", 100)))
    reply = dns.message.from_wire(encode_response(q, answer, limit=512))
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer) == 1
    assert 0 < len(reply.additional[0]) < 100
