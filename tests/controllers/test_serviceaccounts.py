"""The ServiceAccount controller on a real API server: every namespace keeps its ``default`` account."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import NAMESPACES, SERVICEACCOUNTS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.serviceaccounts import ServiceAccountsController
from tests.conftest import APIServerProcess

from .kubelet_stub import controllers_running, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


async def _default_account(client: APIClient, namespace: str) -> Obj | None:
    try:
        return await client.get(SERVICEACCOUNTS, "default", namespace=namespace)
    except NotFoundError:
        return None


async def test_new_namespace_gets_default_account_and_keeps_it(client: APIClient) -> None:
    name = f"sa-{secrets.token_hex(3)}"
    async with controllers_running(client, ServiceAccountsController):
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        first = await eventually(
            lambda: _default_account(client, name), message="the default ServiceAccount appears"
        )
        await client.delete(SERVICEACCOUNTS, "default", namespace=name)
        second = await eventually(
            lambda: _default_account(client, name), message="the deleted default ServiceAccount comes back"
        )
        assert second["metadata"]["uid"] != first["metadata"]["uid"]
        await client.delete(NAMESPACES, name)


async def test_existing_namespaces_get_theirs_at_start(client: APIClient) -> None:
    name = f"sa-{secrets.token_hex(3)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert await _default_account(client, name) is None  # nobody made it yet
    async with controllers_running(client, ServiceAccountsController):
        await eventually(lambda: _default_account(client, name), message="the default ServiceAccount appears")
        await eventually(lambda: _default_account(client, "kube-system"), message="kube-system has one too")
    await client.delete(NAMESPACES, name)
