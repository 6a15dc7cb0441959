"""``rest.Storage`` called directly, in-process, over a real etcd: the verbs' rules.

The HTTP tests drive the same code through the apiserver process; these reach the
storage's own contract — preconditions, conflicts, retries, paging — without HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from minik.apiserver.rest import DeleteOptions, ListOptions, Storage
from tests.apiserver.inprocess import Obj, api_error, configmap, new_namespace, open_storage, resource
from tests.conftest import Etcd


@pytest.fixture()
async def storage(etcd_server: Etcd) -> AsyncIterator[Storage]:
    async with open_storage(etcd_server.url) as s:
        yield s


async def test_create_then_get_returns_the_stored_object(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    created = await storage.create(cms, ns, configmap("a", {"k": "v"}))
    meta = created["metadata"]
    assert meta["namespace"] == ns and meta["uid"] and meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    got = await storage.get(cms, ns, "a")
    assert got["data"] == {"k": "v"}
    assert got["metadata"]["uid"] == meta["uid"]
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]


async def test_create_refuses_a_taken_name_and_a_missing_namespace(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    await storage.create(cms, ns, configmap("a"))
    taken = await api_error(storage.create(cms, ns, configmap("a")))
    assert (taken.code, taken.reason) == (409, "AlreadyExists")
    missing = await api_error(storage.create(cms, ns + "-gone", configmap("b")))
    assert missing.code == 404


async def test_generate_name_and_dry_run(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    generated = await storage.create(cms, ns, {"metadata": {"generateName": "gen-"}, "data": {}})
    name = generated["metadata"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5
    dry = await storage.create(cms, ns, configmap("dry"), dry_run=True)
    assert dry["metadata"]["name"] == "dry"
    gone = await api_error(storage.get(cms, ns, "dry"))
    assert gone.code == 404  # a dry run writes nothing


async def test_update_checks_the_resource_version_only_when_one_is_sent(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    created = await storage.create(cms, ns, configmap("a", {"n": "0"}))
    rv = created["metadata"]["resourceVersion"]

    first = configmap("a", {"n": "1"})
    first["metadata"]["resourceVersion"] = rv
    updated = await storage.update(cms, ns, "a", first)
    assert int(updated["metadata"]["resourceVersion"]) > int(rv)

    stale = configmap("a", {"n": "2"})
    stale["metadata"]["resourceVersion"] = rv  # the version before the update above
    conflict = await api_error(storage.update(cms, ns, "a", stale))
    assert (conflict.code, conflict.reason) == (409, "Conflict")

    unconditional = await storage.update(cms, ns, "a", configmap("a", {"n": "3"}))
    assert unconditional["data"] == {"n": "3"}
    assert (await storage.get(cms, ns, "a"))["data"] == {"n": "3"}


async def test_guaranteed_update_applies_every_concurrent_mutation(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    await storage.create(cms, ns, configmap("counter", {}))

    def add(key: str) -> Callable[[Obj], Obj]:
        def mutate(current: Obj) -> Obj:
            current.setdefault("data", {})[key] = "x"
            return current

        return mutate

    keys = [f"k{i}" for i in range(8)]
    await asyncio.gather(*(storage.guaranteed_update(cms, ns, "counter", add(k)) for k in keys))
    final = await storage.get(cms, ns, "counter")
    assert sorted(final["data"]) == sorted(keys)  # no writer's change was lost

    missing = await api_error(storage.guaranteed_update(cms, ns, "nobody", add("k")))
    assert missing.code == 404


async def test_delete_honours_uid_and_resource_version_preconditions(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    created = await storage.create(cms, ns, configmap("a"))
    meta = created["metadata"]

    wrong_uid = await api_error(storage.delete(cms, ns, "a", DeleteOptions(precondition_uid="not-the-uid")))
    assert wrong_uid.code == 409 and "UID in precondition" in wrong_uid.message
    wrong_rv = await api_error(storage.delete(cms, ns, "a", DeleteOptions(precondition_rv="1")))
    assert wrong_rv.code == 409 and "ResourceVersion in precondition" in wrong_rv.message
    assert (await storage.get(cms, ns, "a"))["metadata"]["uid"] == meta["uid"]  # still there

    obj, deleted = await storage.delete(
        cms, ns, "a", DeleteOptions(precondition_uid=meta["uid"], precondition_rv=meta["resourceVersion"])
    )
    assert deleted and obj["metadata"]["uid"] == meta["uid"]
    assert (await api_error(storage.get(cms, ns, "a"))).code == 404
    assert (await api_error(storage.delete(cms, ns, "a", DeleteOptions()))).code == 404


async def test_delete_with_a_finalizer_only_marks_the_object(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await storage.create(cms, ns, held)
    obj, deleted = await storage.delete(cms, ns, "held", DeleteOptions())
    assert not deleted and obj["metadata"]["deletionTimestamp"]

    def release(current: Obj) -> Obj:
        current["metadata"]["finalizers"] = []
        return current

    await storage.guaranteed_update(cms, ns, "held", release)
    assert (await api_error(storage.get(cms, ns, "held"))).code == 404  # the last finalizer let it go


async def test_list_pages_through_every_object_once_in_order(storage: Storage) -> None:
    ns = await new_namespace(storage)
    cms = resource(storage, "configmaps")
    names = [f"cm-{i}" for i in range(5)]
    for name in names:
        await storage.create(cms, ns, configmap(name, labels={"even": str(int(name[-1]) % 2 == 0)}))

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = orjson.loads(await storage.list(cms, ns, ListOptions(limit=2, continue_token=token)))
        assert page["kind"] == "ConfigMapList"
        seen += [item["metadata"]["name"] for item in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert len(page["items"]) == 2
    assert seen == names and pages == 3

    whole = orjson.loads(await storage.list(cms, ns, ListOptions(label_selector="even=True")))
    assert [i["metadata"]["name"] for i in whole["items"]] == ["cm-0", "cm-2", "cm-4"]
    assert int(whole["metadata"]["resourceVersion"]) >= int(page["metadata"]["resourceVersion"])

    bad = await api_error(storage.list(cms, ns, ListOptions(continue_token="not-a-token")))
    assert bad.code == 400 and "continue" in bad.message
