"""Builders for the API objects minik-dns reads, and one fixed cluster ("the zoo") to query.

Objects are plain dicts in the Kubernetes wire shape, exactly as the informers
deliver them.
"""

from __future__ import annotations

from typing import Any

from minik.dns.records import RecordIndex

Obj = dict[str, Any]


def service(
    name: str,
    ns: str = "default",
    *,
    cluster_ip: str | None = None,
    ports: list[Obj] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    body: Obj = {"type": "ClusterIP", "ports": ports or []}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
        body["clusterIPs"] = spec.pop("cluster_ips", [cluster_ip])
    body.update(spec)
    meta: Obj = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def headless(name: str, ns: str = "default", *, ports: list[Obj] | None = None, **spec: Any) -> Obj:
    return service(name, ns, cluster_ip="None", ports=ports, **spec)


def external(name: str, target: str, ns: str = "default") -> Obj:
    svc = service(name, ns, type="ExternalName", externalName=target)
    return svc


def port(name: str | None, number: int, protocol: str = "TCP") -> Obj:
    p: Obj = {"port": number, "protocol": protocol}
    if name:
        p["name"] = name
    return p


def endpoint(ip: str, hostname: str | None = None, *, ready: bool | None = True) -> Obj:
    ep: Obj = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        ep["hostname"] = hostname
    return ep


def endpointslice(
    name: str,
    svc: str | None,
    endpoints: list[Obj],
    *,
    ns: str = "default",
    ports: list[Obj] | None = None,
    address_type: str = "IPv4",
) -> Obj:
    labels = {"kubernetes.io/service-name": svc} if svc else {}
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "addressType": address_type,
        "endpoints": endpoints,
        "ports": ports or [],
    }


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def zoo_objects() -> list[Obj]:
    """Every kind of Service the schema distinguishes, in a few namespaces."""
    return [
        namespace("default"),
        namespace("prod"),  # a namespace without Services
        service(
            "web", cluster_ip="10.96.0.20", ports=[port("http", 80), port("dns", 53, "UDP"), port(None, 8443)]
        ),
        headless("nginx", ports=[port("web", 80)]),
        endpointslice(
            "nginx-a1",
            "nginx",
            [
                endpoint("10.244.1.5", "web-0"),
                endpoint("10.244.2.9", "web-1"),
                endpoint("10.244.3.3"),  # no hostname: named by its dashed address
                endpoint("10.244.3.7", "web-2", ready=False),
                endpoint("10.244.3.8", "web-3", ready=None),  # unknown readiness counts as ready
            ],
            ports=[port("web", 8080)],
        ),
        headless("peers", publishNotReadyAddresses=True),
        endpointslice("peers-a1", "peers", [endpoint("10.244.4.4", "peer-0", ready=False)]),
        headless("empty"),
        external("db", "DB.Example.com."),
        external("alias", "web.default.svc.cluster.local"),
        service(
            "dual",
            cluster_ip="10.96.0.30",
            cluster_ips=["10.96.0.30", "fd00::30"],
            ipFamilies=["IPv4", "IPv6"],
        ),
        service("pending"),  # ClusterIP not allocated yet
        service("web", "team", cluster_ip="10.96.5.5"),
    ]


def zoo(domain: str = "cluster.local") -> RecordIndex:
    index = RecordIndex(domain)
    for obj in zoo_objects():
        index.apply(obj)
    return index
