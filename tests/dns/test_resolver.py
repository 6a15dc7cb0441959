"""The answer for each record type and edge case of the DNS schema, from a fixed index."""

from __future__ import annotations

import pytest

from minik.dns.names import normalize
from minik.dns.records import RecordIndex
from minik.dns.resolver import Rcode, Resolver
from minik.dns.rr import RType

from .objects import external, zoo
from .render import records, rr

Z = "cluster.local"
NOERROR, NXDOMAIN, REFUSED = Rcode.NOERROR, Rcode.NXDOMAIN, Rcode.REFUSED


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(zoo(), ttl=5)


# (question name, type) → (rcode, answer records in order, SOA in authority?)
CASES: list[tuple[str, str, Rcode, list[str], bool]] = [
    # --- ClusterIP Service: A, SRV for named ports only, NODATA for other types
    (f"web.default.svc.{Z}", "A", NOERROR, ["A 10.96.0.20"], False),
    (f"web.default.svc.{Z}", "AAAA", NOERROR, [], True),
    (f"web.default.svc.{Z}", "TXT", NOERROR, [], True),
    (f"web.default.svc.{Z}", "ANY", NOERROR, ["A 10.96.0.20"], False),
    (f"_http._tcp.web.default.svc.{Z}", "SRV", NOERROR, [f"SRV 0 100 80 web.default.svc.{Z}"], False),
    (f"_dns._udp.web.default.svc.{Z}", "SRV", NOERROR, [f"SRV 0 100 53 web.default.svc.{Z}"], False),
    (f"_http._udp.web.default.svc.{Z}", "SRV", NXDOMAIN, [], True),  # wrong protocol
    (f"_tcp.web.default.svc.{Z}", "SRV", NOERROR, [], True),  # empty non-terminal
    (f"_http._tcp.web.default.svc.{Z}", "A", NOERROR, [], True),
    (f"sub.web.default.svc.{Z}", "A", NXDOMAIN, [], True),
    (f"web.team.svc.{Z}", "A", NOERROR, ["A 10.96.5.5"], False),  # same name, other namespace
    # --- headless Service: ready endpoints, hostnames, dashed identifiers, SRV per endpoint
    (
        f"nginx.default.svc.{Z}",
        "A",
        NOERROR,
        ["A 10.244.1.5", "A 10.244.2.9", "A 10.244.3.3", "A 10.244.3.8"],
        False,
    ),
    (f"web-0.nginx.default.svc.{Z}", "A", NOERROR, ["A 10.244.1.5"], False),
    (f"web-3.nginx.default.svc.{Z}", "A", NOERROR, ["A 10.244.3.8"], False),  # readiness unknown
    (f"web-2.nginx.default.svc.{Z}", "A", NXDOMAIN, [], True),  # not ready
    (f"10-244-3-3.nginx.default.svc.{Z}", "A", NOERROR, ["A 10.244.3.3"], False),
    (f"web-0.nginx.default.svc.{Z}", "AAAA", NOERROR, [], True),
    (
        f"_web._tcp.nginx.default.svc.{Z}",
        "SRV",
        NOERROR,
        [
            f"SRV 0 25 8080 web-0.nginx.default.svc.{Z}",
            f"SRV 0 25 8080 web-1.nginx.default.svc.{Z}",
            f"SRV 0 25 8080 10-244-3-3.nginx.default.svc.{Z}",
            f"SRV 0 25 8080 web-3.nginx.default.svc.{Z}",
        ],
        False,
    ),
    # publishNotReadyAddresses publishes endpoints that are not ready
    (f"peers.default.svc.{Z}", "A", NOERROR, ["A 10.244.4.4"], False),
    (f"peer-0.peers.default.svc.{Z}", "A", NOERROR, ["A 10.244.4.4"], False),
    # a headless Service without ready endpoints does not exist (the spec's NXDOMAIN)
    (f"empty.default.svc.{Z}", "A", NXDOMAIN, [], True),
    # --- ExternalName: CNAME whatever the type; chased when the target is ours
    (f"db.default.svc.{Z}", "A", NOERROR, ["CNAME db.example.com"], False),
    (f"db.default.svc.{Z}", "CNAME", NOERROR, ["CNAME db.example.com"], False),
    (f"db.default.svc.{Z}", "AAAA", NOERROR, ["CNAME db.example.com"], False),
    (f"alias.default.svc.{Z}", "A", NOERROR, [f"CNAME web.default.svc.{Z}", "A 10.96.0.20"], False),
    (f"alias.default.svc.{Z}", "AAAA", NOERROR, [f"CNAME web.default.svc.{Z}"], True),
    # --- dual-stack ClusterIP; a Service whose IP is not allocated yet exists without records
    (f"dual.default.svc.{Z}", "A", NOERROR, ["A 10.96.0.30"], False),
    (f"dual.default.svc.{Z}", "AAAA", NOERROR, ["AAAA fd00::30"], False),
    (f"pending.default.svc.{Z}", "A", NOERROR, [], True),
    # --- PTR: ClusterIPs name the Service, headless endpoints their own name
    ("20.0.96.10.in-addr.arpa", "PTR", NOERROR, [f"PTR web.default.svc.{Z}"], False),
    ("5.1.244.10.in-addr.arpa", "PTR", NOERROR, [f"PTR web-0.nginx.default.svc.{Z}"], False),
    ("3.3.244.10.in-addr.arpa", "PTR", NOERROR, [f"PTR 10-244-3-3.nginx.default.svc.{Z}"], False),
    ("7.3.244.10.in-addr.arpa", "PTR", NXDOMAIN, [], True),  # not ready
    (
        "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
        "PTR",
        NOERROR,
        [f"PTR dual.default.svc.{Z}"],
        False,
    ),
    ("96.10.in-addr.arpa", "PTR", NOERROR, [], True),  # empty non-terminal of the reverse tree
    ("9.9.9.9.in-addr.arpa", "PTR", NXDOMAIN, [], True),
    # --- pod records: any dashed address below an existing namespace
    (f"10-1-2-3.default.pod.{Z}", "A", NOERROR, ["A 10.1.2.3"], False),
    (f"10-1-2-3.prod.pod.{Z}", "A", NOERROR, ["A 10.1.2.3"], False),
    (f"10-1-2-3.default.pod.{Z}", "AAAA", NOERROR, [], True),
    (f"fd00--7.default.pod.{Z}", "AAAA", NOERROR, ["AAAA fd00::7"], False),
    (f"10-1-2-3.nowhere.pod.{Z}", "A", NXDOMAIN, [], True),
    (f"999-1-2-3.default.pod.{Z}", "A", NXDOMAIN, [], True),
    (f"010-1-2-3.default.pod.{Z}", "A", NXDOMAIN, [], True),
    (f"x.10-1-2-3.default.pod.{Z}", "A", NXDOMAIN, [], True),
    # --- the zone's structure: empty non-terminals are NODATA, not NXDOMAIN
    (f"default.svc.{Z}", "A", NOERROR, [], True),
    (f"prod.svc.{Z}", "A", NOERROR, [], True),
    (f"nowhere.svc.{Z}", "A", NXDOMAIN, [], True),
    (f"svc.{Z}", "A", NOERROR, [], True),
    (f"default.pod.{Z}", "A", NOERROR, [], True),
    (f"pod.{Z}", "A", NOERROR, [], True),
    (Z, "A", NOERROR, [], True),
    (Z, "SOA", NOERROR, [f"SOA ns.dns.{Z} hostmaster.{Z}"], False),
    (f"dns-version.{Z}", "TXT", NOERROR, ['TXT "1.1.0"'], False),
    (f"nope.{Z}", "A", NXDOMAIN, [], True),
    # --- not ours
    ("example.com", "A", REFUSED, [], False),
    ("local", "A", REFUSED, [], False),
    ("", "NS", REFUSED, [], False),
    (Z, "AXFR", REFUSED, [], False),
]


