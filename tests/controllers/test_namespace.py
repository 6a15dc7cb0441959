"""The namespace controller on a real API server: a deleted namespace is emptied, then goes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import ForbiddenError, NotFoundError
from minik.client.kinds import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS, SECRETS, SERVICES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.namespace import NamespaceController
from tests.conftest import APIServerProcess

from .kubelet_stub import controllers_running, eventually, pod_manifest

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


def _namespace_controller(c: APIClient, f: Any, r: Any) -> NamespaceController:
    return NamespaceController(c, f, r, max_recheck=0.5)


async def _get_ns(client: APIClient, name: str) -> Obj | None:
    try:
        return await client.get(NAMESPACES, name)
    except NotFoundError:
        return None


async def _condition(client: APIClient, name: str, kind: str) -> Obj | None:
    ns = await _get_ns(client, name)
    for cond in ((ns or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind and cond["status"] == "True":
            return dict(cond)
    return None


async def test_deleted_namespace_is_emptied_then_removed(client: APIClient) -> None:
    name = f"doomed-{secrets.token_hex(3)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for i in range(3):
        await client.create(
            CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}", "namespace": name},
                "data": {},
            },
        )
    await client.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": name},
            "stringData": {"k": "v"},
        },
    )
    await client.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "namespace": name},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
        },
    )
    await client.create(
        DEPLOYMENTS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": name},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    )
    await client.create(PODS, pod_manifest("unscheduled", name))
    # A pod on a node terminates gracefully, and a finalizer holds a ConfigMap: both keep
    # the namespace until they are done.
    await client.create(PODS, pod_manifest("running", name, node="node-ns"))
    await client.create(
        CONFIGMAPS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": name, "finalizers": ["example.com/hold"]},
        },
    )

    async with controllers_running(client, _namespace_controller):
        await client.delete(NAMESPACES, name)
        ns = await client.get(NAMESPACES, name)
        assert ns["status"]["phase"] == "Terminating"
        with pytest.raises(ForbiddenError):
            await client.create(
                CONFIGMAPS,
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": name}},
            )

        remaining = await eventually(
            lambda: _condition(client, name, "NamespaceContentRemaining"),
            message="content remaining condition",
        )
        held = await eventually(
            lambda: _condition(client, name, "NamespaceFinalizersRemaining"), message="finalizers condition"
        )
        assert "example.com/hold in 1 resource instances" in held["message"]
        assert "configmaps" in remaining["message"] or "pods" in remaining["message"]
        # Everything deletable is gone already.
        for ref, obj in ((SECRETS, "s"), (SERVICES, "svc"), (DEPLOYMENTS, "d"), (PODS, "unscheduled")):
            with pytest.raises(NotFoundError):
                await client.get(ref, obj, namespace=name)
        assert (await client.get(PODS, "running", namespace=name))["metadata"]["deletionTimestamp"]

        # The kubelet finishes its pod and the finalizer's owner lets go: the namespace goes.
        await client.delete(PODS, "running", namespace=name, grace_period_seconds=0)
        await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=name)
        await eventually(lambda: _absent(client, name), message="namespace removed")


async def _absent(client: APIClient, name: str) -> bool:
    return await _get_ns(client, name) is None


async def test_empty_namespace_goes_at_once(client: APIClient) -> None:
    name = f"empty-{secrets.token_hex(3)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    async with controllers_running(client, _namespace_controller):
        await client.delete(NAMESPACES, name)
        await eventually(lambda: _absent(client, name), message="namespace removed")
