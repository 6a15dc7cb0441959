"""Node lifecycle and taint eviction: pure rules, then node loss → taint → eviction → replacement."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.errors import NotFoundError
from minik.client.kinds import NODES, PODS, REPLICASETS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.evictionlimits import EvictionLimits
from minik.controllers.nodelifecycle import (
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    NodeLifecycleController,
    TaintEvictionController,
    desired_taints,
    eviction_delay,
)
from minik.controllers.replicaset import ReplicaSetController
from tests.conftest import APIServerProcess

from .kubelet_stub import KubeletStub, controllers_running, eventually, pod_manifest

UNREACHABLE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": "2024-01-01T00:00:00Z"}


# -- unit ----------------------------------------------------------------------------------------


def _pod_with(*tolerations: Obj) -> Obj:
    return {"spec": {"tolerations": list(tolerations)}}


def test_eviction_delay() -> None:
    taints = [UNREACHABLE]
    assert eviction_delay(_pod_with(), taints) == 0  # not tolerated: now
    assert (
        eviction_delay(_pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists"}), taints) is None
    )  # forever
    both = _pod_with(
        {"key": TAINT_UNREACHABLE, "operator": "Exists", "tolerationSeconds": 300},
        {"operator": "Exists", "tolerationSeconds": 20},
    )
    assert eviction_delay(both, taints) == 300  # only the first matching toleration counts, as upstream
    not_ready = {"key": TAINT_NOT_READY, "effect": "NoExecute"}
    per_taint = _pod_with(
        {"key": TAINT_UNREACHABLE, "operator": "Exists", "tolerationSeconds": 300},
        {"key": TAINT_NOT_READY, "operator": "Exists", "tolerationSeconds": 20},
    )
    assert eviction_delay(per_taint, [UNREACHABLE, not_ready]) == 20  # the smallest of those used
    assert eviction_delay(_pod_with(), []) is None  # no NoExecute taints: stay
    assert eviction_delay(_pod_with({"operator": "Exists", "tolerationSeconds": -5}), taints) == 0
    other = {"key": "dedicated", "effect": "NoExecute"}
    assert (
        eviction_delay(_pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists"}), [UNREACHABLE, other]) == 0
    )


def _node(ready: str | None, taints: list[Obj] | None = None) -> Obj:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"spec": {"taints": taints or []}, "status": {"conditions": conditions}}


def test_taints_follow_the_ready_condition() -> None:
    now = "2024-05-05T00:00:00Z"
    assert desired_taints(_node("True"), now) == []
    keep = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    unknown = desired_taints(_node("Unknown", [keep]), now)
    assert unknown == [
        keep,
        {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": now},
        {"key": TAINT_UNREACHABLE, "effect": "NoSchedule"},
    ]
    # Already tainted: timeAdded is kept, nothing is added twice.
    assert desired_taints(_node("Unknown", unknown), "later") == unknown
    # Never reported at all counts as Unknown; a node reporting NotReady gets not-ready taints.
    assert {t["key"] for t in desired_taints(_node(None), now)} == {TAINT_UNREACHABLE}
    assert {t["key"] for t in desired_taints(_node("False", unknown), now)} == {"dedicated", TAINT_NOT_READY}
    assert desired_taints(_node("True", unknown), now) == [keep]


# -- integration ---------------------------------------------------------------------------------


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


GRACE = 1.5


def _lifecycle(c: APIClient, f: Any, r: Any) -> NodeLifecycleController:
    # These tests are about taints and evictions, not zone limits: nodes other tests left
    # behind (silent, so soon Unknown) must not make the shared cluster's one zone look
    # "mostly down" and stop evictions. The zone rules have their own tests below.
    limits = EvictionLimits(unhealthy_zone_threshold=1.01)
    return NodeLifecycleController(c, f, r, grace_period=GRACE, limits=limits)


def _eviction(c: APIClient, f: Any, r: Any) -> TaintEvictionController:
    return TaintEvictionController(c, f, r)


def _toleration(seconds: int | None = None, **extra: Any) -> Obj:
    tol: Obj = {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", **extra}
    if seconds is not None:
        tol["tolerationSeconds"] = seconds
    return tol


async def _node_state(client: APIClient, name: str) -> tuple[str, set[str]]:
    node = await client.get(NODES, name)
    ready = next((c["status"] for c in node["status"].get("conditions", []) if c["type"] == "Ready"), "")
    return ready, {f"{t['key']}:{t['effect']}" for t in node.get("spec", {}).get("taints") or []}


async def _pod(client: APIClient, ns: str, name: str) -> Obj | None:
    try:
        return await client.get(PODS, name, namespace=ns)
    except NotFoundError:
        return None


async def _terminating(client: APIClient, ns: str, name: str) -> bool:
    pod = await _pod(client, ns, name)
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))


@pytest.mark.integration
async def test_node_loss_taints_and_evicts_then_recovers(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    lost, healthy = f"lost-{secrets.token_hex(3)}", f"ok-{secrets.token_hex(3)}"
    # A zone of their own: nodes other tests left behind (silent, untainted) queue in the
    # shared zone's eviction rate limiter (0.1 nodes/s) and would delay this node's taint.
    zone = {"topology.kubernetes.io/zone": f"zone-{secrets.token_hex(3)}"}
    try:
        await kubelet.register_node(lost, labels=zone)
        await kubelet.register_node(healthy, labels=zone)
        pods = {
            # A toleration that does not match (wrong value): evicted at once.
            "intolerant": [
                {"key": TAINT_UNREACHABLE, "operator": "Equal", "value": "x", "effect": "NoExecute"}
            ],
            "short": [_toleration(1)],
            "forever": [_toleration()],
            "default": None,  # the API server's 300 s default
        }
        for name, tolerations in pods.items():
            await client.create(PODS, pod_manifest(name, ns, node=lost, tolerations=tolerations))
            await kubelet.set_pod_status(ns, name, ready=True)
        await client.create(PODS, pod_manifest("elsewhere", ns, node=healthy, tolerations=[_toleration(0)]))

        async with controllers_running(client, _lifecycle, _eviction):
            assert await _node_state(client, lost) == ("True", set())

            await kubelet.stop_heartbeat(lost)  # pull the plug
            await eventually(
                lambda: _has_state(
                    client,
                    lost,
                    "Unknown",
                    {f"{TAINT_UNREACHABLE}:NoExecute", f"{TAINT_UNREACHABLE}:NoSchedule"},
                ),
                timeout=GRACE + 10,
                message="lost node Unknown and tainted",
            )
            node = await client.get(NODES, lost)
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            assert ready["reason"] == "NodeStatusUnknown"

            await eventually(lambda: _terminating(client, ns, "intolerant"), message="intolerant pod evicted")
            evicted = await _pod(client, ns, "intolerant")
            assert evicted is not None
            assert any(
                c["type"] == "DisruptionTarget" and c["reason"] == "DeletionByTaintManager"
                for c in evicted["status"]["conditions"]
            )
            # The lost node's pods are marked not ready (Services drop them).
            assert all(
                c["status"] == "False" for c in evicted["status"]["conditions"] if c["type"] == "Ready"
            )
            await eventually(lambda: _terminating(client, ns, "short"), message="short toleration runs out")
            for name in ("forever", "default", "elsewhere"):
                pod = await _pod(client, ns, name)
                assert pod is not None and not pod["metadata"].get("deletionTimestamp"), name
            # Heartbeats kept flowing there: still Ready and untainted, well past the grace period.
            assert await _node_state(client, healthy) == ("True", set())

            # The kubelet comes back: Ready again, taints gone, evicted pods finished.
            kubelet.start_heartbeat(lost)
            await eventually(lambda: _has_state(client, lost, "True", set()), message="node recovered")
            await eventually(lambda: _absent(client, ns, "intolerant"), message="evicted pod finished")
    finally:
        await kubelet.close()
        for node_name in (lost, healthy):
            with contextlib.suppress(NotFoundError):
                await client.delete(NODES, node_name)


async def _has_state(client: APIClient, node: str, ready: str, taints: set[str]) -> bool:
    return await _node_state(client, node) == (ready, taints)


async def _absent(client: APIClient, ns: str, name: str) -> bool:
    return await _pod(client, ns, name) is None


@pytest.mark.integration
async def test_node_loss_pods_are_replaced_elsewhere(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    first, second = f"first-{secrets.token_hex(3)}", f"second-{secrets.token_hex(3)}"
    alive = [first]
    try:
        await kubelet.register_node(first)
        await kubelet.register_node(second)
        kubelet.start_scheduler(lambda: list(alive), namespace=ns)
        template = {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "tolerations": [_toleration(1)]},
        }
        await client.create(
            REPLICASETS,
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
            },
        )

        def make_rs(c: APIClient, f: Any, r: Any) -> Any:
            return ReplicaSetController(c, f, r)

        async with controllers_running(client, _lifecycle, _eviction, make_rs):
            await eventually(
                lambda: _ready_on(client, ns, first, 2), message="2 ready pods on the first node"
            )
            alive[:] = [second]  # the scheduler only knows the healthy node now
            await kubelet.stop_heartbeat(first)
            await eventually(
                lambda: _ready_on(client, ns, second, 2),
                timeout=GRACE + 20,
                message="2 replacement pods ready on the second node",
            )
    finally:
        await kubelet.close()
        for node in (first, second):
            with contextlib.suppress(NotFoundError):
                await client.delete(NODES, node)


async def _ready_on(client: APIClient, ns: str, node: str, count: int) -> bool:
    pods = (await client.list(PODS, namespace=ns, field_selector=f"spec.nodeName={node}"))["items"]
    ready = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    ]
    return len(ready) == count