def _qtype(text: str) -> int:
    return 252 if text == "AXFR" else RType[text]


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "expected", "soa"), CASES, ids=[f"{c[0] or '.'} {c[1]}" for c in CASES]
)
def test_answer(
    resolver: Resolver, name: str, qtype: str, rcode: Rcode, expected: list[str], soa: bool
) -> None:
    answer = resolver.resolve(normalize(name), _qtype(qtype))
    assert answer.rcode == rcode
    assert records(answer) == expected
    assert [r.rtype for r in answer.authority] == ([RType.SOA] if soa else [])
    assert answer.authoritative == (rcode != REFUSED)
    assert all(r.ttl == 5 for r in answer.answer + answer.authority)


def test_srv_answers_carry_the_targets_addresses(resolver: Resolver) -> None:
    answer = resolver.resolve(f"_web._tcp.nginx.default.svc.{Z}", RType.SRV)
    assert [rr(r) for r in answer.additional] == [
        f"web-0.nginx.default.svc.{Z} A 10.244.1.5",
        f"web-1.nginx.default.svc.{Z} A 10.244.2.9",
        f"10-244-3-3.nginx.default.svc.{Z} A 10.244.3.3",
        f"web-3.nginx.default.svc.{Z} A 10.244.3.8",
    ]
    answer = resolver.resolve(f"_http._tcp.web.default.svc.{Z}", RType.SRV)
    assert [rr(r) for r in answer.additional] == [f"web.default.svc.{Z} A 10.96.0.20"]


def test_negative_answers_name_the_zone_they_come_from(resolver: Resolver) -> None:
    assert resolver.resolve(f"nope.{Z}", RType.A).authority[0].name == Z
    assert resolver.resolve("9.9.9.9.in-addr.arpa", RType.PTR).authority[0].name == "in-addr.arpa"
    soa = resolver.resolve(f"nope.{Z}", RType.A).authority[0].data
    assert soa.minimum == 5  # type: ignore[union-attr]  # how long resolvers may cache the NXDOMAIN


def test_a_cname_loop_is_a_server_failure() -> None:
    index = RecordIndex()
    index.upsert_service(external("a", f"b.default.svc.{Z}"))
    index.upsert_service(external("b", f"a.default.svc.{Z}"))
    answer = Resolver(index).resolve(f"a.default.svc.{Z}", RType.A)
    assert answer.rcode == Rcode.SERVFAIL
    assert len(answer.answer) == 8


def test_a_cname_to_a_missing_name_in_the_zone_is_nxdomain_after_the_alias() -> None:
    index = RecordIndex()
    index.upsert_service(external("a", f"gone.default.svc.{Z}"))
    answer = Resolver(index).resolve(f"a.default.svc.{Z}", RType.A)
    assert answer.rcode == NXDOMAIN  # RFC 6604: the rcode speaks for the last name of the chain
    assert records(answer) == [f"CNAME gone.default.svc.{Z}"]


def test_ttl_is_configurable() -> None:
    answer = Resolver(zoo(), ttl=30).resolve(f"web.default.svc.{Z}", RType.A)
    assert answer.answer[0].ttl == 30


def test_another_cluster_domain() -> None:
    resolver = Resolver(zoo("k8s.example.org"))
    assert records(resolver.resolve("web.default.svc.k8s.example.org", RType.A)) == ["A 10.96.0.20"]
    assert resolver.resolve(f"web.default.svc.{Z}", RType.A).rcode == REFUSED
    assert records(resolver.resolve("10-0-0-1.default.pod.k8s.example.org", RType.A)) == ["A 10.0.0.1"]
