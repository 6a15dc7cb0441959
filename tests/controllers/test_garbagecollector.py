"""The garbage collector on a real API server: Background, Foreground and Orphan cascades."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import CONFIGMAPS, DEPLOYMENTS, PODS, REPLICASETS, ResourceRef
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.garbagecollector import GarbageCollector
from tests.conftest import APIServerProcess

from .kubelet_stub import controllers_running, eventually, owner_ref, pod_manifest

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


def _gc(c: APIClient, f: Any, r: Any) -> GarbageCollector:
    return GarbageCollector(c, f, r)


def _cm(name: str, ns: str, *owners: Obj) -> Obj:
    meta: Obj = {"name": name, "namespace": ns}
    if owners:
        meta["ownerReferences"] = list(owners)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}}


async def _exists(client: APIClient, ref: ResourceRef, ns: str, name: str) -> Obj | None:
    try:
        return await client.get(ref, name, namespace=ns)
    except NotFoundError:
        return None


async def _gone(client: APIClient, ref: ResourceRef, ns: str, *names: str) -> bool:
    for name in names:
        if await _exists(client, ref, ns, name) is not None:
            return False
    return True


async def test_background_deletes_dependents_level_by_level(client: APIClient, ns: str) -> None:
    async with controllers_running(client, _gc):
        parent = await client.create(CONFIGMAPS, _cm("parent", ns))
        child = await client.create(CONFIGMAPS, _cm("child", ns, owner_ref(parent)))
        await client.create(CONFIGMAPS, _cm("grandchild", ns, owner_ref(child)))
        keeper = await client.create(CONFIGMAPS, _cm("keeper", ns))
        # Two owners, one of which goes: only that reference is dropped.
        await client.create(
            CONFIGMAPS,
            _cm("shared", ns, owner_ref(parent, controller=False), owner_ref(keeper, controller=False)),
        )
        await client.delete(CONFIGMAPS, "parent", namespace=ns, propagation_policy="Background")
        await eventually(
            lambda: _gone(client, CONFIGMAPS, ns, "parent", "child", "grandchild"),
            message="parent, child and grandchild deleted",
        )
        shared = await eventually(
            lambda: _refs_if(client, ns, "shared", lambda refs: [r["name"] for r in refs] == ["keeper"]),
            message="the dangling reference removed from 'shared'",
        )
        assert shared


async def _refs_if(client: APIClient, ns: str, name: str, predicate: Any) -> Obj | None:
    obj = await _exists(client, CONFIGMAPS, ns, name)
    if obj is None:
        return None
    return obj if predicate(obj["metadata"].get("ownerReferences") or []) else None


async def test_dangling_references_are_collected_but_fresh_owners_respected(
    client: APIClient, ns: str
) -> None:
    async with controllers_running(client, _gc):
        # Owner and dependent created back to back: the GC may see the dependent before
        # its informer sees the owner, and must check with the API server, not delete.
        owner = await client.create(CONFIGMAPS, _cm("owner", ns))
        await client.create(CONFIGMAPS, _cm("fresh", ns, owner_ref(owner)))
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
        await client.create(CONFIGMAPS, _cm("orphan", ns, ghost))
        await eventually(
            lambda: _gone(client, CONFIGMAPS, ns, "orphan"), message="dangling dependent collected"
        )
        assert await _exists(client, CONFIGMAPS, ns, "fresh") is not None

        # A name re-used by a different object (another uid) is not the owner either.
        await client.delete(CONFIGMAPS, "owner", namespace=ns, propagation_policy="Orphan")
        await eventually(lambda: _gone(client, CONFIGMAPS, ns, "owner"), message="owner orphaned away")
        await client.create(CONFIGMAPS, _cm("owner", ns))
        stale = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
        await client.create(CONFIGMAPS, _cm("stale-ref", ns, stale))
        await eventually(lambda: _gone(client, CONFIGMAPS, ns, "stale-ref"), message="uid mismatch collected")


async def test_foreground_owner_waits_for_blocking_dependents(client: APIClient, ns: str) -> None:
    async with controllers_running(client, _gc):
        parent = await client.create(CONFIGMAPS, _cm("parent", ns))
        await client.create(CONFIGMAPS, _cm("child-a", ns, owner_ref(parent)))
        await client.create(CONFIGMAPS, _cm("child-b", ns, owner_ref(parent, block=False)))
        # A pod on a node terminates gracefully: its deletion waits for the kubelet.
        await client.create(PODS, pod_manifest("slow", ns, node="node-gc", owner=owner_ref(parent)))

        await client.delete(CONFIGMAPS, "parent", namespace=ns, propagation_policy="Foreground")
        marked = await client.get(CONFIGMAPS, "parent", namespace=ns)
        assert marked["metadata"]["deletionTimestamp"]
        assert "foregroundDeletion" in marked["metadata"]["finalizers"]

        await eventually(
            lambda: _gone(client, CONFIGMAPS, ns, "child-a", "child-b"), message="children deleted"
        )
        pod = await eventually(lambda: _terminating(client, ns, "slow"), message="pod terminating")
        assert pod
        # The owner stays while a blocking dependent (the terminating pod) exists.
        assert await _exists(client, CONFIGMAPS, ns, "parent") is not None

        # The "kubelet" finishes the pod: now the owner goes too.
        await client.delete(PODS, "slow", namespace=ns, grace_period_seconds=0)
        await eventually(lambda: _gone(client, CONFIGMAPS, ns, "parent"), message="owner deleted last")


async def _terminating(client: APIClient, ns: str, name: str) -> Obj | None:
    pod = await _exists(client, PODS, ns, name)
    return pod if pod is not None and pod["metadata"].get("deletionTimestamp") else None


async def test_orphan_keeps_dependents_and_drops_references(client: APIClient, ns: str) -> None:
    async with controllers_running(client, _gc):
        parent = await client.create(CONFIGMAPS, _cm("parent", ns))
        for i in range(3):
            await client.create(CONFIGMAPS, _cm(f"child-{i}", ns, owner_ref(parent)))
        await client.delete(CONFIGMAPS, "parent", namespace=ns, propagation_policy="Orphan")
        await eventually(lambda: _gone(client, CONFIGMAPS, ns, "parent"), message="owner deleted")
        for i in range(3):
            child = await client.get(CONFIGMAPS, f"child-{i}", namespace=ns)
            assert not child["metadata"].get("ownerReferences")


def _labels(app: str) -> Obj:
    return {"matchLabels": {"app": app}}


def _template(app: str) -> Obj:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def _deployment_tree(client: APIClient, ns: str, app: str) -> tuple[Obj, Obj, list[str]]:
    deploy = await client.create(
        DEPLOYMENTS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns},
            "spec": {"replicas": 0, "selector": _labels(app), "template": _template(app)},
        },
    )
    rs = await client.create(
        REPLICASETS,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": f"{app}-abc", "namespace": ns, "ownerReferences": [owner_ref(deploy)]},
            "spec": {"replicas": 0, "selector": _labels(app), "template": _template(app)},
        },
    )
    pods = []
    for i in range(2):
        pod = await client.create(
            PODS, pod_manifest(f"{app}-abc-{i}", ns, labels={"app": app}, owner=owner_ref(rs))
        )
        pods.append(pod["metadata"]["name"])
    return deploy, rs, pods


async def test_deleting_a_deployment_removes_its_replicasets_and_pods(client: APIClient, ns: str) -> None:
    async with controllers_running(client, _gc):
        _, _, pods = await _deployment_tree(client, ns, "bg")
        await client.delete(DEPLOYMENTS, "bg", namespace=ns)
        await eventually(lambda: _gone(client, REPLICASETS, ns, "bg-abc"), message="replicaset deleted")
        await eventually(lambda: _gone(client, PODS, ns, *pods), message="pods deleted")

        # Foreground through two levels: the Deployment is the last to go.
        _, _, pods = await _deployment_tree(client, ns, "fg")
        await client.delete(DEPLOYMENTS, "fg", namespace=ns, propagation_policy="Foreground")
        await eventually(lambda: _gone(client, DEPLOYMENTS, ns, "fg"), message="deployment deleted")
        assert await _gone(client, REPLICASETS, ns, "fg-abc")
        assert await _gone(client, PODS, ns, *pods)
