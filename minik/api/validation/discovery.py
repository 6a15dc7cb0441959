"""Validation of ``discovery.k8s.io/v1`` EndpointSlices.

EndpointSlices are the scalable successor of Endpoints: one Service's endpoints split
into slices of at most 1000 (``kube-proxy`` and DNS read them). Every slice holds
addresses of a single type (``IPv4``, ``IPv6`` or ``FQDN``), and each endpoint needs at
least one address of that type. Port names must be unique within the slice, because
a Service's named ``targetPort`` is resolved against them.
"""

from __future__ import annotations

from minik.api.field import duplicate, invalid, not_supported, required, too_many
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    dicts,
    dns1123_label,
    dns1123_subdomain,
    get_dict,
    get_list,
    get_str,
    get_str_list,
    get_str_map,
    immutable,
    index,
    non_special_ip,
    port_num,
    valid_ip,
    valid_ipv4,
)
from minik.api.validation.containers import PROTOCOLS
from minik.api.validation.meta import validate_labels

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000


def _endpoint_slice(eps: Obj) -> Errors:
    errs: Errors = []
    address_type = get_str(eps, "addressType", "addressType", errs)
    if not address_type:
        errs.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
    endpoints = get_list(eps, "endpoints", "endpoints", errs)
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    else:
        for i, endpoint in dicts(endpoints, "endpoints", errs):
            errs += _endpoint(endpoint, index("endpoints", i), address_type)
    errs += _ports(get_list(eps, "ports", "ports", errs))
    return errs


def _endpoint(endpoint: Obj, path: str, address_type: str) -> Errors:
    errs: Errors = []
    ap = child(path, "addresses")
    addresses = get_str_list(endpoint, "addresses", ap, errs)
    if not addresses:
        errs.append(required(ap, "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        errs.append(too_many(ap, len(addresses), MAX_ADDRESSES))
    for i, address in enumerate(addresses):
        aip = index(ap, i)
        if address_type == "IPv4":
            errs += valid_ipv4(address, aip) or non_special_ip(address, aip)
        elif address_type == "IPv6":
            ip_errs = valid_ip(address, aip)
            if not ip_errs and ":" not in address:
                ip_errs = [invalid(aip, address, "must be a valid IPv6 address")]
            errs += ip_errs or non_special_ip(address, aip)
        elif address_type == "FQDN":
            name = address.removesuffix(".")
            msgs = dns1123_subdomain(name, aip)
            if msgs:
                errs.append(invalid(aip, name, ",".join(e.detail for e in msgs)))
            if len(name.split(".")) < 2:
                errs.append(
                    invalid(aip, name, "should be a domain with at least two segments separated by dots")
                )
    if endpoint.get("nodeName") is not None:
        errs += dns1123_subdomain(
            get_str(endpoint, "nodeName", child(path, "nodeName"), errs), child(path, "nodeName")
        )
    if endpoint.get("hostname") is not None:
        errs += dns1123_label(
            get_str(endpoint, "hostname", child(path, "hostname"), errs), child(path, "hostname")
        )
    topology_path = child(path, "deprecatedTopology")
    errs += validate_labels(get_str_map(endpoint, "deprecatedTopology", topology_path, errs), topology_path)
    conditions = get_dict(endpoint, "conditions", child(path, "conditions"), errs)
    for name in ("ready", "serving", "terminating"):
        value = conditions.get(name)
        if value is not None and not isinstance(value, bool):
            errs.append(invalid(child(path, "conditions", name), value, "must be a boolean"))
    return errs


def _ports(ports: list[object]) -> Errors:
    errs: Errors = []
    if len(ports) > MAX_PORTS:
        return [too_many("ports", len(ports), MAX_PORTS)]
    seen: set[str] = set()
    for i, port in dicts(ports, "ports", errs):
        pp = index("ports", i)
        name = get_str(port, "name", child(pp, "name"), errs)
        if name:
            errs += dns1123_label(name, child(pp, "name"))
        if name in seen:
            errs.append(duplicate(child(pp, "name"), name))
        seen.add(name)
        proto = get_str(port, "protocol", child(pp, "protocol"), errs)
        if port.get("protocol") is None:
            errs.append(required(child(pp, "protocol")))
        elif proto not in PROTOCOLS:
            errs.append(not_supported(child(pp, "protocol"), proto, PROTOCOLS))
        if port.get("port") is not None:
            errs += port_num(port.get("port"), child(pp, "port"))
    return errs


def _endpoint_slice_update(eps: Obj, old: Obj) -> Errors:
    return immutable(eps.get("addressType"), old.get("addressType"), "addressType")


RULES: dict[tuple[str, str], KindRules] = {
    ("discovery.k8s.io", "EndpointSlice"): KindRules(validate=_endpoint_slice, update=_endpoint_slice_update),
}
