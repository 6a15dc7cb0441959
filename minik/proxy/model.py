"""What the proxy must forward, computed from Service and EndpointSlice dicts.

Every proxy mode answers the same question — "a packet arrives for address A, protocol P,
port N: where may it go?" — so the question is answered once, here, as plain data, and the
modes (``iptables``, ``nftables``, ``userspace``, ``ipvs``) only *render* the answer.

The unit of forwarding is the **service port**: one entry of ``spec.ports`` of one Service,
named ``namespace/name:portName`` (``namespace/name`` when the port has no name) plus its
protocol.  For each one :func:`build_model` produces a :class:`ServicePortInfo`:

* the addresses that capture traffic: the ClusterIP, every ``spec.externalIPs`` entry, every
  LoadBalancer ingress IP from ``status.loadBalancer.ingress`` (type LoadBalancer only) and
  the NodePort (types NodePort and LoadBalancer) on the node's own addresses;
* the policies: ``sessionAffinity: ClientIP`` with its timeout (default 10800 s),
  ``externalTrafficPolicy`` (applies to NodePort/LoadBalancer/externalIP traffic) and
  ``internalTrafficPolicy`` (ClusterIP traffic), each ``Cluster`` or ``Local``;
* the endpoints, taken from every EndpointSlice labelled
  ``kubernetes.io/service-name: <service>`` whose port entry has the same name and protocol
  as the service port.  The EndpointSlice controller has already resolved a named
  ``targetPort`` ("http") to each pod's number, so the slice port number is the one to use.

Endpoint conditions follow the EndpointSlice API: ``ready`` and ``serving`` default to true
when absent, ``terminating`` to false.  :func:`categorize_endpoints` applies upstream
kube-proxy's rule: new connections go to *ready* endpoints; only when none is ready do
endpoints that are still *serving* while *terminating* receive traffic (so a rolling update
of the last replica drains instead of failing).  An endpoint is *local* when its
``nodeName`` is this node (or, lacking a node name, its address is one of the node's IPs);
``Local`` policies only use local endpoints.  A service port without any usable endpoint
must *reject* (ICMP port unreachable / TCP RST) so clients fail at once instead of timing
out.

:func:`plan_traffic` then takes the decisions every rule-writing mode shares, once, as a
:class:`TrafficPlan`: which endpoint set ClusterIP traffic and external traffic each go to
(``Cluster`` or ``Local`` policy), whether traffic with nowhere to go is rejected (no
endpoint anywhere) or dropped (none on this node), what the external entry chain does —
masquerade everything (``Cluster``) or keep the client's address and send pods and the node
itself to the cluster-wide set (``Local``) — and how ClusterIP traffic is masqueraded.
``iptables.py`` and ``nftables.py`` only spell that plan in their syntax.

Headless services (``clusterIP: None``), ExternalName services and services that name
another proxy (label ``service.kubernetes.io/service-proxy-name``) produce nothing: DNS or
someone else handles them.

:class:`ChangeTracker` keeps the last model and turns informer events into the set of
service ports whose rules must change, so a sync touches only those.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
#: Annotation selecting the userspace/ipvs scheduler for one Service (rr, lc, dh, sh, sed, nq).
SCHEDULER_ANNOTATION = "minik.io/scheduler"
#: The same, under the name the ipvs mode documents; either annotation works.
IPVS_SCHEDULER_ANNOTATION = "minik.dev/ipvs-scheduler"
DEFAULT_AFFINITY_TIMEOUT = 10800

JSON = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class ServicePortName:
    """The identity of one service port: ``ns/name:port`` plus the protocol."""

    namespace: str
    name: str
    port: str
    protocol: str = "TCP"

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class EndpointInfo:
    """One backend address of one service port, with its EndpointSlice conditions."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    is_local: bool = False

    @property
    def endpoint(self) -> str:
        """``ip:port``, the string upstream hashes into chain names."""
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePortInfo:
    """Everything a proxy mode needs to forward one service port (immutable, comparable)."""

    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str = "TCP"
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    #: Seconds of ClientIP stickiness; ``None`` when sessionAffinity is None.
    affinity_timeout: int | None = None
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0
    scheduler: str | None = None
    endpoints: tuple[EndpointInfo, ...] = field(default=())

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Externally reachable ports always need the cluster-wide set, even with a Local
        # external policy: pods and the node itself short-circuit to it (see iptables.py).
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.externally_accessible and self.external_policy_local)


