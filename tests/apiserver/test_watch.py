"""Watches served from the watch cache: resume, 410, bookmarks, selector transitions."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minik.apiserver.etcd import EtcdClient
from tests.conftest import APIServerProcess, _stop, launch_apiserver
from tests.helpers import wait_until

pytestmark = pytest.mark.integration


def cm(name: str, **meta: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": name}}


class Stream:
    """A watch stream read in a background thread, for tests to inspect."""

    def __init__(self, server: APIServerProcess, path: str, params: dict[str, str]) -> None:
        self.events: list[dict[str, Any]] = []
        self.done = threading.Event()
        self._client = server.client(timeout=60)
        self._thread = threading.Thread(target=self._run, args=(path, params), daemon=True)
        self._thread.start()

    def _run(self, path: str, params: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", path, params={"watch": "true", **params}) as r:
                self.status = r.status_code
                for line in r.iter_lines():
                    if line:
                        self.events.append(json.loads(line))
        except httpx.HTTPError:
            pass
        finally:
            self.done.set()

    def seen(self, *, types: tuple[str, ...] = ("ADDED", "MODIFIED", "DELETED")) -> list[tuple[str, str]]:
        return [
            (e["type"], e["object"]["metadata"].get("name", "")) for e in self.events if e["type"] in types
        ]

    def close(self) -> None:
        self._client.close()


@pytest.fixture()
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    yield opened
    for s in opened:
        s.close()


def test_watch_sees_changes_in_order(apiserver, api: httpx.Client, ns: str, streams) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json()["metadata"]["resourceVersion"]
    s = Stream(apiserver, base, {"resourceVersion": rv})
    streams.append(s)
    api.post(base, json=cm("a"))
    obj = api.get(f"{base}/a").json()
    obj["data"] = {"k": "changed"}
    api.put(f"{base}/a", json=obj)
    api.delete(f"{base}/a")
    wait_until(lambda: len(s.seen()) >= 3, message="three events")
    assert s.seen() == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in s.events if e["type"] != "BOOKMARK"]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_resume_from_a_resource_version_replays_history(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, streams: list[Stream]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.post(base, json=cm("one")).json()["metadata"]["resourceVersion"]
    api.post(base, json=cm("two"))
    api.post(base, json=cm("three"))
    s = Stream(apiserver, base, {"resourceVersion": first})
    streams.append(s)
    wait_until(lambda: len(s.seen()) >= 2, message="replayed events")
    assert s.seen() == [("ADDED", "two"), ("ADDED", "three")]


def test_watch_without_resource_version_starts_with_current_state(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, streams: list[Stream]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("existing"))
    s = Stream(apiserver, base, {})
    streams.append(s)
    wait_until(lambda: s.seen(), message="synthetic ADDED")
    api.post(base, json=cm("later"))
    wait_until(lambda: len(s.seen()) >= 2, message="live event")
    assert s.seen() == [("ADDED", "existing"), ("ADDED", "later")]


def test_label_selector_transitions(apiserver, api: httpx.Client, ns: str, streams) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json()["metadata"]["resourceVersion"]
    s = Stream(apiserver, base, {"resourceVersion": rv, "labelSelector": "app=web"})
    streams.append(s)
    api.post(base, json=cm("x", labels={"app": "db"}))  # never matches: unseen
    obj = api.post(base, json=cm("y", labels={"app": "db"})).json()
    obj["metadata"]["labels"] = {"app": "web"}  # starts matching: ADDED
    obj = api.put(f"{base}/y", json=obj).json()
    obj["data"] = {"k": "v2"}  # still matching: MODIFIED
    obj = api.put(f"{base}/y", json=obj).json()
    obj["metadata"]["labels"] = {"app": "db"}  # stops matching: DELETED
    api.put(f"{base}/y", json=obj)
    wait_until(lambda: len(s.seen()) >= 3, message="transition events")
    time.sleep(0.3)  # nothing more may arrive (x must stay unseen)
    assert s.seen() == [("ADDED", "y"), ("MODIFIED", "y"), ("DELETED", "y")]


def test_field_selector_on_name(apiserver, api: httpx.Client, ns: str, streams) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json()["metadata"]["resourceVersion"]
    s = Stream(apiserver, base, {"resourceVersion": rv, "fieldSelector": "metadata.name=wanted"})
    streams.append(s)
    api.post(base, json=cm("other"))
    api.post(base, json=cm("wanted"))
    wait_until(lambda: s.seen(), message="the wanted object")
    assert s.seen() == [("ADDED", "wanted")]


def test_bookmarks_arrive_when_allowed(apiserver, api: httpx.Client, ns: str, streams) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json()["metadata"]["resourceVersion"]
    s = Stream(apiserver, base, {"resourceVersion": rv, "allowWatchBookmarks": "true"})
    streams.append(s)
    wait_until(lambda: [e for e in s.events if e["type"] == "BOOKMARK"], timeout=5, message="a bookmark")
    bm = next(e for e in s.events if e["type"] == "BOOKMARK")["object"]
    assert bm["kind"] == "ConfigMap" and int(bm["metadata"]["resourceVersion"]) >= int(rv)
    plain = Stream(apiserver, base, {"resourceVersion": rv, "timeoutSeconds": "2"})
    streams.append(plain)
    assert plain.done.wait(10)
    assert not [e for e in plain.events if e["type"] == "BOOKMARK"]


def test_timeout_seconds_ends_the_stream(apiserver, ns: str) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    s = Stream(apiserver, f"/api/v1/namespaces/{ns}/configmaps", {"timeoutSeconds": "1"})
    assert s.done.wait(10)
    assert time.monotonic() - started < 8
    s.close()


def test_send_initial_events_then_bookmark(apiserver, api: httpx.Client, ns: str, streams) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("i1"))
    api.post(base, json=cm("i2"))
    s = Stream(
        apiserver,
        base,
        {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"},
    )
    streams.append(s)
    wait_until(lambda: any(e["type"] == "BOOKMARK" for e in s.events), message="initial-events-end")
    first_bookmark = next(i for i, e in enumerate(s.events) if e["type"] == "BOOKMARK")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in s.events[:first_bookmark]] == [
        ("ADDED", "i1"),
        ("ADDED", "i2"),
    ]
    annotations = s.events[first_bookmark]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
    r = api.get(base, params={"watch": "true", "sendInitialEvents": "true"})
    assert r.status_code == 422


def test_too_old_resource_version_is_410(workdir, etcd_server) -> None:  # type: ignore[no-untyped-def]
    small = launch_apiserver(workdir, etcd_server.url, "--watch-cache-size", "5")
    try:
        with small.client() as api:
            ns = "history-" + str(int(time.time() * 1000))
            api.post(
                "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
            base = f"/api/v1/namespaces/{ns}/configmaps"
            old = api.post(base, json=cm("c0")).json()["metadata"]["resourceVersion"]
            for i in range(1, 20):
                api.post(base, json=cm(f"c{i}"))
            wait_until(lambda: api.get(base).json()["items"].__len__() == 20, message="writes cached")
            r = api.get(base, params={"watch": "true", "resourceVersion": old, "timeoutSeconds": "5"})
            assert r.status_code == 200
            event = json.loads(r.text.splitlines()[0])
            assert event["type"] == "ERROR"
            assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    finally:
        _stop(small.process)


def test_apiserver_compacts_etcd_and_old_lists_get_410(workdir, etcd_server) -> None:  # type: ignore[no-untyped-def]
    compacting = launch_apiserver(workdir, etcd_server.url, "--etcd-compaction-interval", "1")
    try:
        with compacting.client() as api:
            ns = "compact-" + str(int(time.time() * 1000))
            api.post(
                "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
            base = f"/api/v1/namespaces/{ns}/configmaps"
            old = api.post(base, json=cm("before")).json()["metadata"]["resourceVersion"]
            api.post(base, json=cm("after"))

            def compacted() -> bool:
                r = api.get(base, params={"resourceVersion": old, "resourceVersionMatch": "Exact"})
                return r.status_code == 410

            wait_until(compacted, timeout=15, interval=0.5, message="etcd compaction past the old revision")
            r = api.get(base, params={"resourceVersion": old, "resourceVersionMatch": "Exact"})
            assert r.json()["reason"] == "Expired"
    finally:
        _stop(compacting.process)


def test_etcd_holds_one_key_per_object(api: httpx.Client, etcd_server, ns: str) -> None:  # type: ignore[no-untyped-def]
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("stored"))

    async def read() -> tuple[bytes | None, int]:
        client = EtcdClient([etcd_server.url])
        try:
            kv = await client.get(f"/registry/configmaps/{ns}/stored".encode())
            assert kv is not None
            return kv.value, kv.mod_revision
        finally:
            await client.close()

    value, rev = asyncio.run(read())
    stored = json.loads(value or b"{}")
    assert stored["metadata"]["name"] == "stored" and "resourceVersion" not in stored["metadata"]
    served = api.get(f"/api/v1/namespaces/{ns}/configmaps/stored").json()
    assert served["metadata"]["resourceVersion"] == str(rev)
