"""Ownership: controller references, the controller-uid index, adopting and releasing."""

from __future__ import annotations

from typing import cast

import pytest

from minik.client.clock import FakeClock
from minik.client.controller import Controller
from minik.client.errors import ForbiddenError
from minik.client.informer import Informer
from minik.client.kinds import PODS, REPLICASETS
from minik.client.objects import Obj, controller_ref
from minik.client.rest import APIClient
from minik.client.store import Indexer
from minik.controllers.expectations import Expectations
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    OwnedObjectEvents,
    claim_candidates,
    controller_ref_to,
    index_by_controller_uid,
    is_controlled_by,
    owners_selecting,
    resolve_controller,
    selector_for,
)
from tests.client.fakes import FakeAPI


def owned_by(owner: Obj | None, name: str, labels: dict[str, str], namespace: str = "ns") -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels}
    if owner is not None:
        meta["ownerReferences"] = [controller_ref_to(owner)]
    return {"metadata": meta}


def replicaset(api: FakeAPI, name: str = "web", **meta: object) -> Obj:
    return api.put(
        REPLICASETS,
        {
            "metadata": {"name": name, "namespace": "ns", **meta},
            "spec": {"selector": {"matchLabels": {"app": "web"}}},
        },
    )


def test_controller_ref_and_resolving_it_by_uid() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    pod = owned_by(rs, "p", {"app": "web"})
    assert controller_ref(pod) == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": rs["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert is_controlled_by(pod, rs)
    cache = {"ns/web": rs}
    assert resolve_controller(pod, "ReplicaSet", cache.get) is rs
    assert resolve_controller(pod, "DaemonSet", cache.get) is None  # another kind
    successor = {**rs, "metadata": {**rs["metadata"], "uid": "a-new-web"}}
    assert resolve_controller(pod, "ReplicaSet", {"ns/web": successor}.get) is None  # same name, new owner
    assert not is_controlled_by(pod, successor)


def test_selector_for_both_selector_flavours() -> None:
    rc = {"kind": "ReplicationController", "spec": {"selector": {"app": "web"}}}
    rs = {
        "kind": "ReplicaSet",
        "spec": {
            "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}
        },
    }
    assert selector_for(rc).matches({"app": "web", "x": "y"}) and not selector_for(rc).matches({})
    assert selector_for(rs).matches({"tier": "api"}) and not selector_for(rs).matches({"tier": "db"})


def test_candidates_are_own_objects_and_orphans_of_the_namespace() -> None:
    api = FakeAPI()
    mine, other = replicaset(api), replicaset(api, "other")
    store = Indexer({CONTROLLER_UID_INDEX: index_by_controller_uid})
    for obj in (
        owned_by(mine, "mine", {}),
        owned_by(other, "theirs", {}),
        owned_by(None, "orphan", {}),
        owned_by(None, "far-orphan", {}, namespace="elsewhere"),
    ):
        store.add(obj)
    names = sorted(o["metadata"]["name"] for o in claim_candidates(store, mine))
    assert names == ["mine", "orphan"]


async def test_claim_adopts_matching_orphans_and_releases_strays() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    kept = api.put(PODS, owned_by(rs, "kept", {"app": "web"}))
    stray = api.put(PODS, owned_by(rs, "stray", {"app": "relabelled"}))
    orphan = api.put(PODS, owned_by(None, "orphan", {"app": "web"}))
    unrelated = api.put(PODS, owned_by(None, "unrelated", {"app": "db"}))
    someone_elses = api.put(PODS, owned_by(replicaset(api, "other"), "theirs", {"app": "web"}))
    claims = ClaimManager(cast(APIClient, api), rs, REPLICASETS, selector_for(rs))

    owned = await claims.claim(PODS, [kept, stray, orphan, unrelated, someone_elses])

    assert sorted(o["metadata"]["name"] for o in owned) == ["kept", "orphan"]
    adopted = api.stored(PODS, "orphan", "ns")
    assert adopted is not None and is_controlled_by(adopted, rs)
    released = api.stored(PODS, "stray", "ns")
    assert released is not None and controller_ref(released) is None  # an orphan that keeps running
    patched = sorted(name for verb, _, name in api.calls if verb == "patch")
    assert patched == ["orphan", "stray"]  # nobody else's pod was touched


