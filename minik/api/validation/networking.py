"""Validation of ``networking.k8s.io/v1`` Ingresses.

minik serves Ingress objects so that tools which expect the kind find it (``kubectl
apply --prune`` lists Ingresses among the kinds it prunes, and charts ship them), but
runs no ingress controller -- as a cluster without one, upstream stores them and nothing
routes. The rules here are upstream's main ones, so a bad Ingress is refused the same way:
a default backend or rules; each HTTP path with a ``pathType`` (``Exact`` and ``Prefix``
paths absolute); each backend exactly one of ``service`` (a name and a port name or
number) or ``resource``; hosts DNS names (``*.`` wildcards allowed), never IPs.
"""

from __future__ import annotations

from minik.api.field import invalid, not_supported, required
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    dicts,
    dns1123_subdomain,
    get_dict,
    get_list,
    index,
    parse_ip,
    port_num,
)
from minik.api.validation.names import is_dns1035_label, is_valid_port_name

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _ingress(ing: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(ing, "spec", "spec", errs)
    rules = get_list(spec, "rules", "spec.rules", errs)
    backend = spec.get("defaultBackend")
    if not rules and backend is None:
        errs.append(invalid("spec", rules, "either `defaultBackend` or `rules` must be specified"))
    if isinstance(backend, dict):
        errs += _backend(backend, "spec.defaultBackend")
    for i, rule in dicts(rules, "spec.rules", errs):
        path = index("spec.rules", i)
        host = rule.get("host")
        if isinstance(host, str) and host:
            errs += _host(host, child(path, "host"))
        http = rule.get("http")
        if isinstance(http, dict):
            errs += _http(http, child(path, "http"))
    for i, tls in dicts(get_list(spec, "tls", "spec.tls", errs), "spec.tls", errs):
        for j, host in enumerate(tls.get("hosts") or []):
            errs += _host(str(host), index(child(index("spec.tls", i), "hosts"), j))
    return errs


def _host(host: str, path: str) -> Errors:
    if parse_ip(host) is not None:
        return [invalid(path, host, "must be a DNS name, not an IP address")]
    return dns1123_subdomain(host[2:] if host.startswith("*.") else host, path)


def _http(http: Obj, path: str) -> Errors:
    errs: Errors = []
    paths = get_list(http, "paths", child(path, "paths"), errs)
    if not paths:
        errs.append(required(child(path, "paths")))
    for i, item in dicts(paths, child(path, "paths"), errs):
        item_path = index(child(path, "paths"), i)
        path_type = item.get("pathType")
        value = item.get("path")
        if path_type is None:
            errs.append(required(child(item_path, "pathType"), "pathType must be specified"))
        elif path_type not in PATH_TYPES:
            errs.append(not_supported(child(item_path, "pathType"), path_type, PATH_TYPES))
        elif path_type in ("Exact", "Prefix") and not (isinstance(value, str) and value.startswith("/")):
            errs.append(invalid(child(item_path, "path"), value, "must be an absolute path"))
        backend = item.get("backend")
        if not isinstance(backend, dict):
            errs.append(required(child(item_path, "backend")))
        else:
            errs += _backend(backend, child(item_path, "backend"))
    return errs


def _backend(backend: Obj, path: str) -> Errors:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return []
    if not isinstance(service, dict):
        return [required(path, "one of `service` or `resource` must be specified")]
    errs: Errors = []
    name = service.get("name")
    if not isinstance(name, str) or not name:
        errs.append(required(child(path, "service", "name")))
    else:
        errs += [invalid(child(path, "service", "name"), name, m) for m in is_dns1035_label(name)]
    port = service.get("port")
    port_path = child(path, "service", "port")
    if not isinstance(port, dict):
        errs.append(required(port_path, "port name or number is required"))
        return errs
    port_name, number = port.get("name"), port.get("number")
    if port_name and number:
        errs.append(invalid(port_path, port, "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(child(port_path, "name"), port_name, m) for m in is_valid_port_name(str(port_name))]
    elif number is not None:
        errs += port_num(number, child(port_path, "number"))
    else:
        errs.append(required(port_path, "port name or number is required"))
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("networking.k8s.io", "Ingress"): KindRules(validate=_ingress),
}
