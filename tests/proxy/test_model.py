"""build_model and ChangeTracker: Service + EndpointSlice dicts -> what must be forwarded."""

from __future__ import annotations

from minik.proxy.model import (
    ChangeTracker,
    EndpointInfo,
    ServicePortName,
    build_model,
    categorize_endpoints,
)
from tests.proxy.objects import endpoint, endpoint_slice, service

WEB = ServicePortName("default", "web", "http", "TCP")


def test_cluster_ip_with_named_target_port_resolved_by_the_slice() -> None:
    svc = service("web", "10.96.0.50")  # targetPort: "http"
    eps = endpoint_slice("web", [endpoint("10.244.0.5"), endpoint("10.244.1.5", node="node-b")])
    model = build_model([svc], [eps], "node-a")
    info = model[WEB]
    assert str(WEB) == "default/web:http"
    assert (info.cluster_ip, info.port, info.protocol, info.node_port) == ("10.96.0.50", 80, "TCP", 0)
    assert [(e.endpoint, e.is_local) for e in info.endpoints] == [
        ("10.244.0.5:8080", True),
        ("10.244.1.5:8080", False),
    ]
    assert info.affinity_timeout is None


def test_skips_headless_external_name_and_other_proxies() -> None:
    headless = service("h", "None")
    ext = service("e", "", type="ExternalName", externalName="example.org")
    other = service("o", "10.96.0.9")
    other["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "someone-else"}
    assert build_model([headless, ext, other], [], "node-a") == {}


def test_multiple_ports_protocols_and_unnamed_port() -> None:
    svc = service(
        "dns",
        "10.96.0.10",
        namespace="kube-system",
        ports=[
            {"name": "dns", "protocol": "UDP", "port": 53},
            {"name": "dns-tcp", "protocol": "TCP", "port": 53},
        ],
    )
    eps = endpoint_slice(
        "dns",
        [endpoint("10.244.0.2")],
        namespace="kube-system",
        ports=[
            {"name": "dns", "protocol": "UDP", "port": 5353},
            {"name": "dns-tcp", "protocol": "TCP", "port": 5354},
        ],
    )
    model = build_model([svc], [eps], "node-a")
    udp = model[ServicePortName("kube-system", "dns", "dns", "UDP")]
    tcp = model[ServicePortName("kube-system", "dns", "dns-tcp", "TCP")]
    assert udp.endpoints[0].port == 5353 and tcp.endpoints[0].port == 5354
    unnamed = service("u", "10.96.0.11", ports=[{"protocol": "TCP", "port": 80}])
    m2 = build_model([unnamed], [endpoint_slice("u", [endpoint("10.244.0.3")], ports=[{"port": 80}])], "n")
    name = ServicePortName("default", "u", "", "TCP")
    assert str(name) == "default/u" and m2[name].endpoints[0].endpoint == "10.244.0.3:80"


def test_nodeport_loadbalancer_external_ips_affinity_and_policies() -> None:
    svc = service(
        "lb",
        "10.96.0.60",
        type="LoadBalancer",
        ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
        externalIPs=["192.0.2.10"],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        externalTrafficPolicy="Local",
        healthCheckNodePort=32000,
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}, {"hostname": "lb.example"}]}},
    )
    info = build_model([svc], [], "node-a")[ServicePortName("default", "lb", "http")]
    assert info.node_port == 30080 and info.external_ips == ("192.0.2.10",)
    assert info.load_balancer_ips == ("198.51.100.7",)
    assert info.affinity_timeout == 60 and info.external_policy_local and not info.internal_policy_local
    assert info.health_check_node_port == 32000
    default_timeout = service("s", "10.96.0.61", sessionAffinity="ClientIP")
    assert (
        build_model([default_timeout], [], "n")[ServicePortName("default", "s", "http")].affinity_timeout
        == 10800
    )
    # a ClusterIP service ignores a stray nodePort
    plain = service("p", "10.96.0.62", ports=[{"name": "http", "port": 80, "nodePort": 30001}])
    assert build_model([plain], [], "n")[ServicePortName("default", "p", "http")].node_port == 0


