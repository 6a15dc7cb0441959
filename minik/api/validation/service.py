"""Validation of Services: ports, types, cluster IPs, session affinity, traffic policies.

A Service is a stable name and virtual IP in front of a changing set of pods. What makes
one valid follows from how it is used:

* its name becomes a DNS label (``<svc>.<ns>.svc.cluster.local``) and an environment
  variable prefix, so it must be a DNS-1035 label (starting with a letter);
* every port needs a number, a protocol, and -- once there are several -- a unique
  name, because Endpoints and named ``targetPort``s refer to ports by name;
* the cluster IP is either empty (allocate one), ``None`` (headless: DNS returns pod IPs)
  or an address; once allocated it never changes, since clients and kube-proxy rules
  hold on to it (``spec.clusterIPs[0]: Invalid value: [...]: may not change once set``);
* NodePorts only exist for ``NodePort`` and ``LoadBalancer`` Services and must lie in
  the node-port range (30000-32767);
* an ``ExternalName`` Service is only a DNS CNAME: no IPs, no IP families.
"""

from __future__ import annotations

from minik.api.field import duplicate, forbidden, invalid, not_supported, required
from minik.api.validation import names
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    dicts,
    dns1123_label,
    dns1123_subdomain,
    get_dict,
    get_int,
    get_list,
    get_str,
    get_str_list,
    get_str_map,
    index,
    non_special_ip,
    parse_ip,
    port_num,
    port_num_or_name,
    valid_cidr,
    valid_ip,
)
from minik.api.validation.containers import protocol
from minik.api.validation.meta import validate_labels

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
NODE_PORT_RANGE = (30000, 32767)


def _cluster_ips(spec: Obj) -> list[str]:
    ips = spec.get("clusterIPs")
    return [ip for ip in ips if isinstance(ip, str)] if isinstance(ips, list) else []


def is_headless(spec: Obj) -> bool:
    return _cluster_ips(spec)[:1] == ["None"] or spec.get("clusterIP") == "None"


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def validate_service(svc: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(svc, "spec", "spec", errs)
    kind = get_str(spec, "type", "spec.type", errs)
    headless = is_headless(spec)
    ports = dicts(get_list(spec, "ports", "spec.ports", errs), "spec.ports", errs)
    if not ports and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))

    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    elif kind == "ExternalName":
        if _cluster_ips(spec) or spec.get("clusterIP"):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = get_str(spec, "externalName", "spec.externalName", errs).removesuffix(".")
        if cname:
            errs += dns1123_subdomain(cname, "spec.externalName")
        else:
            errs.append(required("spec.externalName"))

    names_seen: set[str] = set()
    for i, port in ports:
        errs += _port(port, index("spec.ports", i), require_name=len(ports) > 1, names_seen=names_seen)

    errs += validate_labels(get_str_map(spec, "selector", "spec.selector", errs), "spec.selector")
    errs += _session_affinity(spec)
    errs += _cluster_ip_fields(spec, kind)
    for i, ip in enumerate(get_str_list(spec, "externalIPs", "spec.externalIPs", errs)):
        ip_errs = valid_ip(ip, index("spec.externalIPs", i))
        errs += ip_errs or non_special_ip(ip, index("spec.externalIPs", i))

    if not kind:
        errs.append(required("spec.type"))
    elif kind not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", kind, SERVICE_TYPES))

    errs += _node_ports(ports, kind)
    seen_ports: set[tuple[str, str]] = set()
    for i, port in ports:
        ident = (repr(port.get("protocol")), repr(port.get("port")))
        if ident in seen_ports:
            errs.append(
                duplicate(
                    index("spec.ports", i), {"port": port.get("port"), "protocol": port.get("protocol")}
                )
            )
        seen_ports.add(ident)
    errs += _traffic_policies(spec, kind)
    for i, cidr in enumerate(
        get_str_list(spec, "loadBalancerSourceRanges", "spec.loadBalancerSourceRanges", errs)
    ):
        errs += valid_cidr(cidr.strip(), index("spec.loadBalancerSourceRanges", i))
    return errs


def _port(port: Obj, path: str, *, require_name: bool, names_seen: set[str]) -> Errors:
    errs: Errors = []
    name = get_str(port, "name", child(path, "name"), errs)
    if require_name and not name:
        errs.append(required(child(path, "name")))
    elif name:
        errs += dns1123_label(name, child(path, "name"))
        if name in names_seen:
            errs.append(duplicate(child(path, "name"), name))
        names_seen.add(name)
    errs += port_num(port.get("port"), child(path, "port"))
    errs += protocol(port, child(path, "protocol"))
    target = port.get("targetPort")
    if target is not None:
        errs += port_num_or_name(target, child(path, "targetPort"))
    return errs


def _node_ports(ports: list[tuple[int, Obj]], kind: str) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, int]] = set()
    for i, port in ports:
        pp = child(index("spec.ports", i), "nodePort")
        node_port = get_int(port, "nodePort", pp, errs)
        if not node_port:
            continue
        if kind == "ClusterIP":
            errs.append(forbidden(pp, "may not be used when `type` is 'ClusterIP'"))
            continue
        if kind in ("NodePort", "LoadBalancer") and not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
            errs.append(
                invalid(
                    pp,
                    node_port,
                    "provided port is not in the valid range. The range of valid ports is "
                    f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}",
                )
            )
        ident = (repr(port.get("protocol")), node_port)
        if ident in seen:
            errs.append(duplicate(pp, node_port))
        seen.add(ident)
    return errs


