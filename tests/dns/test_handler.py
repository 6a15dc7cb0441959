"""QueryHandler: the answer cache, its invalidation, forwarding decisions, metrics."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass

from minik.dns.handler import FORWARD, TCP, UDP, QueryHandler
from minik.dns.resolver import Resolver

from .objects import service, zoo

WEB = "web.default.svc.cluster.local"


def query(name: str, rdtype: str = "A", qid: int = 1, **kwargs: object) -> bytes:
    msg = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    msg.id = qid
    return msg.to_wire()


def reply(data: bytes | object) -> dns.message.Message:
    assert isinstance(data, bytes)
    return dns.message.from_wire(data)


def test_a_repeated_query_is_served_from_the_cache_with_its_own_id() -> None:
    handler = QueryHandler(Resolver(zoo()))
    first = handler.handle(query(WEB, qid=1))
    second = handler.handle(query(WEB, qid=2))
    assert isinstance(first, bytes) and isinstance(second, bytes)
    assert first[2:] == second[2:]
    assert reply(second).id == 2
    assert (handler.metrics.cache_misses, handler.metrics.cache_hits) == (1, 1)


def test_udp_and_tcp_answers_are_cached_apart() -> None:
    index = zoo()
    for i in range(100):
        index.upsert_endpointslice(
            {
                "kind": "EndpointSlice",
                "addressType": "IPv4",
                "metadata": {
                    "name": f"s{i}",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "peers"},
                },
                "endpoints": [{"addresses": [f"10.250.0.{i + 1}"]}],
            }
        )
    handler = QueryHandler(Resolver(index))
    data = query("peers.default.svc.cluster.local")
    assert len(reply(handler.handle(data, UDP)).answer[0]) < 101
    assert len(reply(handler.handle(data, TCP)).answer[0]) == 101


def test_an_index_change_is_visible_to_the_very_next_query() -> None:
    index = zoo()
    handler = QueryHandler(Resolver(index))
    assert reply(handler.handle(query(WEB))).answer[0][0].address == "10.96.0.20"
    index.upsert_service(service("web", cluster_ip="10.96.0.99"))
    assert reply(handler.handle(query(WEB))).answer[0][0].address == "10.96.0.99"
    index.delete_service("default", "web")
    assert reply(handler.handle(query(WEB))).rcode() == dns.rcode.NXDOMAIN


def test_the_cache_is_bounded() -> None:
    handler = QueryHandler(Resolver(zoo()), cache_size=10)
    for i in range(25):
        handler.handle(query(f"n{i}.default.svc.cluster.local"))
    assert handler.cache_entries() <= 10


def test_outside_names_are_refused_or_marked_for_forwarding() -> None:
    assert reply(QueryHandler(Resolver(zoo())).handle(query("example.com"))).rcode() == dns.rcode.REFUSED
    forwarding = QueryHandler(Resolver(zoo()), forwarding=True)
    assert forwarding.handle(query("example.com")) is FORWARD
    assert reply(forwarding.handle(query(WEB))).rcode() == dns.rcode.NOERROR


def test_other_classes_are_refused() -> None:
    data = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH).to_wire()
    assert reply(QueryHandler(Resolver(zoo())).handle(data)).rcode() == dns.rcode.REFUSED


def test_garbage_is_dropped_and_malformed_queries_get_formerr() -> None:
    handler = QueryHandler(Resolver(zoo()))
    assert handler.handle(b"\x01") is None
    assert reply(handler.handle(query(WEB)[:20])).rcode() == dns.rcode.FORMERR


def test_a_failing_resolver_costs_one_servfail(monkeypatch: object) -> None:
    resolver = Resolver(zoo())

    def broken(name: str, qtype: int) -> object:
        raise RuntimeError("bug")

    resolver.resolve = broken  # type: ignore[method-assign, assignment]
    assert reply(QueryHandler(resolver).handle(query(WEB))).rcode() == dns.rcode.SERVFAIL


def test_metrics_count_queries_by_type_and_rcode() -> None:
    handler = QueryHandler(Resolver(zoo()))
    for _ in range(3):
        handler.handle(query(WEB))
    handler.handle(query(WEB, "AAAA"))
    handler.handle(query("nope.cluster.local"), TCP)
    text = handler.metrics.render()
    assert 'minik_dns_queries_total{proto="udp",type="A",rcode="NOERROR"} 3' in text
    assert 'minik_dns_queries_total{proto="udp",type="AAAA",rcode="NOERROR"} 1' in text
    assert 'minik_dns_queries_total{proto="tcp",type="A",rcode="NXDOMAIN"} 1' in text
    assert 'minik_dns_request_duration_seconds_bucket{le="+Inf"} 5' in text
    assert "minik_dns_request_duration_seconds_count 5" in text
    assert "minik_dns_cache_hits_total 2" in text


def test_before_the_first_sync_cluster_names_are_servfail_and_not_cached() -> None:
    handler = QueryHandler(Resolver(zoo()), ready=False)
    assert reply(handler.handle(query(WEB))).rcode() == dns.rcode.SERVFAIL
    assert reply(handler.handle(query("example.com"))).rcode() == dns.rcode.REFUSED
    handler.ready = True
    assert reply(handler.handle(query(WEB))).rcode() == dns.rcode.NOERROR


def test_a_dot_inside_a_label_is_not_mistaken_for_two_labels() -> None:
    name = dns.name.Name([b"web.default", b"svc", b"cluster", b"local", b""])
    r = reply(QueryHandler(Resolver(zoo())).handle(dns.message.make_query(name, "A").to_wire()))
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.question[0].name == name
