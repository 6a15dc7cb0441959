"""RecordIndex bookkeeping: owners, merges, existence counts, change tracking."""

from __future__ import annotations

from minik.dns.records import RecordIndex
from minik.dns.rr import AAAA, CNAME, PTR, A, RType

from .objects import endpoint, endpointslice, external, headless, namespace, port, service

Z = "cluster.local"
WEB = f"web.default.svc.{Z}"


def a_records(index: RecordIndex, name: str) -> list[str]:
    rrsets = index.get(name) or {}
    return [d.address for d in rrsets.get(RType.A, ())]  # type: ignore[union-attr]


def test_a_fresh_index_holds_only_the_zone_skeleton() -> None:
    index = RecordIndex()
    assert index.get(Z) == {}
    assert index.get(f"svc.{Z}") == {}
    assert index.get(f"pod.{Z}") == {}
    assert index.get(f"default.svc.{Z}") is None
    assert index.get(f"dns-version.{Z}") is not None


def test_deleting_a_service_removes_its_names_and_the_namespace_once_empty() -> None:
    index = RecordIndex()
    index.upsert_service(service("web", cluster_ip="10.96.0.20", ports=[port("http", 80)]))
    index.upsert_service(service("api", cluster_ip="10.96.0.21"))
    index.delete_service("default", "web")
    assert index.get(WEB) is None
    assert index.get(f"_http._tcp.{WEB}") is None
    assert index.get(f"_tcp.{WEB}") is None
    assert index.get("20.0.96.10.in-addr.arpa") is None
    assert index.get("0.96.10.in-addr.arpa") == {}  # api's PTR keeps the reverse branch alive
    assert index.get(f"default.svc.{Z}") == {}  # api keeps the namespace alive
    index.delete_service("default", "api")
    assert index.get(f"default.svc.{Z}") is None
    assert index.get("96.10.in-addr.arpa") is None
    assert len(index) == len(RecordIndex())  # back to the skeleton: nothing leaked


def test_a_namespace_object_keeps_its_subtrees_alive() -> None:
    index = RecordIndex()
    index.upsert_namespace(namespace("default"))
    index.upsert_service(service("web", cluster_ip="10.96.0.20"))
    index.delete_service("default", "web")
    assert index.get(f"default.svc.{Z}") == {}
    index.delete_namespace("default")
    assert index.get(f"default.svc.{Z}") is None
    assert index.get(f"default.pod.{Z}") is None


def test_a_slice_arriving_before_its_service_is_used_when_the_service_comes() -> None:
    index = RecordIndex()
    index.upsert_endpointslice(endpointslice("db-1", "db", [endpoint("10.244.0.7", "db-0")]))
    assert index.get(f"db.default.svc.{Z}") is None
    index.upsert_service(headless("db"))
    assert a_records(index, f"db-0.db.default.svc.{Z}") == ["10.244.0.7"]


def test_endpoints_from_several_slices_are_merged_without_duplicates() -> None:
    index = RecordIndex()
    index.upsert_service(headless("db"))
    index.upsert_endpointslice(endpointslice("db-1", "db", [endpoint("10.244.0.7"), endpoint("10.244.0.8")]))
    index.upsert_endpointslice(endpointslice("db-2", "db", [endpoint("10.244.0.8"), endpoint("10.244.0.9")]))
    assert a_records(index, f"db.default.svc.{Z}") == ["10.244.0.7", "10.244.0.8", "10.244.0.9"]
    index.delete_endpointslice("default", "db-1")
    assert a_records(index, f"db.default.svc.{Z}") == ["10.244.0.8", "10.244.0.9"]


def test_a_relabelled_slice_moves_to_its_new_service() -> None:
    index = RecordIndex()
    index.upsert_service(headless("a"))
    index.upsert_service(headless("b"))
    index.upsert_endpointslice(endpointslice("s", "a", [endpoint("10.244.0.7")]))
    index.upsert_endpointslice(endpointslice("s", "b", [endpoint("10.244.0.7")]))
    assert index.get(f"a.default.svc.{Z}") is None
    assert a_records(index, f"b.default.svc.{Z}") == ["10.244.0.7"]
    index.upsert_endpointslice(endpointslice("s", None, [endpoint("10.244.0.7")]))  # label removed
    assert index.get(f"b.default.svc.{Z}") is None


