"""PodControl: creating and deleting an owner's pods with events, expectations and slow start.

Against :class:`tests.client.fakes.FakeAPI`, which keeps the contract that
matters here: generated names, NotFound, uid preconditions, injected failures.
"""

from __future__ import annotations

from typing import cast

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import APIConnectionError, ConflictError, ForbiddenError
from minik.client.events import EventRecorder
from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.expectations import Expectations
from minik.controllers.podcontrol import PodControl, pod_from_template, pod_name_prefix, slow_start_batch
from tests.client.fakes import FakeAPI

OWNER: Obj = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid"},
}
TEMPLATE: Obj = {
    "metadata": {"name": "ignored", "labels": {"app": "web"}, "annotations": {"a": "1"}},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
}


class Events:
    """Stands in for the EventRecorder: remembers (type, reason, message) per call."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, type: str, reason: str, message: str) -> None:
        assert obj is OWNER  # events are about the owner, not the pod
        self.seen.append((type, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.seen]


def control(api: FakeAPI, events: Events, expectations: Expectations) -> PodControl:
    return PodControl(cast(APIClient, api), cast(EventRecorder, events), expectations)


def test_pod_from_template_copies_the_template_and_points_at_the_owner() -> None:
    pod = pod_from_template(TEMPLATE, OWNER, extra_labels={"hash": "abc"})
    meta = pod["metadata"]
    assert "name" not in meta and meta["generateName"] == "web-" and meta["namespace"] == "ns"
    assert meta["labels"] == {"app": "web", "hash": "abc"} and meta["annotations"] == {"a": "1"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": "rs-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    pod["spec"]["containers"][0]["image"] = "changed"
    assert TEMPLATE["spec"]["containers"][0]["image"] == "nginx"  # a deep copy
    assert pod_from_template(TEMPLATE, OWNER, name="web-0")["metadata"]["name"] == "web-0"


def test_generated_names_leave_room_for_the_random_suffix() -> None:
    assert pod_name_prefix("web") == "web-"
    long = pod_name_prefix("x" * 80)
    assert len(long) == 58 and long.endswith("-")


async def test_slow_start_batches_grow_and_stop_at_failure() -> None:
    calls: list[int] = []

    async def ok(i: int) -> None:
        calls.append(i)

    assert await slow_start_batch(10, 1, ok) == (10, None)
    assert sorted(calls) == list(range(10))

    attempted: list[int] = []

    async def fail_from_3(i: int) -> None:
        attempted.append(i)
        if i >= 3:
            raise RuntimeError("quota")

    successes, error = await slow_start_batch(100, 1, fail_from_3)
    # batches 1, 2 succeed (3 calls); the batch of 4 has failures; nothing after it runs
    assert successes == 3 and isinstance(error, RuntimeError)
    assert len(attempted) == 7


async def test_creates_are_announced_and_expected() -> None:
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    await control(api, events, exp).sync_pods(
        "ns/web", OWNER, create=3, new_pod=lambda _: pod_from_template(TEMPLATE, OWNER)
    )
    created = [o for (plural, _, _), o in api.objects.items() if plural == "pods"]
    assert len(created) == 3
    assert events.reasons() == ["SuccessfulCreate"] * 3
    assert {m for _, _, m in events.seen} == {f"Created pod: {p['metadata']['name']}" for p in created}
    assert exp.pending("ns/web") == (3, 0)  # until the informer reports them


async def test_a_failing_batch_stops_creating_and_takes_back_what_will_never_be_seen() -> None:
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    denied = ForbiddenError(403, "Forbidden", "exceeded quota")
    api.fail("create", *(denied for _ in range(10)))
    # Batch 1 (one call) fails: nothing else is tried.
    with pytest.raises(ForbiddenError):
        await control(api, events, exp).sync_pods(
            "ns/web", OWNER, create=5, new_pod=lambda _: pod_from_template(TEMPLATE, OWNER)
        )
    assert [verb for verb, _, _ in api.calls] == ["create"]
    assert events.seen == [("Warning", "FailedCreate", "Error creating: exceeded quota")]
    assert exp.pending("ns/web") == (0, 0) and exp.satisfied("ns/web")


async def test_deletes_are_announced_expected_and_guarded_by_uid() -> None:
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    keep = api.put(PODS, {"metadata": {"name": "a", "namespace": "ns"}})
    gone = api.put(PODS, {"metadata": {"name": "b", "namespace": "ns"}})
    api.remove(PODS, "b", "ns")
    replaced = api.put(PODS, {"metadata": {"name": "c", "namespace": "ns"}})
    stale = {"metadata": {**replaced["metadata"], "uid": "the-old-pod-c"}}
    seen_first: list[str] = []

    async def before(pod: Obj) -> None:
        seen_first.append(pod["metadata"]["name"])

    with pytest.raises(ConflictError, match="Precondition failed"):
        await control(api, events, exp).sync_pods(
            "ns/web", OWNER, delete=[keep, gone, stale], before_delete=before
        )
    assert sorted(seen_first) == ["a", "b", "c"]
    assert api.stored(PODS, "a", "ns") is None  # deleted
    assert api.stored(PODS, "c", "ns") is not None  # a different pod of the same name: untouched
    assert sorted(events.reasons()) == ["FailedDelete", "SuccessfulDelete"]
    # "a" is still expected (its DELETED event will come); "b" was already gone, "c" failed.
    assert exp.pending("ns/web") == (0, 1)
    exp.deletion_observed("ns/web", "ns/a")
    assert exp.satisfied("ns/web")


async def test_creates_and_deletes_in_one_call_share_one_record() -> None:
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    old = api.put(PODS, {"metadata": {"name": "old", "namespace": "ns"}})
    names = ["node-a", "node-b"]

    def new_pod(i: int) -> Obj:
        pod = pod_from_template(TEMPLATE, OWNER)
        pod["spec"]["nodeName"] = names[i]
        return pod

    await control(api, events, exp).sync_pods("ns/ds", OWNER, create=2, new_pod=new_pod, delete=[old])
    nodes = sorted(
        o["spec"].get("nodeName", "") for (plural, _, _), o in api.objects.items() if plural == "pods"
    )
    assert nodes == ["node-a", "node-b"]
    assert sorted(events.reasons()) == ["SuccessfulCreate", "SuccessfulCreate", "SuccessfulDelete"]
    assert exp.pending("ns/ds") == (2, 1)


async def test_nothing_to_do_leaves_the_expectations_alone() -> None:
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    exp.expect_creations("ns/web", 1)
    await control(api, events, exp).sync_pods("ns/web", OWNER)
    assert exp.pending("ns/web") == (1, 0) and api.calls == [] and events.seen == []


async def test_a_delete_that_never_reached_the_server_is_not_expected() -> None:
    """A lost connection is no deletion to wait for: pending, it would stall the owner 5 minutes."""
    api, events, exp = FakeAPI(), Events(), Expectations(clock=FakeClock())
    pod = api.put(PODS, {"metadata": {"name": "a", "namespace": "ns"}})
    api.fail("delete", APIConnectionError("connection reset"))
    with pytest.raises(APIConnectionError):
        await control(api, events, exp).sync_pods("ns/web", OWNER, delete=[pod])
    assert api.stored(PODS, "a", "ns") is not None
    assert exp.pending("ns/web") == (0, 0) and exp.satisfied("ns/web")
