"""EventRecorder: Event shape, aggregation of repeats, fire-and-forget writing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import ServiceUnavailableError
from minik.client.events import EventRecorder
from minik.client.kinds import EVENTS

from .fakes import FakeAPI

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "uid-pod", "resourceVersion": "42"},
}


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def events(api: FakeAPI) -> list[dict[str, Any]]:
    return [o for (plural, _, _), o in api.objects.items() if plural == "events"]


async def test_first_event_is_created_with_the_full_shape(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "minik-scheduler", "node-a", clock=clock)
    recorder.event(POD, "Normal", "Scheduled", "Successfully assigned shop/web-1 to n1")
    await recorder.flush()
    [ev] = events(api)
    assert ev["metadata"]["namespace"] == "shop"
    assert ev["metadata"]["name"].startswith("web-1.")
    int(ev["metadata"]["name"].split(".", 1)[1], 16)  # hex nanoseconds suffix
    assert ev["involvedObject"] == {
        "kind": "Pod",
        "namespace": "shop",
        "name": "web-1",
        "uid": "uid-pod",
        "apiVersion": "v1",
        "resourceVersion": "42",
    }
    assert ev["type"] == "Normal"
    assert ev["reason"] == "Scheduled"
    assert ev["message"] == "Successfully assigned shop/web-1 to n1"
    assert ev["source"] == {"component": "minik-scheduler", "host": "node-a"}
    assert ev["count"] == 1
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2024-01-01T00:00:00Z"
    await recorder.close()


async def test_repeats_are_aggregated_by_patch(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock)
    recorder.event(POD, "Warning", "FailedCreate", "quota exceeded")
    await recorder.flush()
    for _ in range(3):
        await clock.advance(10)
        recorder.event(POD, "Warning", "FailedCreate", "quota exceeded")
    await recorder.flush()
    [ev] = events(api)
    assert ev["count"] == 4
    assert ev["firstTimestamp"] == "2024-01-01T00:00:00Z"
    assert ev["lastTimestamp"] == "2024-01-01T00:00:30Z"
    assert [c[0] for c in api.calls] == ["create", "patch", "patch", "patch"]
    await recorder.close()


async def test_different_reason_message_or_object_is_a_new_event(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock)
    other = {**POD, "metadata": {**POD["metadata"], "name": "web-2", "uid": "uid-2"}}  # type: ignore[dict-item]
    recorder.event(POD, "Warning", "FailedCreate", "quota exceeded")
    recorder.event(POD, "Warning", "FailedCreate", "something else")
    recorder.event(POD, "Warning", "OtherReason", "quota exceeded")
    recorder.event(POD, "Normal", "FailedCreate", "quota exceeded")
    recorder.event(other, "Warning", "FailedCreate", "quota exceeded")
    await recorder.flush()
    assert len(events(api)) == 5
    assert len({e["metadata"]["name"] for e in events(api)}) == 5, "names never collide"
    await recorder.close()


async def test_repeat_after_the_window_is_a_new_event(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock, aggregation_window=600)
    recorder.event(POD, "Normal", "Pulled", "image pulled")
    await recorder.flush()
    await clock.advance(601)
    recorder.event(POD, "Normal", "Pulled", "image pulled")
    await recorder.flush()
    assert sorted(e["count"] for e in events(api)) == [1, 1]
    await recorder.close()


async def test_event_deleted_meanwhile_is_recreated(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock)
    recorder.event(POD, "Normal", "Pulled", "image pulled")
    await recorder.flush()
    [ev] = events(api)
    api.remove(EVENTS, ev["metadata"]["name"], "shop")  # TTL expired
    recorder.event(POD, "Normal", "Pulled", "image pulled")
    recorder.event(POD, "Normal", "Pulled", "image pulled")
    await recorder.flush()
    [again] = events(api)
    assert again["count"] == 2


async def test_cluster_scoped_objects_get_events_in_default(api: FakeAPI, clock: FakeClock) -> None:
    recorder = EventRecorder(api, "kubelet", "n1", clock=clock)
    recorder.eventf(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u"}},
        "Normal",
        "NodeReady",
        "Node %s status is now: %s",
        "n1",
        "NodeReady",
    )
    await recorder.flush()
    [ev] = events(api)
    assert ev["metadata"]["namespace"] == "default"
    assert ev["message"] == "Node n1 status is now: NodeReady"
    assert "namespace" not in ev["involvedObject"]


async def test_errors_are_logged_not_raised(
    api: FakeAPI, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock)
    api.fail("create", ServiceUnavailableError(503, "ServiceUnavailable", "etcd down"))
    with caplog.at_level(logging.WARNING):
        recorder.event(POD, "Normal", "A", "b")
        await recorder.flush()
    assert "cannot write event" in caplog.text
    recorder.event(POD, "Normal", "A", "b")  # the recorder keeps working
    await recorder.flush()
    assert len(events(api)) == 1


async def test_event_never_blocks_the_caller(api: FakeAPI, clock: FakeClock) -> None:
    api.blockers["create"] = gate = asyncio.Event()  # the API server hangs
    recorder = EventRecorder(api, "ctrl", clock=clock, max_queued=2)
    for i in range(5):
        recorder.event(POD, "Normal", "R", f"m{i}")  # returns at once, every time
    await clock.settle()
    assert recorder.dropped >= 2, "a full queue drops instead of blocking"
    gate.set()
    await recorder.flush()
    assert 1 <= len(events(api)) <= 3
    await recorder.close()
    recorder.event(POD, "Normal", "R", "after close")  # ignored, no error


def test_type_is_validated(api: FakeAPI) -> None:
    recorder = EventRecorder(api, "ctrl")
    with pytest.raises(ValueError):
        recorder.event(POD, "Error", "R", "m")


async def test_spam_filter_lets_25_events_per_object_through_then_one_per_five_minutes(
    api: FakeAPI, clock: FakeClock
) -> None:
    recorder = EventRecorder(api, "ctrl", clock=clock)
    other = {**POD, "metadata": {**POD["metadata"], "name": "web-2", "uid": "uid-2"}}  # type: ignore[dict-item]
    for i in range(40):
        recorder.event(POD, "Normal", "SuccessfulCreate", f"Created pod: web-1-{i}")
    recorder.event(other, "Normal", "SuccessfulCreate", "a bucket of its own")
    await recorder.flush()
    assert len(events(api)) == 26 and recorder.spam_filtered == 15
    await clock.advance(299)
    recorder.event(POD, "Normal", "SuccessfulCreate", "still empty")
    await clock.advance(2)
    recorder.event(POD, "Normal", "SuccessfulCreate", "one token back")
    await recorder.flush()
    assert [e["message"] for e in events(api)].count("one token back") == 1
    assert "still empty" not in [e["message"] for e in events(api)]
    await recorder.close()


async def test_dropped_events_are_logged_first_and_then_every_hundredth(
    api: FakeAPI, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    api.blockers["create"] = gate = asyncio.Event()
    recorder = EventRecorder(api, "ctrl", clock=clock, max_queued=1, spam_burst=10_000)
    recorder.event(POD, "Normal", "R", "queued")
    await clock.settle()  # the writer takes it and hangs on the API server
    with caplog.at_level(logging.WARNING, logger="minik.client.events"):
        for i in range(251):
            recorder.event(POD, "Normal", "R", f"m{i}")
    warnings = [r.getMessage() for r in caplog.records if "event queue full" in r.getMessage()]
    assert recorder.dropped == 250  # one more fitted in the queue
    assert [w.rsplit("(", 1)[1] for w in warnings] == [
        "1 dropped so far)",
        "100 dropped so far)",
        "200 dropped so far)",
    ]
    gate.set()
    await recorder.close()
