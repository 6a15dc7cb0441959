"""Answers as short strings, so tables of expected answers stay readable."""

from __future__ import annotations

from minik.dns.resolver import Answer
from minik.dns.rr import AAAA, CNAME, PTR, RR, SOA, SRV, TXT, A, RData


def rdata(data: RData) -> str:
    if isinstance(data, A | AAAA):
        return data.address
    if isinstance(data, CNAME | PTR):
        return data.target
    if isinstance(data, SRV):
        return f"{data.priority} {data.weight} {data.port} {data.target}"
    if isinstance(data, TXT):
        return " ".join(f'"{s}"' for s in data.strings)
    assert isinstance(data, SOA)
    return f"{data.mname} {data.rname}"


def rr(record: RR) -> str:
    return f"{record.name} {record.rtype.name} {rdata(record.data)}"


def records(answer: Answer) -> list[str]:
    """The answer section, each record as ``"TYPE data"`` (owner left out)."""
    return [f"{r.rtype.name} {rdata(r.data)}" for r in answer.answer]