@dataclass(frozen=True)
class Endpoints:
    """The endpoints one service port may use, split by traffic policy."""

    cluster: tuple[EndpointInfo, ...]
    local: tuple[EndpointInfo, ...]
    #: Union of ``cluster`` and ``local``: the endpoints some rule may reach.
    reachable: tuple[EndpointInfo, ...]
    #: True when some usable endpoint exists anywhere (else: reject).
    any: bool


def categorize_endpoints(info: ServicePortInfo) -> Endpoints:
    """Upstream's endpoint selection: ready first, serving+terminating as a fallback."""
    eps = info.endpoints
    cluster: tuple[EndpointInfo, ...] = ()
    has_any = False
    if info.uses_cluster_endpoints:
        cluster = tuple(e for e in eps if e.ready)
        if not cluster:
            cluster = tuple(e for e in eps if e.serving and e.terminating)
        has_any = bool(cluster)
    if not info.uses_local_endpoints:
        return Endpoints(cluster, (), cluster, has_any)
    local = tuple(e for e in eps if e.is_local and e.ready)
    if not local:
        local = tuple(e for e in eps if e.is_local and e.serving and e.terminating)
    has_any = has_any or any(e.ready or (e.serving and e.terminating) for e in eps)
    if not info.uses_cluster_endpoints:
        return Endpoints((), local, local, has_any)
    seen = {e.endpoint for e in cluster}
    reachable = cluster + tuple(e for e in local if e.endpoint not in seen)
    return Endpoints(cluster, local, reachable, has_any)


#: The two endpoint sets a service port may balance over: every usable endpoint in the
#: cluster, or only those on this node (a ``Local`` traffic policy).
EndpointSet = Literal["cluster", "local"]


class ExternalStep(enum.Enum):
    """One rule of the chain external traffic enters first (KUBE-EXT-* / ``external-*``).

    External traffic is what arrives through a NodePort, an externalIP or a LoadBalancer IP.
    """

    #: ``Cluster`` policy: masquerade every packet — the endpoint may be on another node and
    #: must answer through this one (the client's address is lost).
    MASQUERADE_ALL = "masquerade"
    #: ``Local`` policy: traffic from a pod goes to the cluster-wide set, as if it had gone out
    #: to a load balancer and come back (needs the pod CIDR).
    PODS_TO_CLUSTER = "pods-to-cluster"
    #: ``Local`` policy: traffic from this node itself is masqueraded ...
    MASQUERADE_NODE = "masquerade-node"
    #: ... and goes to the cluster-wide set, like pod traffic.
    NODE_TO_CLUSTER = "node-to-cluster"
    #: Everything else goes to the set the external policy names.
    TO_POLICY = "to-policy"


