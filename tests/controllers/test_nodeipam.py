"""Node IPAM: unique, stable pod CIDRs per node, released when the node goes."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import NODES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.rest import APIClient
from minik.controllers.nodeipam import CIDRExhaustedError, CIDRSet, NodeIPAMController
from tests.conftest import APIServerProcess

from .kubelet_stub import controllers_running, eventually


def test_cidr_set_round_robin_and_reservations() -> None:
    cidrs = CIDRSet("10.244.0.0/22", 24)
    assert [cidrs.allocate() for _ in range(2)] == ["10.244.0.0/24", "10.244.1.0/24"]
    cidrs.release("10.244.0.0/24")
    # Round robin: the just-released block is handed out last.
    assert [cidrs.allocate() for _ in range(3)] == ["10.244.2.0/24", "10.244.3.0/24", "10.244.0.0/24"]
    with pytest.raises(CIDRExhaustedError):
        cidrs.allocate()
    assert not cidrs.occupy("10.245.0.0/24") and not cidrs.occupy("10.244.0.0/25")
    reserved = CIDRSet("10.0.0.0/22", 24, reserved=["10.0.1.0/25"])
    assert [reserved.allocate() for _ in range(3)] == ["10.0.0.0/24", "10.0.2.0/24", "10.0.3.0/24"]


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


async def _cidr(client: APIClient, name: str) -> str | None:
    try:
        node = await client.get(NODES, name)
    except NotFoundError:
        return None
    spec = node.get("spec") or {}
    if spec.get("podCIDR"):
        assert spec["podCIDRs"] == [spec["podCIDR"]]
    return spec.get("podCIDR")


async def _create(client: APIClient, name: str) -> None:
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


@pytest.mark.integration
async def test_nodes_get_unique_stable_cidrs_released_on_delete(client: APIClient) -> None:
    # A private /22 of four /24s: small enough to run out, and apart from other tests' nodes.
    cluster = f"10.{secrets.randbelow(50) + 150}.{4 * secrets.randbelow(60)}.0/22"
    prefix = f"ipam-{secrets.token_hex(3)}"
    names = [f"{prefix}-{i}" for i in range(5)]

    def make(c: APIClient, f: Any, r: Any) -> NodeIPAMController:
        return NodeIPAMController(c, f, r, cluster_cidr=cluster)

    try:
        async with controllers_running(client, make):
            for name in names[:3]:
                await _create(client, name)
            first = [
                await eventually(functools.partial(_cidr, client, name), message=f"CIDR of {name}")
                for name in names[:3]
            ]
            assert len(set(first)) == 3
            assert all(ipaddress.ip_network(c).subnet_of(ipaddress.ip_network(cluster)) for c in first)  # type: ignore[arg-type]

        # A new controller process learns the taken blocks from the Nodes themselves.
        async with controllers_running(client, make):
            await _create(client, names[3])
            fourth = await eventually(lambda: _cidr(client, names[3]), message="CIDR of the 4th node")
            assert fourth not in first
            assert [await _cidr(client, n) for n in names[:3]] == first  # unchanged

            # The range is full: the 5th node waits until a block is released.
            await _create(client, names[4])
            await client.delete(NODES, names[0])
            fifth = await eventually(lambda: _cidr(client, names[4]), message="CIDR of the 5th node")
            assert fifth == first[0]
    finally:
        for name in names:
            with contextlib.suppress(NotFoundError):
                await client.delete(NODES, name)