def test_readiness_changes_are_reflected() -> None:
    index = RecordIndex()
    index.upsert_service(headless("db"))
    index.upsert_endpointslice(endpointslice("s", "db", [endpoint("10.244.0.7", "db-0", ready=False)]))
    assert index.get(f"db-0.db.default.svc.{Z}") is None
    index.upsert_endpointslice(endpointslice("s", "db", [endpoint("10.244.0.7", "db-0", ready=True)]))
    assert a_records(index, f"db-0.db.default.svc.{Z}") == ["10.244.0.7"]


def test_the_tolerate_unready_annotation_works_like_publish_not_ready_addresses() -> None:
    index = RecordIndex()
    index.upsert_service(
        headless("db", annotations={"service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"})
    )
    index.upsert_endpointslice(endpointslice("s", "db", [endpoint("10.244.0.7", ready=False)]))
    assert a_records(index, f"db.default.svc.{Z}") == ["10.244.0.7"]


def test_two_headless_services_selecting_one_pod_both_get_a_ptr() -> None:
    index = RecordIndex()
    for name in ("a", "b"):
        index.upsert_service(headless(name))
        index.upsert_endpointslice(endpointslice(f"{name}-s", name, [endpoint("10.244.0.7", "pod")]))
    ptr = "7.0.244.10.in-addr.arpa"
    assert index.get(ptr) == {RType.PTR: (PTR(f"pod.a.default.svc.{Z}"), PTR(f"pod.b.default.svc.{Z}"))}
    index.delete_service("default", "a")
    assert index.get(ptr) == {RType.PTR: (PTR(f"pod.b.default.svc.{Z}"),)}


def test_a_new_cluster_ip_replaces_the_old_ptr() -> None:
    index = RecordIndex()
    index.upsert_service(service("web", cluster_ip="10.96.0.20"))
    index.upsert_service(service("web", cluster_ip="10.96.0.21"))
    assert index.get("20.0.96.10.in-addr.arpa") is None
    assert index.get("21.0.96.10.in-addr.arpa") is not None


def test_changing_the_type_to_external_name() -> None:
    index = RecordIndex()
    index.upsert_service(service("web", cluster_ip="10.96.0.20", ports=[port("http", 80)]))
    index.upsert_service(external("web", "example.org"))
    assert index.get(WEB) == {RType.CNAME: (CNAME("example.org"),)}
    assert index.get(f"_http._tcp.{WEB}") is None


def test_ipv6_endpoints_and_fqdn_slices() -> None:
    index = RecordIndex()
    index.upsert_service(headless("db"))
    index.upsert_endpointslice(endpointslice("v6", "db", [endpoint("fd00::7")], address_type="IPv6"))
    index.upsert_endpointslice(endpointslice("f", "db", [endpoint("db.example.org")], address_type="FQDN"))
    assert index.get(f"db.default.svc.{Z}") == {RType.AAAA: (AAAA("fd00::7"),)}
    assert index.get(f"fd00--7.db.default.svc.{Z}") is not None


def test_names_dns_cannot_carry_are_left_out() -> None:
    index = RecordIndex()
    index.upsert_service(headless("db"))
    index.upsert_endpointslice(endpointslice("s", "db", [endpoint("10.244.0.7", "h" * 64)]))
    assert index.get(f"{'h' * 64}.db.default.svc.{Z}") is None
    assert a_records(index, f"10-244-0-7.db.default.svc.{Z}") == ["10.244.0.7"]  # the fallback name


def test_generation_moves_only_when_answers_change() -> None:
    index = RecordIndex()
    svc = service("web", cluster_ip="10.96.0.20")
    index.upsert_service(svc)
    generation, serial = index.generation, index.serial
    index.upsert_service(dict(svc, status={"loadBalancer": {}}))  # nothing DNS-visible
    index.delete_service("default", "never-existed")
    index.delete_endpointslice("default", "never-existed")
    assert index.generation == generation
    index.upsert_service(service("web", cluster_ip="10.96.0.99"))
    assert index.generation == generation + 1
    assert index.serial > serial


def test_apply_and_remove_dispatch_on_kind() -> None:
    index = RecordIndex()
    index.apply(service("web", cluster_ip="10.96.0.20"))
    index.apply({"kind": "Pod", "metadata": {"name": "p", "namespace": "default"}})  # ignored
    assert index.get(WEB) == {RType.A: (A("10.96.0.20"),)}
    index.remove(service("web"))
    assert index.get(WEB) is None


def test_the_cluster_domain_is_normalised_and_must_not_be_the_root() -> None:
    assert RecordIndex("Cluster.Local.").domain == Z
    try:
        RecordIndex(".")
    except ValueError:
        pass
    else:
        raise AssertionError("the root zone was accepted")