async def test_an_owner_that_is_gone_or_going_adopts_nothing() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    orphan = api.put(PODS, owned_by(None, "orphan", {"app": "web"}))
    # The cache still has the owner, the server says it is being deleted: the fresh read wins.
    replicaset(api, deletionTimestamp="2024-01-01T00:00:00Z")
    claims = ClaimManager(cast(APIClient, api), rs, REPLICASETS, selector_for(rs))
    assert await claims.claim(PODS, [orphan]) == []
    assert [verb for verb, _, _ in api.calls] == ["get"]  # re-checked once, no patch

    deleting = {**rs, "metadata": {**rs["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z"}}
    claims = ClaimManager(cast(APIClient, api), deleting, REPLICASETS, selector_for(rs))
    assert await claims.claim(PODS, [orphan]) == []


async def test_claim_errors_are_raised_after_the_rest_is_done() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    first = api.put(PODS, owned_by(None, "first", {"app": "web"}))
    second = api.put(PODS, owned_by(None, "second", {"app": "web"}))
    api.fail("patch", ForbiddenError(403, "Forbidden", "no"))
    claims = ClaimManager(cast(APIClient, api), rs, REPLICASETS, selector_for(rs))
    with pytest.raises(ForbiddenError):
        await claims.claim(PODS, [first, second])
    stored = api.stored(PODS, "second", "ns")
    assert stored is not None and is_controlled_by(stored, rs)


# -- events of owned objects -------------------------------------------------------------------


class Keys:
    """Stands in for the Controller: what would be enqueued (and after how long)."""

    def __init__(self) -> None:
        self.now: list[str] = []
        self.later: list[tuple[str, float]] = []

    def enqueue(self, key: str) -> None:
        self.now.append(key)

    def enqueue_after(self, key: str, delay: float) -> None:
        self.later.append((key, delay))


class Owners:
    """Stands in for the owners' informer."""

    def __init__(self, *owners: Obj) -> None:
        self.owners = {f"ns/{o['metadata']['name']}": o for o in owners}

    def get(self, key: str) -> Obj | None:
        return self.owners.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.owners.values() if namespace in (None, o["metadata"]["namespace"])]


def events_for(*owners: Obj, requeue: bool = False) -> tuple[OwnedObjectEvents, Keys, Expectations]:
    keys, cache, exp = Keys(), Owners(*owners), Expectations(clock=FakeClock())
    events = OwnedObjectEvents(
        cast(Controller, keys),
        cast(Informer, cache),
        lambda obj: resolve_controller(obj, "ReplicaSet", cache.get),
        expectations=exp,
        requeue_for_availability=requeue,
    )
    return events, keys, exp


def versioned(obj: Obj, rv: str, **meta: object) -> Obj:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": rv, **meta}}


def test_owners_selecting_skips_empty_selectors() -> None:
    api = FakeAPI()
    web = replicaset(api)
    everything = api.put(
        REPLICASETS, {"metadata": {"name": "all", "namespace": "ns"}, "spec": {"selector": {}}}
    )
    assert owners_selecting([web, everything], owned_by(None, "p", {"app": "web"})) == [web]


def test_a_childs_events_reach_its_owner_and_its_expectations() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    events, keys, exp = events_for(rs)
    exp.expect("ns/web", 1, ["ns/p"])
    child = versioned(owned_by(rs, "p", {"app": "web"}), "1")
    events.added(child)
    assert keys.now == ["ns/web"] and exp.pending("ns/web") == (0, 1)
    events.updated(child, versioned(child, "1"))  # a resync
    assert keys.now == ["ns/web"]
    events.updated(child, versioned(child, "2", deletionTimestamp="2024-01-01T00:00:00Z"))
    assert keys.now == ["ns/web", "ns/web"] and exp.satisfied("ns/web")  # terminating counts as gone


def test_an_orphan_wakes_every_owner_that_may_adopt_it() -> None:
    api = FakeAPI()
    web, other = replicaset(api), replicaset(api, "other")
    other["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    events, keys, _ = events_for(web, other)
    orphan = versioned(owned_by(None, "p", {"app": "web"}), "1")
    events.added(orphan)
    assert keys.now == ["ns/web"]
    keys.now.clear()
    events.updated(orphan, versioned(owned_by(None, "p", {"app": "other"}), "2"))  # relabelled
    assert keys.now == ["ns/other"]
    keys.now.clear()
    released = versioned(owned_by(web, "p", {"app": "web"}), "3")
    events.updated(released, versioned(orphan, "4"))  # released by web: web and adopters look again
    assert keys.now == ["ns/web", "ns/web"]


def test_a_pod_that_becomes_ready_requeues_its_owner_when_it_will_be_available() -> None:
    api = FakeAPI()
    rs = replicaset(api)
    rs["spec"]["minReadySeconds"] = 10
    events, keys, _ = events_for(rs, requeue=True)
    not_ready = versioned(owned_by(rs, "p", {"app": "web"}), "1")
    ready = {**versioned(not_ready, "2"), "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    events.updated(not_ready, ready)
    assert keys.now == ["ns/web"] and keys.later == [("ns/web", 10.5)]
