"""A watch as an HTTP response: one JSON event per line, streamed until a deadline.

``Storage.watch`` registers a :class:`~minik.apiserver.watchcache.Watcher` with the watch
cache; its queue carries typed items — :class:`Event`, :class:`Bookmark`, and a final
:class:`Closed`. This module turns them into upstream's stream of ``{"type", "object"}``
lines: the initial events first, the "initial events end" bookmark for
``sendInitialEvents``, then live events, batched into chunks, until ``timeoutSeconds``
(or a random time of at least ``--min-request-timeout``) passes or the cache closes
the watch. An object's JSON is encoded once by the cache and reused by every watcher;
Table (``kubectl get -w``) and metadata-only watches re-encode per event.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from minik.api import errors
from minik.apiserver import partial, tables
from minik.apiserver.registry import ResourceType
from minik.apiserver.responses import JSON
from minik.apiserver.rest import ListOptions, Storage
from minik.apiserver.watchcache import Bookmark, Closed, Event

Obj = dict[str, Any]
#: A watch stream batches the events waiting for it into chunks of about this size.
WATCH_BATCH_BYTES = 64 * 1024


async def serve(
    storage: Storage,
    rt: ResourceType,
    ns: str | None,
    opts: ListOptions,
    *,
    min_timeout: int,
    as_table: bool = False,
    include: str = "Metadata",
    metadata_only: bool = False,
) -> Response:
    """Register the watch and answer its event stream (or the 410 as a one-event stream)."""
    try:
        watcher, initial, end_rev = await storage.watch(rt, ns, opts)
    except errors.APIError as e:
        if e.code != 410:
            raise
        # Upstream answers a too-old resourceVersion with a 200 stream holding one
        # ERROR event; clients (informers) then relist.
        line = orjson.dumps({"type": "ERROR", "object": e.to_status()}) + b"\n"
        return Response(line, media_type=JSON)
    timeout = opts.timeout_seconds
    if timeout is None or timeout <= 0:
        timeout = int(min_timeout * (1 + random.random()))
    kind, api_version = rt.kind, rt.api_version
    # Bookmarks carry an empty object of the watched type: for a metadata watch, that type.
    mark_kind, mark_api_version = (
        (partial.OBJECT, partial.API_VERSION) if metadata_only else (kind, api_version)
    )

    def bookmark(rev: int, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(rev)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            orjson.dumps(
                {
                    "type": "BOOKMARK",
                    "object": {"kind": mark_kind, "apiVersion": mark_api_version, "metadata": meta},
                }
            )
            + b"\n"
        )

    def encode(item: Event | Bookmark) -> bytes:
        if isinstance(item, Bookmark):
            return bookmark(item.rev)
        entry = item.entry
        if as_table:  # kubectl get -w: each event's object is a Table with one row
            table = tables.table(kind, [entry.obj], {"resourceVersion": str(entry.rev)}, include)
            return orjson.dumps({"type": item.type, "object": table}) + b"\n"
        if metadata_only:  # a metadata informer: each object as a PartialObjectMetadata
            return orjson.dumps({"type": item.type, "object": partial.of_object(entry.obj)}) + b"\n"
        return b'{"type":"' + item.type.encode() + b'","object":' + entry.raw + b"}\n"

    async def stream() -> AsyncIterator[bytes]:
        """Initial events, then live ones in batches, until the deadline or a Closed.

        A closed watch (its client fell behind, or the server is stopping) just
        ends the stream, as upstream does; the client re-watches or relists.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            if initial:
                yield b"".join(encode(e) for e in initial)
            if end_rev is not None:
                yield bookmark(end_rev, initial_end=True)
            while (remaining := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    return
                batch: list[bytes] = []
                size = 0
                # Whatever else is waiting goes out in the same chunk (bounded, so a
                # slow client holds at most one batch in the server's write buffer).
                while not isinstance(item, Closed):
                    batch.append(encode(item))
                    size += len(batch[-1])
                    if watcher.queue.empty() or size >= WATCH_BATCH_BYTES:
                        break
                    item = watcher.queue.get_nowait()
                if batch:
                    yield b"".join(batch)
                if isinstance(item, Closed):
                    return
        finally:
            watcher.close()

    return StreamingResponse(stream(), media_type=JSON, headers={"Transfer-Encoding": "chunked"})
