"""Informer: list → watch → relist-and-diff, against the in-memory FakeAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import GoneError, ServiceUnavailableError
from minik.client.informer import Backoff, Informer, SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import NODES, PODS, SERVICES
from minik.client.rest import WatchEvent

from .fakes import FakeAPI


def pod(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": dict(spec)}


class Recorder:
    """Collects handler calls as compact tuples."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def on_add(self, obj: dict[str, Any]) -> None:
        self.calls.append(("add", obj["metadata"]["name"]))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.calls.append(
            (
                "update",
                new["metadata"]["name"],
                old["metadata"]["resourceVersion"],
                new["metadata"]["resourceVersion"],
            )
        )

    def on_delete(self, obj: dict[str, Any]) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))

    def attach(self, informer: Informer) -> None:
        informer.add_event_handler(on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete)

    def take(self) -> list[tuple[str, ...]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def running(api: FakeAPI, clock: FakeClock) -> AsyncIterator[tuple[Informer, Recorder]]:
    api.put(PODS, pod("a"))
    api.put(PODS, pod("b"))
    api.put(PODS, pod("c", "other"))
    informer = Informer(api, PODS, clock=clock, backoff=Backoff(jitter=0))
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    assert await informer.wait_for_sync(timeout=5)
    await clock.settle()
    yield informer, recorder
    await informer.stop()


async def test_initial_list_emits_adds_and_syncs(running: tuple[Informer, Recorder], api: FakeAPI) -> None:
    informer, recorder = running
    assert informer.has_synced
    assert sorted(recorder.take()) == [("add", "a"), ("add", "b"), ("add", "c")]
    assert sorted(informer.store.list_keys()) == ["default/a", "default/b", "other/c"]
    cached = informer.get("default/a")
    assert cached is not None
    assert cached["kind"] == "Pod" and cached["apiVersion"] == "v1", "list items get their kind filled in"
    assert informer.resource_version == str(api.rv)
    assert api.watch_calls[-1]["resource_version"] == str(api.rv)
    assert api.watch_calls[-1]["bookmarks"] is True
    assert 300 <= api.watch_calls[-1]["timeout_seconds"] < 600


async def test_watch_events_reach_store_and_handlers(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    old_rv = informer.store.get_by_key("default/a")["metadata"]["resourceVersion"]  # type: ignore[index]
    api.put(PODS, pod("d"))
    api.put(PODS, pod("a", nodeName="n1"))
    api.remove(PODS, "b", "default")
    await clock.settle()
    a = informer.get("default/a")
    assert a is not None and a["spec"]["nodeName"] == "n1"
    assert recorder.take() == [
        ("add", "d"),
        ("update", "a", old_rv, a["metadata"]["resourceVersion"]),
        ("delete", "b"),
    ]
    assert informer.get("default/b") is None
    assert informer.resource_version == str(api.rv)


async def test_gone_during_watch_relists_and_emits_exact_difference(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    a_old_rv = informer.store.get_by_key("default/a")["metadata"]["resourceVersion"]  # type: ignore[index]
    c_before = informer.get("other/c")

    api.silenced = True  # changes happen, but this watcher never hears of them
    api.put(PODS, pod("new"))  # added in the gap
    api.put(PODS, pod("a", nodeName="n1"))  # modified in the gap
    api.remove(PODS, "b", "default")  # deleted in the gap
    # c unchanged
    api.compact()
    api.silenced = False
    api.expire_watches()  # ERROR event with a 410 Status
    await clock.settle()

    assert informer.list_count == 2
    a_new_rv = api.stored(PODS, "a", "default")["metadata"]["resourceVersion"]  # type: ignore[index]
    assert sorted(recorder.take()) == sorted(
        [("add", "new"), ("update", "a", a_old_rv, a_new_rv), ("delete", "b")]
    )
    assert informer.get("other/c") is c_before, "unchanged objects are neither re-emitted nor replaced"
    assert sorted(informer.store.list_keys()) == ["default/a", "default/new", "other/c"]
    # and it watches again from the new list's resourceVersion
    api.put(PODS, pod("after"))
    await clock.settle()
    assert recorder.take() == [("add", "after")]


async def test_http_410_on_rewatch_after_broken_stream_relists(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    api.break_watches()
    await clock.settle()
    # while disconnected: a change, then compaction of everything before it
    api.remove(PODS, "a", "default")
    api.compact()
    await clock.advance(1.0)  # first backoff step is 0.8 s
    assert informer.list_count == 2
    assert recorder.take() == [("delete", "a")]


async def test_broken_stream_rewatches_from_last_rv_without_relisting(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    rv_before = informer.resource_version
    api.break_watches()
    await clock.settle()
    api.put(PODS, pod("while-down"))  # still in the server's history
    assert recorder.take() == []
    watches = len(api.watch_calls)
    await clock.advance(0.5)
    assert len(api.watch_calls) == watches, "waits for the backoff"
    await clock.advance(0.5)
    assert api.watch_calls[-1]["resource_version"] == rv_before
    assert informer.list_count == 1
    assert recorder.take() == [("add", "while-down")]


async def test_uid_change_in_gap_is_delete_then_add(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    _, recorder = running
    recorder.take()
    api.silenced = True
    api.remove(PODS, "a", "default")
    api.put(PODS, pod("a"))  # same name, new uid
    api.compact()
    api.silenced = False
    api.expire_watches()
    await clock.settle()
    assert recorder.take() == [("delete", "a"), ("add", "a")]


async def test_bookmark_advances_resource_version(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    api.rv += 50  # other resources changed meanwhile
    rv = api.bookmark()
    await clock.settle()
    assert informer.resource_version == rv
    assert recorder.take() == []
    api.end_watches()  # the server's timeoutSeconds elapsed: re-watch from the bookmark
    await clock.settle()
    await clock.advance(1.0)
    assert api.watch_calls[-1]["resource_version"] == rv
    assert informer.list_count == 1


async def test_normal_watch_end_rewatches_at_once_after_events(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    _ = running
    api.put(PODS, pod("x"))
    await clock.settle()
    watches = len(api.watch_calls)
    api.end_watches()
    await clock.settle()
    assert len(api.watch_calls) == watches + 1
    assert api.watch_calls[-1]["resource_version"] == str(api.rv)


async def test_server_error_on_list_retries_with_backoff(api: FakeAPI, clock: FakeClock) -> None:
    api.put(PODS, pod("a"))
    api.fail("list", ServiceUnavailableError(503, "ServiceUnavailable", "etcd unavailable"))
    informer = Informer(api, PODS, clock=clock, backoff=Backoff(jitter=0))
    informer.start()
    await clock.settle()
    assert not informer.has_synced
    await clock.advance(0.8)
    assert informer.has_synced
    await informer.stop()


async def test_handler_errors_do_not_stop_the_informer(api: FakeAPI, clock: FakeClock) -> None:
    informer = Informer(api, PODS, clock=clock)
    seen: list[str] = []

    def broken(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_event_handler(on_add=broken)
    informer.add_event_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    informer.start()
    await informer.wait_for_sync()
    api.put(PODS, pod("a"))
    await clock.settle()
    assert seen == ["a"]
    await informer.stop()


async def test_late_handler_gets_existing_objects_as_adds(running: tuple[Informer, Recorder]) -> None:
    informer, _ = running
    late = Recorder()
    late.attach(informer)
    assert sorted(late.take()) == [("add", "a"), ("add", "b"), ("add", "c")]


async def test_resync_redelivers_updates(api: FakeAPI, clock: FakeClock) -> None:
    api.put(PODS, pod("a"))
    informer = Informer(api, PODS, clock=clock, resync_period=30)
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    await informer.wait_for_sync()
    await clock.settle()
    assert recorder.take() == [("add", "a")]
    await clock.advance(29)
    assert recorder.take() == []
    await clock.advance(1)
    rv = api.stored(PODS, "a", "default")["metadata"]["resourceVersion"]  # type: ignore[index]
    assert recorder.take() == [("update", "a", rv, rv)]
    await informer.stop()


async def test_paged_initial_list(api: FakeAPI, clock: FakeClock) -> None:
    for i in range(5):
        api.put(PODS, pod(f"p{i}"))
    informer = Informer(api, PODS, clock=clock, page_size=2)
    informer.start()
    await informer.wait_for_sync()
    assert len(informer.store) == 5
    assert [c["limit"] for c in api.list_calls] == [2, 2, 2]
    assert api.list_calls[1]["continue"]
    await informer.stop()


async def test_expired_continue_token_falls_back_to_full_list(api: FakeAPI, clock: FakeClock) -> None:
    for i in range(5):
        api.put(PODS, pod(f"p{i}"))
    api.expire_continue_tokens = True
    informer = Informer(api, PODS, clock=clock, page_size=2)
    informer.start()
    await informer.wait_for_sync()
    assert len(informer.store) == 5
    assert api.list_calls[-1] == {"namespace": None, "limit": None, "continue": None}
    await informer.stop()


async def test_namespace_and_selector_scoping(api: FakeAPI, clock: FakeClock) -> None:
    api.put(PODS, {"metadata": {"name": "a", "namespace": "x", "labels": {"app": "web"}}})
    api.put(PODS, {"metadata": {"name": "b", "namespace": "x", "labels": {"app": "db"}}})
    api.put(PODS, {"metadata": {"name": "c", "namespace": "y", "labels": {"app": "web"}}})
    informer = Informer(api, PODS, namespace="x", label_selector="app=web", clock=clock)
    informer.start()
    await informer.wait_for_sync()
    assert informer.store.list_keys() == ["x/a"]
    await informer.stop()


async def test_repeated_gone_right_after_list_backs_off(api: FakeAPI, clock: FakeClock) -> None:
    informer = Informer(api, PODS, clock=clock, backoff=Backoff(jitter=0))
    informer.start()
    await informer.wait_for_sync()
    await clock.settle()
    # a broken server: every watch answers 410
    api.fail("watch", *[GoneError(410, "Expired", "too old") for _ in range(10)])
    api.end_watches()
    lists = informer.list_count
    await clock.advance(2.0)
    assert informer.list_count - lists <= 3, "must not spin relisting"
    await clock.advance(200)
    assert informer.list_count - lists == 10  # every 410 answered by one relist, with growing pauses
    assert informer.has_synced
    await informer.stop()


async def test_shared_informer_factory(api: FakeAPI, clock: FakeClock) -> None:
    api.put(PODS, pod("a"))
    api.put(NODES, {"metadata": {"name": "n1"}})
    factory = SharedInformerFactory(api, clock=clock)
    pods = factory.informer(PODS)
    assert factory.informer("pods") is pods
    assert factory.informer(PODS, namespace="x") is not pods
    nodes = factory.informer(NODES, indexers={"zone": lambda o: []})
    assert "zone" in nodes.store.index_names
    factory.start()
    assert await factory.wait_for_sync(timeout=5)
    late = factory.informer(SERVICES)
    assert late.running, "informers asked for after start() start at once"
    assert await wait_for_cache_sync(pods, nodes, late, timeout=5)
    assert pods.get("default/a") is not None
    assert nodes.get("n1") is not None
    await factory.shutdown()
    assert not pods.running


async def test_wait_for_sync_timeout(api: FakeAPI) -> None:
    informer = Informer(api, PODS)
    assert not await informer.wait_for_sync(timeout=0.01)
    assert not await wait_for_cache_sync(informer, timeout=0.01)


async def test_stop_closes_the_watch(running: tuple[Informer, Recorder], api: FakeAPI) -> None:
    informer, _ = running
    assert len(api.watchers) == 1
    await informer.stop()
    await asyncio.sleep(0)
    assert api.watchers == []


async def test_a_malformed_object_does_not_kill_the_informer(
    running: tuple[Informer, Recorder], api: FakeAPI, clock: FakeClock
) -> None:
    informer, recorder = running
    recorder.take()
    api.watchers[0].queue.put_nowait(WatchEvent("ADDED", {"metadata": {}}))  # no name: no key
    await clock.settle()
    assert informer.running
    await clock.advance(1.0)
    assert informer.list_count == 2, "recovers by relisting"
    api.put(PODS, pod("later"))
    await clock.settle()
    assert recorder.take() == [("add", "later")]
