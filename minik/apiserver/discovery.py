"""Discovery: how clients learn which resources this server has.

``kubectl`` starts every command by asking ``/api`` and ``/apis`` which
group/versions exist, then ``/api/v1`` and ``/apis/<group>/<version>`` which
resources each holds (their kind, verbs, short names, subresources). That is how
``kubectl get po`` knows ``po`` means ``pods`` in ``v1``.
"""

from __future__ import annotations

from typing import Any

import orjson

from minik.apiserver.registry import Registry, ResourceType

JSON = "application/json"


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
        kind, verbs = rt.kind, ["get", "patch", "update"]
        if sub == "scale":
            kind = "Scale"
        elif sub == "binding":
            kind, verbs = "Binding", ["create"]
        elif sub == "log":
            kind, verbs = "Pod", ["get"]
        elif sub == "exec":
            kind, verbs = "PodExecOptions", ["create", "get"]
        elif sub == "finalize":
            verbs = ["update"]
        elif sub == "eviction":
            kind, verbs = "Eviction", ["create"]
        entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                 "namespaced": rt.namespaced, "kind": kind, "verbs": verbs}
        if sub == "scale":
            entry["group"], entry["version"] = "autoscaling", "v1"
        entries.append(entry)
    return entries


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


def document(registry: Registry, path: str, accept: str) -> tuple[bytes, str] | None:
    """The discovery document at ``path``, or None if ``path`` is not a discovery path."""
    parts = [p for p in path.split("/") if p]
    doc: dict[str, Any] | None
    if parts == ["api"]:
        doc = {"kind": "APIVersions", "versions": ["v1"],
               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}
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
        doc = {"kind": "APIGroup", "apiVersion": "v1", "name": parts[1],
               "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions],
               "preferredVersion": {"groupVersion": f"{parts[1]}/{versions[0]}", "version": versions[0]}}
    else:
        return None
    if doc is None:
        return None
    return orjson.dumps(doc), JSON
