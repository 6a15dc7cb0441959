"""Controller: the reconcile contract over a work queue, and event → key mapping."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.controller import Controller, Result
from minik.client.errors import ConflictError
from minik.client.informer import Informer
from minik.client.kinds import PODS, REPLICASETS

from .fakes import FakeAPI


def owned_pod(
    name: str, owner: str | None, *, kind: str = "ReplicaSet", controller: bool = True
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": owner,
                "uid": f"uid-{owner}",
                "controller": controller,
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta}


class Script:
    """A reconciler whose answers are scripted per call."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.keys: list[str] = []

    async def __call__(self, key: str) -> Result | None:
        self.keys.append(key)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_success_forgets(clock: FakeClock) -> None:
    reconcile = Script(None)
    ctrl = Controller("t", reconcile, clock=clock)
    ctrl.queue.add_rate_limited("default/a")  # pretend it had failed before
    await clock.advance(1)
    assert ctrl.queue.num_requeues("default/a") == 1
    assert await ctrl.process_one()
    assert reconcile.keys == ["default/a"]
    assert ctrl.queue.num_requeues("default/a") == 0
    assert len(ctrl.queue) == 0 and ctrl.queue.processing == frozenset()


async def test_exception_requeues_with_growing_backoff_then_success_forgets(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    reconcile = Script(RuntimeError("boom"), RuntimeError("boom"), RuntimeError("boom"), None)
    ctrl = Controller("t", reconcile, clock=clock)
    ctrl.enqueue("k")
    with caplog.at_level(logging.ERROR):
        await ctrl.process_one()
    assert "reconcile k failed" in caplog.text and "boom" in caplog.text
    for delay in (0.005, 0.01, 0.02):
        assert len(ctrl.queue) == 0
        await clock.advance(delay * 0.9)
        assert len(ctrl.queue) == 0, "not before its backoff"
        await clock.advance(delay * 0.1)
        assert len(ctrl.queue) == 1
        await ctrl.process_one()
    assert reconcile.keys == ["k"] * 4
    assert ctrl.error_count == 3
    assert ctrl.queue.num_requeues("k") == 0


async def test_conflict_is_requeued_quietly(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    ctrl = Controller(
        "t", Script(ConflictError(409, "Conflict", "the object has been modified")), clock=clock
    )
    ctrl.enqueue("k")
    with caplog.at_level(logging.INFO):
        await ctrl.process_one()
    assert "conflict" in caplog.text
    assert "Traceback" not in caplog.text
    assert ctrl.queue.num_requeues("k") == 1


async def test_requeue_after(clock: FakeClock) -> None:
    ctrl = Controller("t", Script(Result(requeue_after=30), None), clock=clock)
    ctrl.enqueue("k")
    await ctrl.process_one()
    assert ctrl.queue.num_requeues("k") == 0, "requeue_after is not a failure"
    await clock.advance(29.9)
    assert len(ctrl.queue) == 0
    await clock.advance(0.1)
    assert len(ctrl.queue) == 1


async def test_requeue_true_is_rate_limited(clock: FakeClock) -> None:
    ctrl = Controller("t", Script(Result(requeue=True)), clock=clock)
    ctrl.enqueue("k")
    await ctrl.process_one()
    assert ctrl.queue.num_requeues("k") == 1
    await clock.advance(0.005)
    assert len(ctrl.queue) == 1


async def test_workers_never_share_a_key_and_changes_mid_reconcile_get_one_more_pass() -> None:
    active: dict[str, int] = {}
    overlaps: list[str] = []
    passes: dict[str, int] = {}
    gate = asyncio.Event()

    async def reconcile(key: str) -> None:
        if active.get(key):
            overlaps.append(key)
        active[key] = active.get(key, 0) + 1
        passes[key] = passes.get(key, 0) + 1
        if passes[key] == 1:
            await gate.wait()
        else:
            await asyncio.sleep(0)
        active[key] -= 1

    ctrl = Controller("t", reconcile, workers=4)
    run = asyncio.create_task(ctrl.run())
    ctrl.enqueue("a")
    ctrl.enqueue("b")
    for _ in range(5):
        await asyncio.sleep(0)
    for _ in range(10):  # a burst of events for `a` while it is being reconciled
        ctrl.enqueue("a")
    for _ in range(5):
        await asyncio.sleep(0)
    assert passes == {"a": 1, "b": 1}
    gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert overlaps == []
    assert passes == {"a": 2, "b": 1}, "the burst collapses into exactly one more pass"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def test_cancelling_run_lets_the_current_reconcile_finish() -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: str) -> None:
        started.set()
        await asyncio.sleep(0.01)
        finished.append(key)

    ctrl = Controller("t", reconcile, workers=2, shutdown_timeout=5)
    ctrl.enqueue("a")
    run = asyncio.create_task(ctrl.run())
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert finished == ["a"]
    assert ctrl.queue.shutting_down


async def test_shut_down_stops_workers() -> None:
    ctrl = Controller("t", Script(), workers=3)
    run = asyncio.create_task(ctrl.run())
    await asyncio.sleep(0)
    ctrl.shut_down()
    await asyncio.wait_for(run, 1)
    assert not await ctrl.process_one()


def test_enqueue_owner_uses_the_controller_reference() -> None:
    ctrl = Controller("rs", Script())
    handler = ctrl.enqueue_owner("ReplicaSet", api_group="apps")
    handler(owned_pod("p1", "web"))
    handler(owned_pod("p2", "web"))  # same owner: deduplicated
    handler(owned_pod("p3", "db"))
    handler(owned_pod("p4", None))  # no owner
    handler(owned_pod("p5", "job", kind="Job"))  # other kind
    handler(owned_pod("p6", "other", controller=False))  # owner but not controller
    assert [ctrl.queue.get_nowait(), ctrl.queue.get_nowait(), ctrl.queue.get_nowait()] == [
        "default/web",
        "default/db",
        None,
    ]
    core = ctrl.enqueue_owner("ReplicaSet", api_group="")
    core(owned_pod("p1", "web"))
    assert len(ctrl.queue) == 0, "apps/v1 owner does not match the core group"


def test_enqueue_object_and_cluster_scoped_owner() -> None:
    ctrl = Controller("t", Script())
    ctrl.enqueue_object({"metadata": {"name": "n1"}})
    ctrl.enqueue_object({"metadata": {"name": "a", "namespace": "x"}})
    ctrl.enqueue_object({"metadata": {}})  # logged, ignored
    handler = ctrl.enqueue_owner("Node", owner_namespaced=False)
    handler(
        {
            "metadata": {
                "name": "lease",
                "namespace": "kube-node-lease",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n2", "controller": True}],
            }
        }
    )
    assert [ctrl.queue.get_nowait() for _ in range(3)] == ["n1", "x/a", "n2"]


async def test_run_wires_informers_to_reconcile() -> None:
    api = FakeAPI()
    api.put(REPLICASETS, {"metadata": {"name": "web", "namespace": "default"}})
    replicasets = Informer(api, REPLICASETS)
    pods = Informer(api, PODS)
    seen: list[str] = []
    synced_at_first_reconcile: list[bool] = []

    async def reconcile(key: str) -> None:
        synced_at_first_reconcile.append(pods.has_synced and replicasets.has_synced)
        seen.append(key)

    ctrl = Controller("rs", reconcile, workers=2)
    ctrl.watch(replicasets)
    ctrl.watch_owned(pods, "ReplicaSet")
    replicasets.start()
    pods.start()
    run = asyncio.create_task(ctrl.run(wait_for=[replicasets, pods]))
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == ["default/web"]
    assert synced_at_first_reconcile == [True]
    api.put(PODS, owned_pod("p1", "web"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == ["default/web", "default/web"]
    # an adoption: the pod's controller changes from web to api — both owners hear of it
    api.put(REPLICASETS, {"metadata": {"name": "api", "namespace": "default"}})
    for _ in range(20):
        await asyncio.sleep(0)
    seen.clear()
    api.put(PODS, owned_pod("p1", "api"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert sorted(seen) == ["default/api", "default/web"]
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await pods.stop()
    await replicasets.stop()