@dataclass(frozen=True)
class TrafficPlan:
    """Where each kind of traffic to one service port goes — decided once, for every mode.

    :func:`plan_traffic` makes the traffic-policy decisions; the iptables and nftables
    renderers only spell them in their own syntax (their chain names for ``"cluster"`` and
    ``"local"``, their verdicts for ``"reject"`` and ``"drop"``).
    """

    endpoints: Endpoints
    #: The set ClusterIP traffic is balanced over; ``None``: it has nowhere to go and meets
    #: :attr:`no_endpoints` instead.
    internal: EndpointSet | None
    #: The set external traffic finally reaches; ``None``: it meets :attr:`no_endpoints`.
    external: EndpointSet | None
    #: What traffic with nowhere to go meets: ``"reject"`` (connection refused at once) when
    #: the port has no usable endpoint anywhere, ``"drop"`` when a ``Local`` policy leaves it
    #: without endpoints on this node while other nodes have some.
    no_endpoints: Literal["reject", "drop"]
    #: The rules of the external entry chain, in order; empty: there is no such chain (no
    #: endpoints, or nothing reaches the port from outside).
    external_steps: tuple[ExternalStep, ...]
    #: LoadBalancer IPs pass a source-range firewall before the external entry chain.
    firewall: bool
    #: How ClusterIP traffic is masqueraded: ``"all"`` of it, only ``"off-cluster"`` clients
    #: (sources outside the pod CIDR), or not at all (``None``).
    masquerade: Literal["all", "off-cluster"] | None
    #: The endpoints each written balancing chain chooses from (empty: no such chain).
    cluster: tuple[EndpointInfo, ...]
    local: tuple[EndpointInfo, ...]

    @property
    def any_endpoints(self) -> bool:
        """Some usable endpoint exists anywhere: the port's addresses dispatch at all."""
        return self.endpoints.any

    @property
    def balanced(self) -> tuple[tuple[EndpointSet, tuple[EndpointInfo, ...]], ...]:
        """The sets that get a balancing chain, cluster-wide first, with their endpoints."""
        sets: list[tuple[EndpointSet, tuple[EndpointInfo, ...]]] = []
        if self.cluster:
            sets.append(("cluster", self.cluster))
        if self.local:
            sets.append(("local", self.local))
        return tuple(sets)


def plan_traffic(
    info: ServicePortInfo, *, cluster_cidr: str | None = None, masquerade_all: bool = False
) -> TrafficPlan:
    """The traffic-policy decisions for one service port (see :class:`TrafficPlan`).

    ``cluster_cidr`` (the pod CIDR) and ``masquerade_all`` are the node-wide settings both
    rule-writing modes share.
    """
    eps = categorize_endpoints(info)
    internal: EndpointSet | None = "local" if info.internal_policy_local else "cluster"
    if not (eps.local if internal == "local" else eps.any):
        internal = None
    external: EndpointSet | None = "local" if info.external_policy_local else "cluster"
    if not (eps.local if external == "local" else eps.any):
        external = None
    steps: list[ExternalStep] = []
    if eps.any and info.externally_accessible:
        if not info.external_policy_local:
            steps.append(ExternalStep.MASQUERADE_ALL)
        else:
            if cluster_cidr:
                steps.append(ExternalStep.PODS_TO_CLUSTER)
            steps += [ExternalStep.MASQUERADE_NODE, ExternalStep.NODE_TO_CLUSTER]
        if external is not None:
            steps.append(ExternalStep.TO_POLICY)
    masquerade: Literal["all", "off-cluster"] | None = None
    if internal is not None:
        if masquerade_all:
            masquerade = "all"
        elif cluster_cidr:
            masquerade = "off-cluster"
    return TrafficPlan(
        endpoints=eps,
        internal=internal,
        external=external,
        no_endpoints="reject" if not eps.any else "drop",
        external_steps=tuple(steps),
        firewall=eps.any and bool(info.load_balancer_ips) and bool(info.load_balancer_source_ranges),
        masquerade=masquerade,
        cluster=eps.cluster if info.uses_cluster_endpoints else (),
        local=eps.local if info.uses_local_endpoints else (),
    )


def _is_ipv4(value: Any) -> bool:
    try:
        return isinstance(value, str) and ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def service_is_proxied(service: JSON) -> bool:
    """False for services no proxy mode programs (headless, ExternalName, other proxies)."""
    spec = service.get("spec") or {}
    labels = (service.get("metadata") or {}).get("labels") or {}
    if spec.get("type") == "ExternalName" or SERVICE_PROXY_NAME_LABEL in labels:
        return False
    return _is_ipv4(spec.get("clusterIP"))


