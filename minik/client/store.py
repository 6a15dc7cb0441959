"""The informer cache: an in-memory store keyed by ``namespace/name``, with indexes.

This is client-go's ``cache.Indexer``. An :class:`Indexer` holds the latest
known version of every object an informer watches and answers the questions
controllers ask in their hot loop without a round trip to the API server:
"the object with this key", "every pod on node n1", "every pod owned by the
ReplicaSet with uid u".

An *index function* maps an object to zero or more index values; the store
keeps, per index, a map from each value to the set of keys that produced it,
and updates it on every add/update/delete (removing the object's old values
first, so a pod rescheduled to another node moves between buckets). Three are
built in and installed by default:

* ``namespace`` — ``metadata.namespace``;
* ``owner-uid`` — the uid of *every* ``ownerReferences`` entry (controller
  or not), which is how a ReplicaSet controller finds its pods, and a garbage
  collector finds dependents;
* ``node-name`` — ``spec.nodeName`` (pods), which is how a kubelet finds
  its pods and the scheduler accounts for what is already on a node.

The store is not thread-safe and needs not be: every piece of minik's client
runs on one event loop, and no method awaits, so each call is atomic with
respect to other tasks.

**Never mutate what the store hands out.** ``get``/``list``/``by_index``
return the stored dicts themselves — copying every object on every read would
cost more than the rest of a controller. Everyone reading the cache shares
them; call :func:`~minik.client.objects.deepcopy` (re-exported here) before
changing one, then write the copy through the API server and let the watch
bring the new version back into the cache.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping

from minik.client.objects import Obj, deepcopy, namespace_of, object_key, owner_references

__all__ = [
    "DEFAULT_INDEXERS",
    "NAMESPACE_INDEX",
    "NODE_NAME_INDEX",
    "OWNER_UID_INDEX",
    "IndexFunc",
    "Indexer",
    "deepcopy",
    "index_by_namespace",
    "index_by_node_name",
    "index_by_owner_uid",
]

#: Maps an object to the index values it should be found under.
IndexFunc = Callable[[Obj], Iterable[str]]

NAMESPACE_INDEX = "namespace"
OWNER_UID_INDEX = "owner-uid"
NODE_NAME_INDEX = "node-name"


def index_by_namespace(obj: Obj) -> list[str]:
    ns = namespace_of(obj)
    return [ns] if ns else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    return [str(ref["uid"]) for ref in owner_references(obj) if ref.get("uid")]


def index_by_node_name(obj: Obj) -> list[str]:
    spec = obj.get("spec")
    node = spec.get("nodeName") if isinstance(spec, dict) else None
    return [str(node)] if node else []


DEFAULT_INDEXERS: Mapping[str, IndexFunc] = {
    NAMESPACE_INDEX: index_by_namespace,
    OWNER_UID_INDEX: index_by_owner_uid,
    NODE_NAME_INDEX: index_by_node_name,
}


class Indexer:
    """Objects by key, plus named secondary indexes (see the module docs).

    ``indexers=None`` installs :data:`DEFAULT_INDEXERS`; pass ``{}`` for none.
    """

    def __init__(
        self,
        indexers: Mapping[str, IndexFunc] | None = None,
        *,
        key_func: Callable[[Obj], str] = object_key,
    ) -> None:
        self._key_func = key_func
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = dict(DEFAULT_INDEXERS if indexers is None else indexers)
        # index name -> index value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    # -- writes (the informer's job) --------------------------------------------------------------

    def key_of(self, obj: Obj) -> str:
        return self._key_func(obj)

    def add(self, obj: Obj) -> None:
        """Insert or replace the object under its key."""
        key = self._key_func(obj)
        old = self._items.get(key)
        self._items[key] = obj
        self._reindex(key, old, obj)

    update = add

    def delete(self, obj: Obj) -> Obj | None:
        """Remove the object with ``obj``'s key; return what was stored, if anything."""
        return self.delete_key(self._key_func(obj))

    def delete_key(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)
        return old

    def replace(self, objs: Iterable[Obj]) -> None:
        """Make the store hold exactly ``objs`` (indexes rebuilt from scratch)."""
        self._items = {self._key_func(o): o for o in objs}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in self._items.items():
            self._reindex(key, None, obj)

    @property
    def index_names(self) -> frozenset[str]:
        return frozenset(self._indexers)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Install more indexes (existing objects are indexed right away)."""
        for name, func in indexers.items():
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = func
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    # -- reads ------------------------------------------------------------------------------------

    def get(self, obj: Obj) -> Obj | None:
        """The stored object with the same key as ``obj`` (shared: do not mutate)."""
        return self._items.get(self._key_func(obj))

    def get_by_key(self, key: str) -> Obj | None:
        """The stored object for ``namespace/name`` (shared: do not mutate)."""
        return self._items.get(key)

    def list(self, *, namespace: str | None = None) -> builtins.list[Obj]:
        """Every stored object, or those of one namespace (shared: do not mutate)."""
        if namespace is None:
            return builtins.list(self._items.values())
        if NAMESPACE_INDEX in self._indices:
            return self.by_index(NAMESPACE_INDEX, namespace)
        return [o for o in self._items.values() if namespace_of(o) == namespace]

    def list_keys(self) -> builtins.list[str]:
        return builtins.list(self._items)

    def by_index(self, index_name: str, value: str) -> builtins.list[Obj]:
        """The objects whose index function yielded ``value`` (shared: do not mutate)."""
        return [self._items[k] for k in sorted(self.index_keys(index_name, value))]

    def index_keys(self, index_name: str, value: str) -> set[str]:
        try:
            index = self._indices[index_name]
        except KeyError:
            raise KeyError(f"no index named {index_name!r}") from None
        return set(index.get(value, ()))

    def index_values(self, index_name: str) -> builtins.list[str]:
        """Every value the index currently has at least one object under."""
        return sorted(self._indices[index_name])

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # -- internals --------------------------------------------------------------------------------

    def _reindex(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            old_values = set(func(old)) if old is not None else set()
            new_values = set(func(new)) if new is not None else set()
            for value in old_values - new_values:
                bucket = index.get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del index[value]
            for value in new_values - old_values:
                index.setdefault(value, set()).add(key)
