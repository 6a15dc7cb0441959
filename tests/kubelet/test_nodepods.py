"""One pod informer per process, split by node: each node sees its own pods, and only those."""

from __future__ import annotations

import asyncio
from typing import Any

from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.kubelet.nodepods import SharedPodInformer
from tests.client.fakes import FakeAPI
from tests.controllers.kubelet_stub import eventually


def _pod(name: str, node: str | None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


class _Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def handlers(self) -> dict[str, Any]:
        return {
            "on_add": lambda p: self.events.append(("add", p["metadata"]["name"])),
            "on_update": lambda _o, n: self.events.append(("update", n["metadata"]["name"])),
            "on_delete": lambda p: self.events.append(("delete", p["metadata"]["name"])),
        }


def test_the_selector_is_narrow_for_one_node_and_every_bound_pod_for_many() -> None:
    api = FakeAPI()
    assert SharedPodInformer(api, ["solo"]).informer.field_selector == "spec.nodeName=solo"
    assert SharedPodInformer(api, ["a", "b"]).informer.field_selector == "spec.nodeName!="


async def test_each_node_sees_only_its_own_pods_and_events() -> None:
    api = FakeAPI()
    api.put(PODS, _pod("early-a", "a"))  # there before anyone subscribed: replayed as an add
    shared = SharedPodInformer(api, ["a", "b"])
    shared.informer.start()
    try:
        assert await shared.informer.wait_for_sync(5)
        a, b = shared.view("a"), shared.view("b")
        seen_a, seen_b = _Seen(), _Seen()
        a.add_event_handler(**seen_a.handlers())
        b.add_event_handler(**seen_b.handlers())
        assert seen_a.events == [("add", "early-a")] and seen_b.events == []

        for name, node in (("p-a", "a"), ("p-b", "b"), ("elsewhere", "c"), ("unbound", None)):
            api.put(PODS, _pod(name, node))
        await eventually(lambda: ("add", "p-b") in seen_b.events, timeout=5, message="b's pod arrives")
        await eventually(lambda: ("add", "p-a") in seen_a.events, timeout=5, message="a's pod arrives")

        updated = _pod("p-a", "a")
        updated["metadata"]["labels"] = {"x": "y"}
        api.put(PODS, updated)
        api.remove(PODS, "p-b", "ns")
        await eventually(lambda: ("delete", "p-b") in seen_b.events, timeout=5, message="b's pod deleted")
        await eventually(lambda: ("update", "p-a") in seen_a.events, timeout=5, message="a's pod updated")
        await asyncio.sleep(0.05)

        assert seen_a.events == [("add", "early-a"), ("add", "p-a"), ("update", "p-a")]
        assert seen_b.events == [("add", "p-b"), ("delete", "p-b")]
        assert sorted(p["metadata"]["name"] for p in a.list()) == ["early-a", "p-a"]
        assert a.list(namespace="other") == []
        assert b.list() == []
        assert a.get("ns/p-a") is not None
        assert a.get("ns/elsewhere") is None and b.get("ns/p-a") is None  # not theirs
    finally:
        await shared.informer.stop()


async def test_a_broken_handler_does_not_starve_the_next() -> None:
    api = FakeAPI()
    shared = SharedPodInformer(api, ["a", "b"])
    shared.informer.start()
    try:
        assert await shared.informer.wait_for_sync(5)
        view = shared.view("a")
        seen = _Seen()

        def broken(_pod: Obj) -> None:
            raise RuntimeError("boom")

        view.add_event_handler(on_add=broken)
        view.add_event_handler(**seen.handlers())
        api.put(PODS, _pod("p", "a"))
        await eventually(lambda: seen.events == [("add", "p")], timeout=5, message="the second handler ran")
    finally:
        await shared.informer.stop()


async def test_a_stopped_view_hears_nothing_more() -> None:
    api = FakeAPI()
    shared = SharedPodInformer(api, ["a", "b"])
    shared.informer.start()
    try:
        assert await shared.informer.wait_for_sync(5)
        stopped, live = shared.view("a"), shared.view("a")
        seen_stopped, seen_live = _Seen(), _Seen()
        stopped.add_event_handler(**seen_stopped.handlers())
        live.add_event_handler(**seen_live.handlers())
        await stopped.stop()
        api.put(PODS, _pod("p", "a"))
        await eventually(lambda: seen_live.events == [("add", "p")], timeout=5, message="the live view hears")
        assert seen_stopped.events == []
    finally:
        await shared.informer.stop()