def _endpoints_for_port(
    slices: Iterable[JSON], port_name: str, protocol: str, node_name: str, node_ips: frozenset[str]
) -> tuple[EndpointInfo, ...]:
    found: dict[str, EndpointInfo] = {}
    for eps in slices:
        if eps.get("addressType", "IPv4") != "IPv4":
            continue
        number = None
        for p in eps.get("ports") or []:
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol:
                number = p.get("port")
                break
        if not isinstance(number, int) or not 0 < number < 65536:
            continue
        for ep in eps.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False
            serving = cond.get("serving") is not False
            terminating = cond.get("terminating") is True
            ep_node = ep.get("nodeName") or ""
            for ip in (ep.get("addresses") or [])[:1]:  # all addresses are fungible; use the first
                if not _is_ipv4(ip):
                    continue
                local = ep_node == node_name if ep_node else ip in node_ips
                info = EndpointInfo(ip, number, ready, serving, terminating, ep_node, local)
                # The same address in two slices (a slice being replaced): keep the readier one.
                old = found.get(info.endpoint)
                if old is None or (info.ready, info.serving) > (old.ready, old.serving):
                    found[info.endpoint] = info
    return tuple(sorted(found.values()))


def build_service_ports(
    service: JSON,
    slices: Iterable[JSON],
    node_name: str,
    node_ips: Iterable[str] = (),
) -> dict[ServicePortName, ServicePortInfo]:
    """The service ports of one Service, given the EndpointSlices that belong to it."""
    if not service_is_proxied(service):
        return {}
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    svc_type = spec.get("type") or "ClusterIP"
    slices = list(slices)
    ips = frozenset(node_ips)
    affinity: int | None = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        affinity = cfg if isinstance(cfg, int) and cfg > 0 else DEFAULT_AFFINITY_TIMEOUT
    external_capable = svc_type in ("NodePort", "LoadBalancer")
    lb_ips: tuple[str, ...] = ()
    if svc_type == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        lb_ips = tuple(i["ip"] for i in ingress if _is_ipv4(i.get("ip")))
    external_ips = tuple(ip for ip in spec.get("externalIPs") or [] if _is_ipv4(ip))
    annotations = meta.get("annotations") or {}
    result: dict[ServicePortName, ServicePortInfo] = {}
    for p in spec.get("ports") or []:
        protocol = p.get("protocol") or "TCP"
        name = ServicePortName(
            meta.get("namespace") or "default", meta.get("name") or "", p.get("name") or "", protocol
        )
        result[name] = ServicePortInfo(
            name=name,
            cluster_ip=spec["clusterIP"],
            port=int(p["port"]),
            protocol=protocol,
            node_port=int(p.get("nodePort") or 0) if external_capable else 0,
            external_ips=external_ips,
            load_balancer_ips=lb_ips,
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()) if lb_ips else (),
            affinity_timeout=affinity,
            external_policy_local=(
                spec.get("externalTrafficPolicy") == "Local" and (external_capable or bool(external_ips))
            ),
            internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
            scheduler=annotations.get(SCHEDULER_ANNOTATION) or annotations.get(IPVS_SCHEDULER_ANNOTATION),
            endpoints=_endpoints_for_port(slices, p.get("name") or "", protocol, node_name, ips),
        )
    return result


def slice_service_key(endpoint_slice: JSON) -> str | None:
    """``namespace/service`` an EndpointSlice belongs to, or None for an orphan slice."""
    meta = endpoint_slice.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace') or 'default'}/{svc}" if svc else None


def service_key(service: JSON) -> str:
    meta = service.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


