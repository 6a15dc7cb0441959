"""The Kubernetes DNS schema: which records a Service and its EndpointSlices produce.

This module is the *DNS-Based Service Discovery* specification (kubernetes/dns,
``docs/specification.md``) turned into pure functions: API objects in, records
out. Nothing here knows about sockets or caching. ``<zone>`` is the cluster
domain (``cluster.local`` by default), ``<ns>`` a namespace, ``<svc>`` a Service.

**A Service with a ClusterIP** (types ClusterIP, NodePort, LoadBalancer) is one
stable name for one virtual IP; kube-proxy spreads the connections::

    web.default.svc.cluster.local.            A    10.96.12.7      (per ClusterIP; AAAA for IPv6)
    _http._tcp.web.default.svc.cluster.local. SRV  0 100 80 web.default.svc.cluster.local.
    7.12.96.10.in-addr.arpa.                  PTR  web.default.svc.cluster.local.

SRV records exist only for *named* ports (``_<port name>._<protocol>``); they
tell a client the port number, so it need not be hard-coded.

**A headless Service** (``clusterIP: None``) has no virtual IP: the name
resolves to the pods themselves, one A record per *ready* endpoint address.
Each endpoint also gets a name of its own below the Service — its ``hostname``
(StatefulSet pods get theirs from the pod name, which is how ``web-0.nginx``
becomes a stable identity) or, when it has none, the address in dashed form::

    nginx.default.svc.cluster.local.                 A    10.244.1.5
    nginx.default.svc.cluster.local.                 A    10.244.2.9
    web-0.nginx.default.svc.cluster.local.           A    10.244.1.5
    _web._tcp.nginx.default.svc.cluster.local.       SRV  0 50 8080 web-0.nginx.default.svc.cluster.local.
    5.1.244.10.in-addr.arpa.                         PTR  web-0.nginx.default.svc.cluster.local.

SRV targets are those per-endpoint names (N ready endpoints times M named ports
records), and the port is the *endpoint's* port from the EndpointSlice (the
targetPort), because a client of a headless Service connects to the pod
directly — no proxy translates the Service port. With no ready endpoint the
Service name does not exist at all (NXDOMAIN), as the specification says.
"Ready" is the endpoint's ``conditions.ready`` (unset counts as ready); a
Service with ``publishNotReadyAddresses`` (or the older
``service.alpha.kubernetes.io/tolerate-unready-endpoints`` annotation)
publishes every endpoint, which is what StatefulSet peers need to find each
other while they are still starting.

**An ExternalName Service** is an alias: ``db.default.svc.cluster.local. CNAME
db.example.com.`` — no proxying, no endpoints.

**Everything else**: ``dns-version.<zone> TXT "1.1.0"`` (the schema version),
and pod records ``a-b-c-d.<ns>.pod.<zone> A a.b.c.d``, which the resolver
synthesises for any address rather than storing (see
:mod:`minik.dns.resolver`). Namespaces themselves own no records, but
``<ns>.svc.<zone>`` and ``<ns>.pod.<zone>`` must *exist* (NODATA rather than
NXDOMAIN) for every namespace: :func:`namespace_names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from minik.dns.names import IPAddress, dashed, is_valid, normalize, parse_ip, reverse_name
from minik.dns.rr import AAAA, CNAME, PTR, SRV, TXT, A, RData

#: The schema version served at ``dns-version.<zone>`` (the version CoreDNS reports too).
SCHEMA_VERSION = "1.1.0"

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TOLERATE_UNREADY_ANNOTATION = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

Obj = Mapping[str, Any]
#: name → type → records, in a stable order.
Records = dict[str, dict[int, tuple[RData, ...]]]


class RecordBuilder:
    """Collects records per name and type, dropping duplicates, keeping first-seen order."""

    def __init__(self) -> None:
        self._records: dict[str, dict[int, dict[RData, None]]] = {}

    def add(self, name: str, data: RData) -> None:
        """File ``data`` under ``name``; a record whose names DNS cannot carry is left out."""
        target = data.target if isinstance(data, CNAME | PTR | SRV) else ""
        if is_valid(name) and is_valid(target):
            self._records.setdefault(name, {}).setdefault(data.rtype, {})[data] = None

    def build(self) -> Records:
        return {
            name: {rtype: tuple(datas) for rtype, datas in by_type.items()}
            for name, by_type in self._records.items()
        }


def service_base(namespace: str, name: str, domain: str) -> str:
    """``<svc>.<ns>.svc.<zone>``."""
    return f"{name}.{namespace}.svc.{domain}".lower()


def namespace_names(namespace: str, domain: str) -> list[str]:
    """The names that exist (with no records) because a namespace does."""
    return [f"{namespace}.svc.{domain}".lower(), f"{namespace}.pod.{domain}".lower()]


def static_records(domain: str) -> tuple[Records, list[str]]:
    """What every cluster zone holds: the schema version and the ``svc``/``pod`` subtrees."""
    builder = RecordBuilder()
    builder.add(f"dns-version.{domain}", TXT((SCHEMA_VERSION,)))
    return builder.build(), [domain, f"svc.{domain}", f"pod.{domain}"]


def is_headless(service: Obj) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def publishes_not_ready(service: Obj) -> bool:
    spec = service.get("spec") or {}
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    return bool(spec.get("publishNotReadyAddresses")) or (
        str(annotations.get(TOLERATE_UNREADY_ANNOTATION, "")).lower() == "true"
    )


def endpoint_ready(endpoint: Obj) -> bool:
    """``conditions.ready``; unknown (unset) counts as ready, as the EndpointSlice API asks."""
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready)


def address_record(ip: IPAddress) -> RData:
    return A(str(ip)) if ip.version == 4 else AAAA(str(ip))


def srv_name(port_name: str, protocol: str | None, base: str) -> str:
    return f"_{port_name}._{(protocol or 'TCP').lower()}.{base}".lower()


def service_records(service: Obj, slices: Iterable[Obj], domain: str) -> tuple[Records, list[str]]:
    """Every record ``service`` (with its EndpointSlices) contributes, plus names that must exist.

    The second value lists names that exist without records of their own: the
    namespace's subtrees, and the Service name itself for a ClusterIP Service
    whose IP is not allocated yet (it exists, it just has no address to give).
    """
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
    base = service_base(namespace, name, domain)
    builder = RecordBuilder()
    exists = namespace_names(namespace, domain)

    if spec.get("type") == "ExternalName":
        target = normalize(str(spec.get("externalName") or ""))
        if target and is_valid(target):
            builder.add(base, CNAME(target))
    elif is_headless(service):
        _headless_records(builder, base, slices, publish_all=publishes_not_ready(service))
    else:
        exists.append(base)
        _cluster_ip_records(builder, base, spec)
    return builder.build(), exists


def _cluster_ip_records(builder: RecordBuilder, base: str, spec: Obj) -> None:
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    for text in cluster_ips:
        ip = parse_ip(str(text))
        if ip is None:  # "None" or not allocated yet
            continue
        builder.add(base, address_record(ip))
        builder.add(reverse_name(ip), PTR(base))
    for port in spec.get("ports") or []:
        if port.get("name") and port.get("port"):
            builder.add(
                srv_name(port["name"], port.get("protocol"), base), SRV(0, 100, int(port["port"]), base)
            )


def _headless_records(builder: RecordBuilder, base: str, slices: Iterable[Obj], *, publish_all: bool) -> None:
    # (srv name, port) → targets, to give every target of one SRV RRset an equal weight.
    srv_targets: dict[tuple[str, int], dict[str, None]] = {}
    for eps in slices:
        if eps.get("addressType") == "FQDN":  # deprecated; not addresses DNS can serve
            continue
        named_ports = [
            (srv_name(p["name"], p.get("protocol"), base), int(p["port"]))
            for p in eps.get("ports") or []
            if p.get("name") and p.get("port")
        ]
        for endpoint in eps.get("endpoints") or []:
            if not (publish_all or endpoint_ready(endpoint)):
                continue
            hostname = str(endpoint.get("hostname") or "").lower()
            for text in endpoint.get("addresses") or []:
                ip = parse_ip(str(text))
                if ip is None:
                    continue
                record = address_record(ip)
                host = f"{hostname}.{base}" if hostname else ""
                if not (hostname and is_valid(host)):
                    host = f"{dashed(ip)}.{base}"
                builder.add(base, record)
                builder.add(host, record)
                builder.add(reverse_name(ip), PTR(host))
                for srv in named_ports:
                    srv_targets.setdefault(srv, {})[host] = None
    for (name, port), targets in srv_targets.items():
        weight = max(1, 100 // len(targets))
        for target in targets:
            builder.add(name, SRV(0, weight, port, target))
