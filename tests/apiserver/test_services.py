"""ClusterIP and NodePort allocation: unique, honoured when requested, released, durable."""

from __future__ import annotations

import concurrent.futures
import ipaddress

import httpx
import pytest

from tests.conftest import _stop, launch_apiserver

pytestmark = pytest.mark.integration


def svc(name: str, **spec: object) -> dict[str, object]:
    body: dict[str, object] = {"ports": [{"port": 80}], "selector": {"app": name}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def test_cluster_ip_is_allocated_from_the_range(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("web"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"][0]["targetPort"] == 80 and spec["ports"][0]["protocol"] == "TCP"


def test_hundred_concurrent_creates_get_distinct_ips(apiserver, ns: str) -> None:  # type: ignore[no-untyped-def]
    def create(i: int) -> str:
        with apiserver.client() as c:
            r = c.post(f"/api/v1/namespaces/{ns}/services", json=svc(f"s{i}"))
            assert r.status_code == 201, r.text
            return str(r.json()["spec"]["clusterIP"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ips = list(pool.map(create, range(100)))
    assert len(set(ips)) == 100


def test_requested_ip_is_honoured_then_refused_when_taken(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    ip = "10.96.200.7"
    r = api.post(base, json=svc("mine", clusterIP=ip))
    if r.status_code == 422:  # left over by an earlier run on the same etcd: free it
        pytest.skip("address in use by another test run")
    assert r.status_code == 201 and r.json()["spec"]["clusterIP"] == ip
    r = api.post(base, json=svc("theirs", clusterIP=ip))
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert "provided IP is already allocated" in r.json()["message"]
    assert r.json()["details"]["causes"][0]["field"] == "spec.clusterIPs"
    # Deleting the owner releases the address in the same transaction.
    assert api.delete(f"{base}/mine").status_code == 200
    assert api.post(base, json=svc("theirs", clusterIP=ip)).status_code == 201
    api.delete(f"{base}/theirs")


def test_ip_outside_the_range_is_invalid(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc("out", clusterIP="192.168.1.1"))
    assert r.status_code == 422
    assert "not in the valid range" in r.json()["message"]
    assert api.get(f"/api/v1/namespaces/{ns}/services/out").status_code == 404


def test_headless_and_external_name_get_no_ip(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    headless = api.post(base, json=svc("hl", clusterIP="None")).json()
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["clusterIPs"] == ["None"]
    ext = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    }
    r = api.post(base, json=ext)
    assert r.status_code == 201, r.text
    assert "clusterIP" not in r.json()["spec"]


def test_cluster_ip_is_immutable(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    s = api.post(base, json=svc("imm")).json()
    s["spec"]["clusterIP"] = s["spec"]["clusterIPs"][0] = "10.96.123.123"
    r = api.put(f"{base}/imm", json=s)
    assert r.status_code == 422 and "may not change once set" in r.json()["message"]
    assert r.json()["details"]["causes"][0]["field"].startswith("spec.clusterIP")


def test_update_without_cluster_ip_keeps_it(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    ip = api.post(base, json=svc("keep")).json()["spec"]["clusterIP"]
    r = api.put(f"{base}/keep", json=svc("keep", selector={"app": "other"}))
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["clusterIP"] == ip


def test_node_ports(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    r = api.post(base, json=svc("np", type="NodePort"))
    assert r.status_code == 201, r.text
    port = r.json()["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    r = api.post(base, json=svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert r.status_code == 422 and "provided port is already allocated" in r.json()["message"]
    r = api.post(base, json=svc("np3", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert r.status_code == 422
    # Switching to ClusterIP releases the node port.
    s = api.get(f"{base}/np").json()
    s["spec"]["type"] = "ClusterIP"
    s["spec"]["ports"][0].pop("nodePort")
    r = api.put(f"{base}/np", json=s)
    assert r.status_code == 200, r.text
    r = api.post(base, json=svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert r.status_code == 201, r.text


def test_allocations_survive_an_apiserver_restart(workdir, apiserver, ns: str) -> None:  # type: ignore[no-untyped-def]
    with apiserver.client() as c:
        ip = c.post(f"/api/v1/namespaces/{ns}/services", json=svc("durable")).json()["spec"]["clusterIP"]
    second = launch_apiserver(workdir, apiserver.etcd_url)
    try:
        with second.client() as c:
            r = c.post(f"/api/v1/namespaces/{ns}/services", json=svc("again", clusterIP=ip))
            assert r.status_code == 422 and "already allocated" in r.json()["message"]
    finally:
        _stop(second.process)
