"""Authentication, TLS, and the informational endpoints."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_no_token_is_401(apiserver) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=apiserver.url, verify=apiserver.tls()) as c:
        r = c.get("/api/v1/namespaces")
        assert r.status_code == 401
        assert r.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        assert c.get("/api/v1/namespaces", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_each_component_token_works(apiserver) -> None:  # type: ignore[no-untyped-def]
    for token in apiserver.tokens.values():
        with apiserver.client(token=token) as c:
            assert c.get("/api/v1/namespaces/default").status_code == 200


def test_public_endpoints(apiserver) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=apiserver.url, verify=apiserver.tls()) as c:
        assert c.get("/healthz").text == "ok"
        assert c.get("/livez").status_code == 200
        assert c.get("/readyz").status_code == 200
        version = c.get("/version").json()
        assert version["major"] == "1" and version["gitVersion"].startswith("v1.")


def test_tls_certificate_is_verified_against_the_cluster_ca(apiserver) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=apiserver.url) as c:
        c.get("/healthz")  # the system trust store does not know minik's CA


def test_metrics(api: httpx.Client) -> None:
    api.get("/api/v1/namespaces")
    text = api.get("/metrics").text
    assert 'apiserver_request_total{verb="list",resource="namespaces",code="200"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert 'apiserver_storage_objects{resource="namespaces"}' in text


def test_discovery_lists_resources(api: httpx.Client) -> None:
    core = api.get("/api/v1").json()
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/status", "pods/binding", "services", "namespaces", "nodes"} <= names
    groups = {g["name"] for g in api.get("/apis").json()["groups"]}
    assert {"apps", "batch", "coordination.k8s.io", "discovery.k8s.io"} <= groups