def _session_affinity(spec: Obj) -> Errors:
    errs: Errors = []
    affinity = get_str(spec, "sessionAffinity", "spec.sessionAffinity", errs)
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    path = "spec.sessionAffinityConfig"
    if affinity == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict):
            errs.append(required(path, "when session affinity type is ClientIP"))
            return errs
        timeout = get_int(client_ip, "timeoutSeconds", child(path, "clientIP", "timeoutSeconds"), errs)
        if timeout is None:
            errs.append(required(child(path, "clientIP", "timeoutSeconds")))
        elif not 0 < timeout <= MAX_CLIENT_IP_AFFINITY_SECONDS:
            errs.append(
                invalid(
                    child(path, "clientIP", "timeoutSeconds"),
                    timeout,
                    f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}",
                )
            )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden(path, "must not be set when session affinity is None"))
    return errs


def _cluster_ip_fields(spec: Obj, kind: str) -> Errors:
    """clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy must agree with each other."""
    if kind == "ExternalName":
        return []
    errs: Errors = []
    cluster_ip = get_str(spec, "clusterIP", "spec.clusterIP", errs)
    ips = get_str_list(spec, "clusterIPs", "spec.clusterIPs", errs)
    if cluster_ip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            errs.append(invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"))

    families = get_str_list(spec, "ipFamilies", "spec.ipFamilies", errs)
    seen: set[str] = set()
    for i, family in enumerate(families):
        fp = index("spec.ipFamilies", i)
        if family not in IP_FAMILIES:
            errs.append(not_supported(fp, family, IP_FAMILIES))
        elif family == "IPv6":
            # minik runs single-stack IPv4 clusters, like a cluster without IPv6 service CIDR.
            errs.append(invalid(fp, family, "not configured on this cluster"))
        if family in seen:
            errs.append(duplicate(fp, family))
        seen.add(family)
    policy = get_str(spec, "ipFamilyPolicy", "spec.ipFamilyPolicy", errs)
    if spec.get("ipFamilyPolicy") is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    if policy == "RequireDualStack" and not is_headless(spec):
        errs.append(
            invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services")
        )

    bad = False
    for i, ip in enumerate(ips):
        if ip == "None":
            if i == 0:
                if len(ips) > 1:
                    bad = True
                    errs.append(invalid("spec.clusterIPs", ips, "'None' must be the first and only value"))
                continue
            bad = True
            errs.append(invalid("spec.clusterIPs", ips, "'None' must be the first and only value"))
            continue
        ip_errs = valid_ip(ip, index("spec.clusterIPs", i))
        bad = bad or bool(ip_errs)
        errs += ip_errs
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad:
        return errs
    if len(ips) > 1:
        versions = {parsed.version for ip in ips if (parsed := parse_ip(ip)) is not None}
        if len(versions) != len(ips):
            errs.append(invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family"))
    if not is_headless(spec):
        for i, (ip, family) in enumerate(zip(ips, families, strict=False)):
            parsed = parse_ip(ip)
            if family == "IPv4" and parsed is not None and parsed.version == 6:
                errs.append(
                    invalid(
                        index("spec.clusterIPs", i),
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if family == "IPv6" and parsed is not None and parsed.version == 4:
                errs.append(
                    invalid(
                        index("spec.clusterIPs", i),
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _traffic_policies(spec: Obj, kind: str) -> Errors:
    errs: Errors = []
    external = get_str(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", errs)
    if not _externally_accessible(spec):
        if external:
            errs.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    external,
                    "may only be set for externally-accessible services",
                )
            )
    elif not external:
        errs.append(required("spec.externalTrafficPolicy"))
    elif external not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", external, TRAFFIC_POLICIES))
    health = get_int(spec, "healthCheckNodePort", "spec.healthCheckNodePort", errs)
    if health and not (kind == "LoadBalancer" and external == "Local"):
        errs.append(
            invalid(
                "spec.healthCheckNodePort",
                health,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )
        )
    internal = get_str(spec, "internalTrafficPolicy", "spec.internalTrafficPolicy", errs)
    if not internal:
        if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
            errs.append(required("spec.internalTrafficPolicy"))
    elif internal not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    return errs


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def validate_service_update(svc: Obj, old: Obj) -> Errors:
    """A cluster IP, once allocated, is for life -- unless the Service becomes or stops
    being an ExternalName, which has no IP at all."""
    errs: Errors = []
    spec, old_spec = _spec(svc), _spec(old)
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return errs
    if is_headless(spec) and is_headless(old_spec):
        return errs
    new_ips, old_ips = _cluster_ips(spec), _cluster_ips(old_spec)
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                errs.append(invalid(index("spec.clusterIPs", i), new_ips, "may not change once set"))
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset"))
        elif new_ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))

    new_families, old_families = spec.get("ipFamilies") or [], old_spec.get("ipFamilies") or []
    if isinstance(new_families, list) and isinstance(old_families, list) and old_families:
        if not new_families:
            errs.append(invalid("spec.ipFamilies[0]", new_families, "primary ipFamily can not be unset"))
        elif new_families[0] != old_families[0]:
            errs.append(invalid("spec.ipFamilies[0]", new_families, "may not change once set"))
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("", "Service"): KindRules(
        name=names.is_dns1035_label, validate=validate_service, update=validate_service_update
    ),
}
