"""Indexer: keys, built-in and custom indexes, index maintenance on change."""

from __future__ import annotations

import pytest

from minik.client.objects import Obj, deepcopy, object_key, split_key
from minik.client.store import NAMESPACE_INDEX, NODE_NAME_INDEX, OWNER_UID_INDEX, Indexer


def pod(name: str, ns: str = "default", node: str | None = None, owners: tuple[str, ...] = ()) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"rs-{u}", "uid": u} for u in owners],
        },
        "spec": {},
    }
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def test_keys() -> None:
    assert object_key(pod("a", "ns1")) == "ns1/a"
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert split_key("ns1/a") == ("ns1", "a")
    assert split_key("node-1") == (None, "node-1")
    with pytest.raises(ValueError):
        split_key("a/b/c")
    with pytest.raises(ValueError):
        object_key({"metadata": {}})


def test_add_get_update_delete() -> None:
    store = Indexer()
    a = pod("a")
    store.add(a)
    assert store.get_by_key("default/a") is a
    assert store.get({"metadata": {"name": "a", "namespace": "default"}}) is a
    assert "default/a" in store
    assert len(store) == 1
    a2 = pod("a", node="n1")
    store.update(a2)
    assert store.get_by_key("default/a") is a2
    assert len(store) == 1
    assert store.delete(a) is a2
    assert store.get_by_key("default/a") is None
    assert store.delete(a) is None


def test_namespace_index_and_list() -> None:
    store = Indexer()
    for name, ns in (("a", "x"), ("b", "x"), ("c", "y")):
        store.add(pod(name, ns))
    store.add({"metadata": {"name": "node-1"}})  # cluster-scoped: no namespace value
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "x")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in store.list(namespace="y")] == ["c"]
    assert len(store.list()) == 4
    assert store.index_values(NAMESPACE_INDEX) == ["x", "y"]


def test_owner_uid_index_covers_every_owner() -> None:
    store = Indexer()
    store.add(pod("a", owners=("u1",)))
    store.add(pod("b", owners=("u1", "u2")))
    store.add(pod("c"))
    assert store.index_keys(OWNER_UID_INDEX, "u1") == {"default/a", "default/b"}
    assert store.index_keys(OWNER_UID_INDEX, "u2") == {"default/b"}
    store.update(pod("b", owners=("u2",)))  # orphaned from u1
    assert store.index_keys(OWNER_UID_INDEX, "u1") == {"default/a"}


def test_node_name_index_moves_with_the_pod() -> None:
    store = Indexer()
    store.add(pod("a"))
    assert store.by_index(NODE_NAME_INDEX, "n1") == []
    store.update(pod("a", node="n1"))
    assert store.index_keys(NODE_NAME_INDEX, "n1") == {"default/a"}
    store.update(pod("a", node="n2"))
    assert store.index_keys(NODE_NAME_INDEX, "n1") == set()
    assert store.index_keys(NODE_NAME_INDEX, "n2") == {"default/a"}
    store.delete(pod("a"))
    assert store.index_values(NODE_NAME_INDEX) == []


def test_custom_indexer_added_later_indexes_existing_objects() -> None:
    store = Indexer({})
    store.add({"metadata": {"name": "a", "namespace": "d", "labels": {"app": "web"}}})
    store.add({"metadata": {"name": "b", "namespace": "d", "labels": {"app": "db"}}})
    store.add_indexers({"app": lambda o: [o["metadata"].get("labels", {}).get("app", "")]})
    assert store.index_keys("app", "web") == {"d/a"}
    with pytest.raises(ValueError):
        store.add_indexers({"app": lambda o: []})
    with pytest.raises(KeyError):
        store.by_index("nope", "x")
    # no namespace index installed: list(namespace=) still works by scanning
    assert len(store.list(namespace="d")) == 2


def test_replace_rebuilds_indexes() -> None:
    store = Indexer()
    store.add(pod("a", node="n1"))
    store.replace([pod("b", node="n2")])
    assert store.list_keys() == ["default/b"]
    assert store.index_values(NODE_NAME_INDEX) == ["n2"]


def test_deepcopy_is_independent() -> None:
    original = pod("a", owners=("u1",))
    copy = deepcopy(original)
    copy["metadata"]["ownerReferences"][0]["uid"] = "changed"
    assert original["metadata"]["ownerReferences"][0]["uid"] == "u1"