def build_model(
    services: Iterable[JSON],
    slices: Iterable[JSON],
    node_name: str,
    node_ips: Iterable[str] = (),
) -> dict[ServicePortName, ServicePortInfo]:
    """All service ports this node must forward, keyed by :class:`ServicePortName`."""
    by_service: dict[str, list[JSON]] = {}
    for s in slices:
        key = slice_service_key(s)
        if key:
            by_service.setdefault(key, []).append(s)
    ips = tuple(node_ips)
    model: dict[ServicePortName, ServicePortInfo] = {}
    for svc in services:
        model.update(build_service_ports(svc, by_service.get(service_key(svc), ()), node_name, ips))
    return model


@dataclass(frozen=True)
class Changes:
    """What one sync must do: the whole model, and which service ports differ from the last."""

    model: Mapping[ServicePortName, ServicePortInfo]
    changed: frozenset[ServicePortName]

    @property
    def empty(self) -> bool:
        return not self.changed


class ChangeTracker:
    """Turns Service/EndpointSlice events into the service ports that changed since the last sync.

    Informer handlers call :meth:`service_updated`/:meth:`service_deleted` and
    :meth:`slice_updated`/:meth:`slice_deleted`; those only store the object and mark its
    Service *dirty* (cheap, no rendering).  The sync loop calls :meth:`take`, which rebuilds
    just the dirty Services, compares their service ports with the previous ones and returns
    the model plus the exact set of service ports that were added, removed or modified.
    A burst of events on one Service therefore costs one rebuild, and a change to one
    Service never re-renders the other ten thousand.
    """

    def __init__(self, node_name: str, node_ips: Iterable[str] = ()) -> None:
        self.node_name = node_name
        self.node_ips = tuple(node_ips)
        self._services: dict[str, JSON] = {}
        self._slices: dict[str, dict[str, JSON]] = {}  # service key -> slice name -> slice
        self._ports_of: dict[str, frozenset[ServicePortName]] = {}
        self._model: dict[ServicePortName, ServicePortInfo] = {}
        self._dirty: set[str] = set()

    # -- event side ---------------------------------------------------------------
    def service_updated(self, service: JSON) -> None:
        key = service_key(service)
        self._services[key] = service
        self._dirty.add(key)

    def service_deleted(self, service: JSON) -> None:
        key = service_key(service)
        self._services.pop(key, None)
        self._dirty.add(key)

    def slice_updated(self, endpoint_slice: JSON) -> None:
        key = slice_service_key(endpoint_slice)
        if key:
            name = (endpoint_slice.get("metadata") or {}).get("name") or ""
            self._slices.setdefault(key, {})[name] = endpoint_slice
            self._dirty.add(key)

    def slice_deleted(self, endpoint_slice: JSON) -> None:
        key = slice_service_key(endpoint_slice)
        if key:
            name = (endpoint_slice.get("metadata") or {}).get("name") or ""
            by_name = self._slices.get(key, {})
            by_name.pop(name, None)
            if not by_name:
                self._slices.pop(key, None)
            self._dirty.add(key)

    def node_ips_changed(self, node_ips: Iterable[str]) -> None:
        """Locality may change for every endpoint without a nodeName: rebuild everything."""
        self.node_ips = tuple(node_ips)
        self._dirty.update(self._services)

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    # -- sync side ----------------------------------------------------------------
    def take(self) -> Changes:
        """Rebuild the dirty services and return the model with the changed service ports."""
        changed: set[ServicePortName] = set()
        for key in self._dirty:
            svc = self._services.get(key)
            fresh = (
                build_service_ports(svc, self._slices.get(key, {}).values(), self.node_name, self.node_ips)
                if svc is not None
                else {}
            )
            old_names = self._ports_of.pop(key, frozenset())
            for name in old_names - fresh.keys():
                del self._model[name]
                changed.add(name)
            for name, info in fresh.items():
                if self._model.get(name) != info:
                    self._model[name] = info
                    changed.add(name)
            if fresh:
                self._ports_of[key] = frozenset(fresh)
        self._dirty.clear()
        return Changes(dict(self._model), frozenset(changed))

    @property
    def model(self) -> Mapping[ServicePortName, ServicePortInfo]:
        return self._model
