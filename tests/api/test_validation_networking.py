"""Ingress validation: upstream's main rules, with upstream's field paths."""

from __future__ import annotations

from typing import Any

from minik.api.validation import group_kind, validate_create


def ingress(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def backend(name: str = "web", **port: Any) -> dict[str, Any]:
    return {"service": {"name": name, "port": port or {"number": 80}}}


def errors(obj: dict[str, Any]) -> list[str]:
    return [f"{e.field}: {e.detail}" for e in validate_create(obj, namespaced=True, kind=group_kind(obj))]


def rule(**path: Any) -> dict[str, Any]:
    return {"host": "web.example", "http": {"paths": [path]}}


def test_valid_ingresses() -> None:
    assert errors(ingress(defaultBackend=backend())) == []
    ok = rule(path="/", pathType="Prefix", backend={"service": {"name": "api", "port": {"name": "http"}}})
    assert errors(ingress(rules=[ok])) == []
    assert (
        errors(ingress(rules=[rule(pathType="ImplementationSpecific", backend=backend(number=8080))])) == []
    )
    wildcard = {
        "host": "*.example.com",
        "http": {"paths": [{"path": "/", "pathType": "Exact", "backend": backend()}]},
    }
    assert errors(ingress(rules=[wildcard], tls=[{"hosts": ["*.example.com"]}])) == []


def test_invalid_ingresses() -> None:
    assert errors(ingress()) == ["spec: either `defaultBackend` or `rules` must be specified"]
    assert errors(ingress(rules=[rule(path="/", backend=backend())])) == [
        "spec.rules[0].http.paths[0].pathType: pathType must be specified"
    ]
    assert errors(ingress(rules=[rule(path="api", pathType="Prefix", backend=backend())])) == [
        "spec.rules[0].http.paths[0].path: must be an absolute path"
    ]
    assert errors(ingress(rules=[rule(path="/", pathType="Regex", backend=backend())]))[0].startswith(
        "spec.rules[0].http.paths[0].pathType"
    )
    assert errors(ingress(defaultBackend={})) == [
        "spec.defaultBackend: one of `service` or `resource` must be specified"
    ]
    both = {"service": {"name": "a", "port": {"number": 80}}, "resource": {"kind": "Bucket", "name": "b"}}
    assert errors(ingress(defaultBackend=both)) == [
        "spec.defaultBackend: cannot set both resource and service backends"
    ]
    assert errors(ingress(defaultBackend={"service": {"name": "a", "port": {}}})) == [
        "spec.defaultBackend.service.port: port name or number is required"
    ]
    assert errors(ingress(defaultBackend=backend(number=70000)))[0].startswith(
        "spec.defaultBackend.service.port.number"
    )
    ip_host = {
        "host": "10.0.0.1",
        "http": {"paths": [{"path": "/", "pathType": "Exact", "backend": backend()}]},
    }
    assert errors(ingress(rules=[ip_host])) == ["spec.rules[0].host: must be a DNS name, not an IP address"]
