"""One small handler per API verb and subresource; ``routing.py`` picks which one runs.

A handler gets a :class:`Call` — the request with its URL already parsed and the
resource looked up — and answers it through the generic :class:`Storage`. What a
client asked for in its headers shapes the answer here: a Table for ``kubectl get``
(``tables.py``), PartialObjectMetadata for metadata clients (``partial.py``).
Clients that ask for neither (the controllers) get the stored JSON as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from minik.api import errors
from minik.apiserver import decoding, ownership, partial, patching, subresources, tables, watchstream
from minik.apiserver.bodies import Bodies, check_kind
from minik.apiserver.eviction import Evictor
from minik.apiserver.params import list_options
from minik.apiserver.registry import ResourceType
from minik.apiserver.responses import JSON, json_response
from minik.apiserver.rest import DeleteOptions, Storage

Obj = dict[str, Any]
#: Kinds whose finished delete answers the deleted object, not a Status (upstream's
#: ``ReturnDeletedObject``; typed clients decode the answer as that kind).
RETURNS_DELETED_OBJECT = (
    "Pod",
    "Namespace",
    "Service",
    "PersistentVolumeClaim",
    "ServiceAccount",
    "ResourceQuota",
)


@dataclass(slots=True)
class Call:
    """One API request, parsed: what every handler is given."""

    request: Request
    rt: ResourceType
    #: The namespace of a namespaced resource's URL (None for cluster-scoped resources).
    namespace: str | None
    #: The object's name; None on a collection.
    name: str | None
    subresource: str | None
    query: dict[str, str]
    dry_run: bool
    accept: str
    #: ``partial.OBJECT`` or ``partial.LIST`` when the client asked for metadata only.
    metadata_only: str | None

    @property
    def object_name(self) -> str:
        """The name of an object URL (the table routes object verbs only to object URLs)."""
        assert self.name is not None
        return self.name


class Handlers:
    """The verbs of every resource, over one :class:`Storage`."""

    def __init__(self, storage: Storage, bodies: Bodies, *, min_watch_timeout: int) -> None:
        self.storage = storage
        self.bodies = bodies
        self.min_watch_timeout = min_watch_timeout

    # -- collections -------------------------------------------------------------------------

    async def list(self, call: Call) -> Response:
        opts = list_options(call.query)
        if call.metadata_only == partial.OBJECT:
            raise partial.not_acceptable(call.metadata_only, collection=True)
        body = await self.storage.list(call.rt, call.namespace, opts)
        if tables.wants_table(call.accept):
            data = orjson.loads(body)
            table = tables.table(
                call.rt.kind,
                data.get("items") or [],
                data.get("metadata") or {},
                tables.include_object(call.query),
            )
            return json_response(table)
        if call.metadata_only:
            data = orjson.loads(body)
            return json_response(partial.of_list(data["items"], data["metadata"]))
        return Response(body, media_type=JSON)

    async def watch(self, call: Call) -> Response:
        return await watchstream.serve(
            self.storage,
            call.rt,
            call.namespace,
            list_options(call.query),
            min_timeout=self.min_watch_timeout,
            as_table=tables.wants_table(call.accept),
            include=tables.include_object(call.query),
            metadata_only=call.metadata_only is not None,
        )

    async def create(self, call: Call) -> Response:
        rt = call.rt
        if rt.namespaced and call.namespace is None:
            raise errors.APIError(
                405, "MethodNotAllowed", f"create {rt.plural} needs a namespace in the path"
            )
        body = await self.bodies.for_write(call.request, rt, call.query)
        check_kind(rt, body)
        finish = ownership.creator(rt, call.query)
        created = await self.storage.create(rt, call.namespace, body, dry_run=call.dry_run, finish=finish)
        return json_response(created, 201)

    async def delete_collection(self, call: Call) -> Response:
        options = await self.bodies.optional(call.request)
        result = await self.storage.delete_collection(
            call.rt, call.namespace, list_options(call.query), DeleteOptions.from_body(options, call.query)
        )
        return json_response(result)

    # -- objects -----------------------------------------------------------------------------

    async def get(self, call: Call) -> Response:
        obj = await self.storage.get(call.rt, call.namespace, call.object_name)
        if tables.wants_table(call.accept):
            meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
            return json_response(tables.table(call.rt.kind, [obj], meta, tables.include_object(call.query)))
        if call.metadata_only:
            return json_response(partial.of_object(obj))
        return json_response(obj)

    async def update(self, call: Call) -> Response:
        updated = await self._update(call)
        return json_response(partial.of_object(updated) if call.metadata_only else updated)

    async def patch(self, call: Call) -> Response:
        patched, code = await self._patch(call)
        return json_response(partial.of_object(patched) if call.metadata_only else patched, code)

    async def delete(self, call: Call) -> Response:
        rt = call.rt
        options = await self.bodies.optional(call.request)
        obj, deleted = await self.storage.delete(
            rt, call.namespace, call.object_name, DeleteOptions.from_body(options, call.query)
        )
        # Like upstream: a finished delete answers a Status (the object for the kinds
        # whose storage says ReturnDeletedObject); a pending one (graceful or held by
        # finalizers) answers the object as it now is.
        if deleted and rt.kind not in RETURNS_DELETED_OBJECT:
            return json_response(_success(rt, obj))
        return json_response(obj)

    # -- status ------------------------------------------------------------------------------

    async def get_status(self, call: Call) -> Response:
        return json_response(await self.storage.get(call.rt, call.namespace, call.object_name))

    async def update_status(self, call: Call) -> Response:
        return json_response(await self._update(call))

    async def patch_status(self, call: Call) -> Response:
        return json_response(*await self._patch(call))

    # -- scale -------------------------------------------------------------------------------

    async def get_scale(self, call: Call) -> Response:
        obj = await self.storage.get(call.rt, call.namespace, call.object_name)
        return json_response(subresources.to_scale(call.rt, obj))

    async def update_scale(self, call: Call) -> Response:
        scale = await self.bodies.object(call.request)
        return json_response(
            await subresources.update_scale(
                self.storage, call.rt, call.namespace, call.object_name, scale, dry_run=call.dry_run
            )
        )

    async def patch_scale(self, call: Call) -> Response:
        rt, ns, name = call.rt, call.namespace, call.object_name
        current = subresources.to_scale(rt, await self.storage.get(rt, ns, name))
        patch = decoding.decode(await self.bodies.raw(call.request), JSON).value
        patched = patching.apply_patch(call.request, current, patch, "autoscaling/v1/Scale")
        return json_response(
            await subresources.update_scale(
                self.storage, rt, ns, name, patched, dry_run=call.dry_run, patched=True
            )
        )

    # -- other subresources ------------------------------------------------------------------

    async def bind(self, call: Call) -> Response:
        assert call.namespace is not None
        binding = await self.bodies.object(call.request)
        result = await subresources.bind(self.storage, call.rt, call.namespace, call.object_name, binding)
        return json_response(result, 201)

    async def evict(self, call: Call) -> Response:
        """``pods/eviction``: delete the pod if its disruption budget allows (``eviction.py``)."""
        assert call.namespace is not None
        eviction = await self.bodies.object(call.request)
        evictor = Evictor(self.storage, call.rt)
        status, code = await evictor.evict(call.namespace, call.object_name, eviction, call.query)
        return json_response(status, code)

    async def finalize(self, call: Call) -> Response:
        body = await self.bodies.object(call.request)
        return json_response(
            await subresources.finalize_namespace(self.storage, call.rt, call.object_name, body)
        )

    # -- shared by the object and status verbs -----------------------------------------------

    async def _update(self, call: Call) -> Obj:
        rt = call.rt
        body = await self.bodies.for_write(call.request, rt, call.query)
        check_kind(rt, body)
        return await self.storage.update(
            rt,
            call.namespace,
            call.object_name,
            body,
            subresource=call.subresource,
            dry_run=call.dry_run,
            finish=ownership.updater(call.request, rt, call.subresource, call.query),
        )

    async def _patch(self, call: Call) -> tuple[Obj, int]:
        raw = await self.bodies.raw(call.request)
        return await patching.patch(
            self.storage,
            call.request,
            call.rt,
            call.namespace,
            call.object_name,
            call.subresource,
            call.query,
            raw,
            dry_run=call.dry_run,
        )


def _success(rt: ResourceType, obj: Obj) -> Obj:
    """The ``Status`` a finished delete answers."""
    details: Obj = {"name": obj["metadata"].get("name"), "kind": rt.plural, "uid": obj["metadata"].get("uid")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
