"""An in-memory stand-in for the API server, for the client machinery's unit tests.

It implements the verbs informers, leader election and the event recorder use
(get/list/create/update/patch/delete/watch) with the contract that matters:
a global resourceVersion that grows with every write, 409 on stale writes,
AlreadyExists/NotFound, paged lists with continue tokens, and watches that
replay history after a resourceVersion and then follow live changes. Test
controls simulate what goes wrong in real life: compaction (410 Gone on
watch), a stream that breaks, events that never reach a watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from minik.client.errors import (
    AlreadyExistsError,
    APIConnectionError,
    ConflictError,
    GoneError,
    NotFoundError,
)
from minik.client.kinds import ResourceRef, resolve
from minik.client.objects import Obj, deepcopy, name_of, namespace_of
from minik.client.rest import WatchEvent

_END = object()


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deepcopy({"v": patch})["v"] if isinstance(patch, (dict, list)) else patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _matches_labels(obj: Obj, selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class _Watcher:
    def __init__(self, plural: str, namespace: str | None, label_selector: str | None) -> None:
        self.plural = plural
        self.namespace = namespace
        self.label_selector = label_selector
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def wants(self, plural: str, obj: Obj) -> bool:
        if plural != self.plural:
            return False
        if self.namespace and namespace_of(obj) != self.namespace:
            return False
        return _matches_labels(obj, self.label_selector)


class FakeAPI:
    def __init__(self) -> None:
        self.rv = 100
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.history: list[tuple[int, str, str, Obj]] = []
        self.compacted_before = 0
        self.watchers: list[_Watcher] = []
        self.silenced = False
        self.expire_continue_tokens = False
        self.uid_counter = 0
        # call logs for assertions
        self.list_calls: list[dict[str, Any]] = []
        self.watch_calls: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, str]] = []
        # verb -> exceptions to raise on the next calls
        self.failures: dict[str, list[BaseException]] = {}
        # verb -> an Event to wait on before answering (simulates a hung server)
        self.blockers: dict[str, asyncio.Event] = {}

    # -- helpers ------------------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    async def _enter(self, verb: str, plural: str, name: str) -> None:
        self.calls.append((verb, plural, name))
        blocker = self.blockers.get(verb)
        if blocker is not None:
            await blocker.wait()
        queued = self.failures.get(verb)
        if queued:
            raise queued.pop(0)

    def fail(self, verb: str, *errors: BaseException) -> None:
        self.failures.setdefault(verb, []).extend(errors)

    def _record(self, ref: ResourceRef, event_type: str, obj: Obj) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        snapshot = deepcopy(obj)
        self.history.append((rv, ref.plural, event_type, snapshot))
        if self.silenced:
            return
        for w in self.watchers:
            if w.wants(ref.plural, snapshot):
                w.queue.put_nowait(WatchEvent(event_type, deepcopy(snapshot)))

    def _key(self, ref: ResourceRef, namespace: str | None, name: str) -> tuple[str, str | None, str]:
        return (ref.plural, namespace if ref.namespaced else None, name)

    # -- direct state manipulation (no call logging, no failures) -----------------------------------

    def put(self, resource: ResourceRef | str, obj: Obj) -> Obj:
        """Create or replace an object server-side, as another client would."""
        ref = resolve(resource)
        obj = deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = self._key(ref, meta.get("namespace"), meta["name"])
        existing = self.objects.get(key)
        if existing is None or ("uid" in meta and meta["uid"] != existing["metadata"].get("uid")):
            self.uid_counter += 1
            meta.setdefault("uid", f"uid-{self.uid_counter}")
        else:
            meta["uid"] = existing["metadata"]["uid"]
        obj.setdefault("kind", ref.kind)
        obj.setdefault("apiVersion", ref.api_version)
        meta["resourceVersion"] = self._next_rv()
        self.objects[key] = obj
        self._record(ref, "ADDED" if existing is None else "MODIFIED", obj)
        return deepcopy(obj)

    def remove(self, resource: ResourceRef | str, name: str, namespace: str | None = None) -> Obj:
        ref = resolve(resource)
        obj = self.objects.pop(self._key(ref, namespace, name))
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._record(ref, "DELETED", obj)
        return obj

    def stored(self, resource: ResourceRef | str, name: str, namespace: str | None = None) -> Obj | None:
        ref = resolve(resource)
        return self.objects.get(self._key(ref, namespace, name))

    def compact(self) -> None:
        """Forget all history: any watch from an older resourceVersion gets 410."""
        self.compacted_before = self.rv + 1
        self.history.clear()

    def expire_watches(self) -> None:
        """Send an ERROR 410 event down every open watch."""
        for w in self.watchers:
            w.queue.put_nowait(GoneError(410, "Expired", "too old resource version"))

    def break_watches(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(APIConnectionError("connection reset by peer"))

    def end_watches(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(_END)

    def bookmark(self, rv: str | None = None) -> str:
        rv = rv or str(self.rv)
        for w in self.watchers:
            w.queue.put_nowait(WatchEvent("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": rv}}))
        return rv

    # -- verbs --------------------------------------------------------------------------------------

    async def get(
        self, resource: ResourceRef | str, name: str, *, namespace: str | None = None, **_: Any
    ) -> Obj:
        ref = resolve(resource)
        await self._enter("get", ref.plural, name)
        obj = self.objects.get(self._key(ref, namespace, name))
        if obj is None:
            raise NotFoundError(404, "NotFound", f'{ref} "{name}" not found')
        return deepcopy(obj)

    async def create(
        self, resource: ResourceRef | str, obj: Obj, *, namespace: str | None = None, **_: Any
    ) -> Obj:
        ref = resolve(resource)
        obj = deepcopy(obj)
        name = name_of(obj)
        if not name and obj.get("metadata", {}).get("generateName"):
            self.uid_counter += 1  # a server-chosen suffix, unique like the real one
            name = obj["metadata"]["name"] = f"{obj['metadata']['generateName']}{self.uid_counter:05d}"
        await self._enter("create", ref.plural, name)
        ns = namespace or namespace_of(obj)
        if self._key(ref, ns, name) in self.objects:
            raise AlreadyExistsError(409, "AlreadyExists", f'{ref} "{name}" already exists')
        if ns and ref.namespaced:
            obj["metadata"]["namespace"] = ns
        obj["metadata"].pop("uid", None)
        obj["metadata"].pop("resourceVersion", None)
        return self.put(ref, obj)

    async def update(
        self, resource: ResourceRef | str, obj: Obj, *, namespace: str | None = None, **_: Any
    ) -> Obj:
        ref = resolve(resource)
        name = name_of(obj)
        await self._enter("update", ref.plural, name)
        ns = namespace or namespace_of(obj)
        current = self.objects.get(self._key(ref, ns, name))
        if current is None:
            raise NotFoundError(404, "NotFound", f'{ref} "{name}" not found')
        sent_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise ConflictError(409, "Conflict", f'Operation cannot be fulfilled on {ref} "{name}"')
        obj = deepcopy(obj)
        obj["metadata"]["uid"] = current["metadata"]["uid"]
        return self.put(ref, obj)

    async def patch(
        self,
        resource: ResourceRef | str,
        name: str,
        body: Obj,
        *,
        namespace: str | None = None,
        type: str = "merge",
        **_: Any,
    ) -> Obj:
        ref = resolve(resource)
        await self._enter("patch", ref.plural, name)
        current = self.objects.get(self._key(ref, namespace, name))
        if current is None:
            raise NotFoundError(404, "NotFound", f'{ref} "{name}" not found')
        patched = merge_patch(current, body)
        patched["metadata"]["uid"] = current["metadata"]["uid"]
        return self.put(ref, patched)

    async def update_status(
        self, resource: ResourceRef | str, obj: Obj, *, namespace: str | None = None, **_: Any
    ) -> Obj:
        """Like :meth:`update`, but only ``status`` is taken from ``obj`` (the status subresource)."""
        ref = resolve(resource)
        name = name_of(obj)
        await self._enter("update_status", ref.plural, name)
        current = self.objects.get(self._key(ref, namespace or namespace_of(obj), name))
        if current is None:
            raise NotFoundError(404, "NotFound", f'{ref} "{name}" not found')
        sent_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise ConflictError(409, "Conflict", f'Operation cannot be fulfilled on {ref} "{name}"')
        body = deepcopy(current)
        body["status"] = deepcopy(obj.get("status") or {})
        return self.put(ref, body)

    async def delete(
        self,
        resource: ResourceRef | str,
        name: str,
        *,
        namespace: str | None = None,
        preconditions: dict[str, str] | None = None,
        **_: Any,
    ) -> Obj:
        ref = resolve(resource)
        await self._enter("delete", ref.plural, name)
        current = self.objects.get(self._key(ref, namespace, name))
        if current is None:
            raise NotFoundError(404, "NotFound", f'{ref} "{name}" not found')
        wanted_uid = (preconditions or {}).get("uid")
        if wanted_uid and wanted_uid != current["metadata"].get("uid"):
            raise ConflictError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {wanted_uid}, "
                f"UID in object meta: {current['metadata'].get('uid')}",
            )
        return self.remove(ref, name, namespace)

    async def list(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        **_: Any,
    ) -> Obj:
        ref = resolve(resource)
        self.list_calls.append({"namespace": namespace, "limit": limit, "continue": continue_})
        await self._enter("list", ref.plural, "")
        items = [
            deepcopy(o)
            for (plural, ns, _name), o in sorted(
                self.objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])
            )
            if plural == ref.plural
            and (not namespace or ns == namespace)
            and _matches_labels(o, label_selector)
        ]
        for item in items:  # like the real server: list items carry no kind/apiVersion
            item.pop("kind", None)
            item.pop("apiVersion", None)
        list_rv = str(self.rv)
        offset = 0
        if continue_:
            if self.expire_continue_tokens:
                raise GoneError(410, "Expired", "The provided continue parameter is too old")
            list_rv, _sep, off = continue_.partition(":")
            offset = int(off)
        meta: Obj = {"resourceVersion": list_rv}
        if limit:
            page = items[offset : offset + limit]
            if offset + limit < len(items):
                meta["continue"] = f"{list_rv}:{offset + limit}"
            items = page
        return {"kind": ref.list_kind, "apiVersion": ref.api_version, "metadata": meta, "items": items}

    def watch(
        self,
        resource: ResourceRef | str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        ref = resolve(resource)
        self.watch_calls.append(
            {
                "resource_version": resource_version,
                "timeout_seconds": timeout_seconds,
                "bookmarks": allow_watch_bookmarks,
            }
        )
        return self._watch(ref, namespace, label_selector, resource_version)

    async def _watch(
        self,
        ref: ResourceRef,
        namespace: str | None,
        label_selector: str | None,
        resource_version: str | None,
    ) -> AsyncGenerator[WatchEvent, None]:
        await self._enter("watch", ref.plural, "")
        start = int(resource_version) if resource_version else self.rv
        if start < self.compacted_before - 1:
            raise GoneError(410, "Expired", f"too old resource version: {start}")
        watcher = _Watcher(ref.plural, namespace, label_selector)
        self.watchers.append(watcher)
        try:
            backlog = [
                WatchEvent(t, deepcopy(o))
                for rv, plural, t, o in self.history
                if rv > start and watcher.wants(plural, o)
            ]
            for event in backlog:
                yield event
            while True:
                item = await watcher.queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.watchers.remove(watcher)
