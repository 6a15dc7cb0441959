"""minik-dns against a real minik-apiserver (and etcd): API changes show in answers within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import dns.asyncquery
import dns.message
import dns.rcode
import httpx
import pytest

from minik.dns.main import DNSApp, parse_args
from tests.conftest import APIServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def minik_dns(apiserver: APIServerProcess) -> AsyncIterator[DNSApp]:
    app = DNSApp(
        parse_args(
            ["--listen", "127.0.0.1:0", "--metrics-port", "-1", "--kubeconfig", str(apiserver.kubeconfig)]
        )
    )
    await app.start()
    assert app.watcher is not None
    assert await app.watcher.wait_for_sync(timeout=10)
    yield app
    await app.stop()


async def ask(app: DNSApp, name: str, rdtype: str = "A") -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(q, "127.0.0.1", port=app.server.port, timeout=2)


async def within_a_second(app: DNSApp, name: str, check: Callable[[dns.message.Message], bool]) -> float:
    """Seconds until ``check`` holds for the answer to ``name`` (fails after one second)."""
    start = time.monotonic()
    while True:
        r = await ask(app, name)
        if check(r):
            return time.monotonic() - start
        assert time.monotonic() - start < 1.0, f"{name}: still {r}"
        await asyncio.sleep(0.02)


def addresses(r: dns.message.Message) -> list[str]:
    return sorted(rr.to_text() for rrset in r.answer for rr in rrset)


async def test_services_and_endpointslices_appear_change_and_vanish(
    minik_dns: DNSApp, api: httpx.Client, ns: str
) -> None:
    # the kubernetes Service every cluster has
    r = await ask(minik_dns, "kubernetes.default.svc.cluster.local")
    assert r.rcode() == dns.rcode.NOERROR and addresses(r)

    web = f"web.{ns}.svc.cluster.local"
    created = api.post(
        f"/api/v1/namespaces/{ns}/services",
        json={
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"ports": [{"name": "http", "port": 80}]},
        },
    )
    assert created.status_code == 201, created.text
    cluster_ip = created.json()["spec"]["clusterIP"]
    await within_a_second(minik_dns, web, lambda r: addresses(r) == [cluster_ip])

    db = f"db.{ns}.svc.cluster.local"
    api.post(
        f"/api/v1/namespaces/{ns}/services",
        json={
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432}]},
        },
    ).raise_for_status()
    slice_body = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.7"], "hostname": "db-0", "conditions": {"ready": True}}],
        "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}],
    }
    api.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", json=slice_body).raise_for_status()
    await within_a_second(minik_dns, f"db-0.{db}", lambda r: addresses(r) == ["10.244.0.7"])

    current = api.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/db-1").json()
    current["endpoints"][0]["conditions"]["ready"] = False
    api.put(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/db-1", json=current).raise_for_status()
    await within_a_second(minik_dns, db, lambda r: r.rcode() == dns.rcode.NXDOMAIN)

    api.delete(f"/api/v1/namespaces/{ns}/services/web").raise_for_status()
    await within_a_second(minik_dns, web, lambda r: r.rcode() == dns.rcode.NXDOMAIN)
    # the namespace still exists, so its subtree is NODATA, not NXDOMAIN
    r = await ask(minik_dns, f"{ns}.svc.cluster.local")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