def test_conditions_ready_first_then_serving_terminating() -> None:
    svc = service("web", "10.96.0.50")
    mixed = endpoint_slice(
        "web",
        [
            endpoint("10.244.0.5"),
            endpoint("10.244.0.6", ready=False, serving=True, terminating=True),
            endpoint("10.244.0.7", ready=False, serving=False),
        ],
    )
    eps = categorize_endpoints(build_model([svc], [mixed], "node-a")[WEB])
    assert [e.ip for e in eps.cluster] == ["10.244.0.5"] and eps.any
    draining = endpoint_slice("web", [endpoint("10.244.0.6", ready=False, serving=True, terminating=True)])
    eps = categorize_endpoints(build_model([svc], [draining], "node-a")[WEB])
    assert [e.ip for e in eps.cluster] == ["10.244.0.6"]  # the last replica drains
    dead = endpoint_slice("web", [endpoint("10.244.0.7", ready=False, serving=False)])
    eps = categorize_endpoints(build_model([svc], [dead], "node-a")[WEB])
    assert eps.cluster == () and not eps.any
    # absent conditions mean ready
    bare = endpoint_slice("web", [{"addresses": ["10.244.0.8"]}])
    assert build_model([svc], [bare], "node-a")[WEB].endpoints[0].ready


def test_local_policies_use_local_endpoints() -> None:
    svc = service("web", "10.96.0.50", internalTrafficPolicy="Local")
    eps = endpoint_slice("web", [endpoint("10.244.0.5"), endpoint("10.244.1.5", node="node-b")])
    info = build_model([svc], [eps], "node-a")[WEB]
    cat = categorize_endpoints(info)
    assert [e.ip for e in cat.local] == ["10.244.0.5"] and cat.cluster == ()
    remote_only = build_model(
        [svc], [endpoint_slice("web", [endpoint("10.244.1.5", node="node-b")])], "node-a"
    )[WEB]
    cat = categorize_endpoints(remote_only)
    assert cat.local == () and cat.any  # drop, not reject: endpoints exist elsewhere


def test_endpoint_without_node_name_is_local_when_it_has_a_node_ip() -> None:
    svc = service("web", "10.96.0.50")
    eps = endpoint_slice("web", [{"addresses": ["192.168.1.10"], "conditions": {"ready": True}}])
    info = build_model([svc], [eps], "node-a", ["192.168.1.10"])[WEB]
    assert info.endpoints == (EndpointInfo("192.168.1.10", 8080, True, True, False, "", True),)


def test_endpoints_merge_across_slices() -> None:
    svc = service("web", "10.96.0.50")
    a = endpoint_slice("web", [endpoint("10.244.0.5")], name="web-1")
    b = endpoint_slice("web", [endpoint("10.244.0.6"), endpoint("10.244.0.5")], name="web-2")
    assert [e.ip for e in build_model([svc], [a, b], "node-a")[WEB].endpoints] == ["10.244.0.5", "10.244.0.6"]


def test_change_tracker_reports_only_what_changed() -> None:
    t = ChangeTracker("node-a")
    web, api = service("web", "10.96.0.50"), service("api", "10.96.0.51")
    t.service_updated(web)
    t.service_updated(api)
    first = t.take()
    assert first.changed == {WEB, ServicePortName("default", "api", "http")}
    assert not t.pending and t.take().empty

    t.slice_updated(endpoint_slice("web", [endpoint("10.244.0.5")]))
    ch = t.take()
    assert ch.changed == {WEB} and len(ch.model[WEB].endpoints) == 1

    # an event that changes nothing relevant (same content) reports nothing
    t.slice_updated(endpoint_slice("web", [endpoint("10.244.0.5")]))
    assert t.take().empty

    t.slice_deleted(endpoint_slice("web", []))
    assert t.take().changed == {WEB}

    t.service_deleted(api)
    ch = t.take()
    assert ch.changed == {ServicePortName("default", "api", "http")} and set(ch.model) == {WEB}

    # renaming a port removes one service port and adds another
    renamed = service("web", "10.96.0.50", ports=[{"name": "web", "port": 80}])
    t.service_updated(renamed)
    assert t.take().changed == {WEB, ServicePortName("default", "web", "web")}
