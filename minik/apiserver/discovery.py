"""Discovery: how clients learn which resources this server has.

``kubectl`` starts every command by asking ``/api`` and ``/apis`` which
group/versions exist and which resources each holds (their kind, verbs, short
names, categories, subresources). That is how ``kubectl get po`` knows ``po``
means ``pods`` in ``v1``, and ``kubectl get all`` which kinds are in the ``all``
category. The answers are cached by kubectl under ``~/.kube/cache/discovery``.

There are two ways to answer, and both are served:

* **legacy**: ``/api`` is an ``APIVersions`` and ``/apis`` an ``APIGroupList``; the
  client then asks each ``/api/v1`` and ``/apis/<group>/<version>`` for an
  ``APIResourceList`` (one request per group/version);
* **aggregated** (``apidiscovery.k8s.io/v2``, the default since 1.30): when the
  Accept header asks for
  ``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``, ``/api``
  and ``/apis`` each answer *everything* in one ``APIGroupDiscoveryList``. The
  response's Content-Type must then be exactly that media type: client-go decides
  which of the two shapes it got by the Content-Type alone, and with a plain
  ``application/json`` it would read the document as legacy and find no
  resources at all ("the server doesn't have a resource type").
"""

from __future__ import annotations

from typing import Any

import orjson

from minik.apiserver.registry import Registry, ResourceType

JSON = "application/json"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _subresource(rt: ResourceType, sub: str) -> tuple[str, str, str, list[str]]:
    """(group, version, kind, verbs) of one subresource."""
    group, version, kind, verbs = rt.group, rt.version, rt.kind, ["get", "patch", "update"]
    if sub == "scale":
        group, version, kind = "autoscaling", "v1", "Scale"
    elif sub == "binding":
        kind, verbs = "Binding", ["create"]
    elif sub == "log":
        kind, verbs = "Pod", ["get"]
    elif sub == "exec":
        kind, verbs = "PodExecOptions", ["create", "get"]
    elif sub == "finalize":
        verbs = ["update"]
    elif sub == "eviction":
        group, version, kind, verbs = "policy", "v1", "Eviction", ["create"]
    elif sub == "token":
        group, version, kind, verbs = "authentication.k8s.io", "v1", "TokenRequest", ["create"]
    return group, version, kind, verbs


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in rt.subresources:
        group, version, kind, verbs = _subresource(rt, sub)
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": kind,
            "verbs": verbs,
        }
        if (group, version) != (rt.group, rt.version):
            entry["group"], entry["version"] = group, version
        entries.append(entry)
    return entries


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        subs = []
        for sub in rt.subresources:
            group, version, kind, verbs = _subresource(rt, sub)
            subs.append(
                {
                    "subresource": sub,
                    "responseKind": {"group": group, "version": version, "kind": kind},
                    "verbs": verbs,
                }
            )
        entry["subresources"] = subs
    return entry


def aggregated(registry: Registry, legacy: bool) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (legacy=True: the core group) or ``/apis``."""
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for rt in registry:
        if (rt.group == "") == legacy:
            groups.setdefault(rt.group, {}).setdefault(rt.version, []).append(rt)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": group},
                "versions": [
                    {
                        "version": version,
                        "freshness": "Current",
                        "resources": [_aggregated_resource(rt) for rt in rts],
                    }
                    for version, rts in versions.items()
                ],
            }
            for group, versions in groups.items()
        ],
    }


def wants_aggregated(accept: str) -> bool:
    return "as=APIGroupDiscoveryList" in accept and "v=v2" in accept and "apidiscovery.k8s.io" in accept


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = [rt for rt in registry if rt.group == group and rt.version == version]
    if not resources:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [e for rt in resources for e in _resource_entries(rt)],
    }


def server_address(host: str, port: int) -> str:
    """``host:port`` as a URL authority (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def group_list(registry: Registry) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for group, version in registry.group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{g}/{versions[0]}", "version": versions[0]},
            }
            for g, versions in groups.items()
        ],
    }


def document(
    registry: Registry, path: str, accept: str, server_address: str = "127.0.0.1:6443"
) -> tuple[bytes, str] | None:
    """The discovery document at ``path``, or None if ``path`` is not a discovery path.

    ``server_address`` (``host:port``) is where this server is reached; ``/api``
    reports it in ``serverAddressByClientCIDRs``.
    """
    parts = [p for p in path.split("/") if p]
    doc: dict[str, Any] | None
    if parts in (["api"], ["apis"]) and wants_aggregated(accept):
        return orjson.dumps(aggregated(registry, legacy=parts == ["api"])), AGGREGATED
    if parts == ["api"]:
        doc = {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }
    elif parts == ["apis"]:
        doc = group_list(registry)
    elif len(parts) == 2 and parts[0] == "api":
        doc = resource_list(registry, "", parts[1])
    elif len(parts) == 3 and parts[0] == "apis":
        doc = resource_list(registry, parts[1], parts[2])
    elif len(parts) == 2 and parts[0] == "apis":
        versions = [v for g, v in registry.group_versions() if g == parts[1]]
        if not versions:
            return None
        doc = {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": parts[1],
            "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{parts[1]}/{versions[0]}", "version": versions[0]},
        }
    else:
        return None
    if doc is None:
        return None
    return orjson.dumps(doc), JSON
