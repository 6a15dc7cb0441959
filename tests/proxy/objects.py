"""Service and EndpointSlice dicts in the exact Kubernetes wire shape, for proxy tests."""

from __future__ import annotations

from typing import Any


def service(
    name: str,
    cluster_ip: str,
    *,
    namespace: str = "default",
    ports: list[dict[str, Any]] | None = None,
    type: str = "ClusterIP",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": type,
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": ports
            if ports is not None
            else [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
            **spec,
        },
        "status": spec.pop("status", {}),
    }


def endpoint(
    ip: str,
    *,
    node: str = "node-a",
    ready: bool = True,
    serving: bool | None = None,
    terminating: bool = False,
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "ready": ready,
        "serving": ready if serving is None else serving,
        "terminating": terminating,
    }
    return {"addresses": [ip], "conditions": cond, "nodeName": node}


def endpoint_slice(
    service_name: str,
    endpoints: list[dict[str, Any]],
    *,
    namespace: str = "default",
    name: str | None = None,
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service_name}-abc12",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports if ports is not None else [{"name": "http", "protocol": "TCP", "port": 8080}],
    }
