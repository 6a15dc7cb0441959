"""LoadBalancer addresses: a local pool, no address handed out twice, released on change/delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import EVENTS, SERVICES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.loadbalancer import AddressPool, PoolExhaustedError, ServiceLBController
from tests.conftest import APIServerProcess

from .kubelet_stub import controllers_running, eventually


def test_address_pool() -> None:
    pool = AddressPool("127.1.0.0/30, 127.2.0.10-127.2.0.11")
    assert pool.size == 4  # .1 and .2 of the /30 (no network/broadcast), plus the range
    assert "127.1.0.0" not in pool and "127.1.0.1" in pool and "127.2.0.11" in pool and "10.0.0.1" not in pool
    assert pool.allocate("ns/a") == "127.1.0.1"
    assert pool.allocate("ns/a") == "127.1.0.1"  # idempotent per service
    assert not pool.claim("ns/b", "127.1.0.1")  # taken
    assert pool.claim("ns/b", "127.2.0.11")
    assert [pool.allocate("ns/c"), pool.allocate("ns/d")] == ["127.1.0.2", "127.2.0.10"]
    with pytest.raises(PoolExhaustedError):
        pool.allocate("ns/e")
    assert pool.release("ns/a") == "127.1.0.1"
    assert pool.allocate("ns/e") == "127.1.0.1"
    with pytest.raises(ValueError):
        AddressPool("127.0.0.9-127.0.0.1")


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


def _service(name: str, ns: str, kind: str = "LoadBalancer", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


async def _ips(client: APIClient, ns: str, name: str) -> list[str] | None:
    try:
        svc = await client.get(SERVICES, name, namespace=ns)
    except NotFoundError:
        return None
    return [i["ip"] for i in (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []]


async def _event(client: APIClient, ns: str, reason: str) -> bool:
    events = await client.list(EVENTS, namespace=ns, field_selector=f"reason={reason}")
    return bool(events["items"])


@pytest.mark.integration
async def test_addresses_are_allocated_released_and_never_shared(client: APIClient, ns: str) -> None:
    pool = "127.1.7.0/30"  # two usable addresses: 127.1.7.1 and 127.1.7.2

    def make(c: APIClient, f: Any, r: Any) -> ServiceLBController:
        return ServiceLBController(c, f, r, pool=pool)

    async with controllers_running(client, make, namespace=ns):
        await client.create(SERVICES, _service("a", ns))
        assert await eventually(lambda: _ips(client, ns, "a"), message="a's address") == ["127.1.7.1"]
        await client.create(SERVICES, _service("b", ns, loadBalancerIP="127.1.7.2"))
        assert await eventually(lambda: _ips(client, ns, "b"), message="b's address") == ["127.1.7.2"]
        svc = await client.get(SERVICES, "a", namespace=ns)
        assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "127.1.7.1", "ipMode": "VIP"}]
        await client.create(SERVICES, _service("plain", ns, kind="ClusterIP"))
        await client.create(SERVICES, _service("foreign", ns, loadBalancerClass="example.com/lb"))
        await client.create(SERVICES, _service("c", ns))  # the pool is full
        await eventually(lambda: _event(client, ns, "AllocationFailed"), message="allocation failure event")
        assert await _ips(client, ns, "c") == []

        # a stops being a LoadBalancer: its address is cleared and goes to c.
        await client.patch(SERVICES, "a", {"spec": {"type": "ClusterIP"}}, namespace=ns)
        assert await eventually(lambda: _ips(client, ns, "c"), message="c gets the freed address") == [
            "127.1.7.1"
        ]
        assert await _ips(client, ns, "a") == []
        assert await _ips(client, ns, "plain") == []
        assert await _ips(client, ns, "foreign") == []  # another implementation's load balancer

    # A restarted controller learns the taken addresses from the Services' status.
    async with controllers_running(client, make, namespace=ns):
        await client.create(SERVICES, _service("d", ns))
        await client.delete(SERVICES, "b", namespace=ns)
        assert await eventually(lambda: _ips(client, ns, "d"), message="d gets b's address") == ["127.1.7.2"]
        assert await _ips(client, ns, "c") == ["127.1.7.1"]
