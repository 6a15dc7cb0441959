"""The only code in minik that talks to etcd.

etcd is a key-value store with a global, monotonically increasing *revision*:
every write (put or delete, or a whole transaction) bumps it by one, and every
key remembers the revision of its last write (``mod_revision``) and of its
creation (``create_revision``). Kubernetes builds its whole concurrency story on
that:

* ``metadata.resourceVersion`` of an object *is* the ``mod_revision`` of its key.
* A create is a transaction "if ``create_revision(key) == 0`` then put": of two
  concurrent creates of one name exactly one wins.
* An update is "if ``mod_revision(key) == <the version the client read>`` then
  put": a client that read a stale object gets a conflict instead of
  silently overwriting someone else's change (optimistic concurrency).
* A watch from revision N replays every change after N, in order, until etcd
  *compacts* its history; older revisions are then gone for good.

We use the protobuf stubs that the ``aetcd`` package ships, on our own gRPC
channel, because we need what its convenience layer does not expose: ranges
with ``limit`` and ``revision`` (paged lists, consistent snapshots), raw
transactions with several compares, and a watch stream we can restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aetcd import rpc

log = logging.getLogger(__name__)

#: gRPC's default 4 MiB receive limit breaks large ranges; lists are paged anyway.
_MAX_MESSAGE = 256 * 1024 * 1024
_RANGE_PAGE = 2000


class EtcdError(Exception):
    """etcd could not be reached or refused a request."""


class CompactedError(EtcdError):
    """The requested revision has been compacted away."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"revision compacted (oldest available: {compact_revision})")
        self.compact_revision = compact_revision


class FutureRevisionError(EtcdError):
    """The requested revision is newer than etcd's current revision."""


class UnavailableError(EtcdError):
    """etcd cannot be reached (down, restarting, no leader) or did not answer in time.

    ``timed_out`` tells the two apart: after a timeout a write may or may not have
    been applied; a refused connection applied nothing.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class RequestTooLargeError(EtcdError):
    """etcd refused a request larger than its ``--max-request-bytes`` (1.5 MiB by default)."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int  # etcd's revision at the time of the read (the snapshot read at)
    more: bool
    count: int


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int
    #: For failed transactions: the values read by the failure branch's gets, by key.
    reads: dict[bytes, KeyValue | None]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    deleted: bool
    kv: KeyValue
    prev: KeyValue | None


# -- transaction building blocks -------------------------------------------------------------


def absent(key: bytes) -> Any:
    """Compare: the key does not exist (its create revision is 0)."""
    return rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.CREATE, create_revision=0)


def unchanged(key: bytes, mod_revision: int) -> Any:
    """Compare: the key was last written at exactly ``mod_revision``."""
    return rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, mod_revision=mod_revision)


def put(key: bytes, value: bytes) -> Any:
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))


def delete(key: bytes) -> Any:
    return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key))


def get(key: bytes) -> Any:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key))


def prefix_end(prefix: bytes) -> bytes:
    """The exclusive end of the key range that holds every key starting with ``prefix``."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def classify(code: grpc.StatusCode, details: str) -> EtcdError:
    """The EtcdError for a failed gRPC call, by what the caller can do about it."""
    message = f"etcd {code.name}: {details}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(message)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED or "request timed out" in details:
        return UnavailableError(message, timed_out=True)
    if "request is too large" in details or "larger than max" in details:
        # etcd's own limit ("etcdserver: request is too large"), or gRPC's message
        # limit a little above it ("received message larger than max").
        return RequestTooLargeError(message)
    if any(s in details for s in ("no leader", "leader changed", "too many requests")):
        return UnavailableError(message)
    return EtcdError(message)


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key, kv.value, kv.mod_revision, kv.create_revision)


class EtcdClient:
    """A small async etcd v3 client: get, paged range, transaction, watch, compact."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float = 10.0) -> None:
        hosts = [e.removeprefix("http://").removeprefix("https://") for e in endpoints]
        # "ipv4:a,b,c" lets gRPC fail over between the members of an etcd cluster.
        target = hosts[0] if len(hosts) == 1 else "ipv4:" + ",".join(hosts)
        self.endpoints = list(endpoints)
        self._timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.keepalive_time_ms", 30_000),
                # After etcd comes back, reconnect within a second or two (gRPC's
                # default backoff grows to two minutes, far past our Retry-After).
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2_000),
            ],
        )
        self._kv = rpc.KVStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        self._maintenance = rpc.MaintenanceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (e.details() or ""):
                raise CompactedError(0) from e
            if e.code() == grpc.StatusCode.OUT_OF_RANGE and "future" in (e.details() or ""):
                raise FutureRevisionError(e.details() or "future revision") from e
            raise classify(e.code(), e.details() or "") from e

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until etcd answers, or raise EtcdError after ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await self.current_revision()
                return
            except EtcdError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def get(self, key: bytes) -> KeyValue | None:
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=key))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def current_revision(self) -> int:
        """etcd's current revision (the header of a cheap read)."""
        resp = await self._call(self._kv.Range, rpc.RangeRequest(key=b"\0", count_only=True))
        return int(resp.header.revision)

    async def range(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        limit: int = 0,
        revision: int = 0,
    ) -> RangeResult:
        """One page of keys under ``prefix`` (from ``start`` on), at ``revision`` (0 = now)."""
        request = rpc.RangeRequest(
            key=start or prefix, range_end=prefix_end(prefix), limit=limit, revision=revision
        )
        resp = await self._call(self._kv.Range, request)
        return RangeResult(
            [_kv(kv) for kv in resp.kvs], int(resp.header.revision), bool(resp.more), int(resp.count)
        )

    async def range_all(self, prefix: bytes, *, revision: int = 0) -> RangeResult:
        """Every key under ``prefix`` at one revision, read in pages."""
        first = await self.range(prefix, limit=_RANGE_PAGE, revision=revision)
        kvs = list(first.kvs)
        more = first.more
        while more:
            page = await self.range(
                prefix, start=kvs[-1].key + b"\0", limit=_RANGE_PAGE, revision=first.revision
            )
            kvs.extend(page.kvs)
            more = page.more
        return RangeResult(kvs, first.revision, False, len(kvs))

    async def txn(
        self, compares: Sequence[Any], success: Sequence[Any], failure: Sequence[Any] = ()
    ) -> TxnResult:
        resp = await self._call(
            self._kv.Txn, rpc.TxnRequest(compare=compares, success=success, failure=failure)
        )
        reads: dict[bytes, KeyValue | None] = {}
        if not resp.succeeded:
            for op, r in zip(failure, resp.responses, strict=False):
                if op.WhichOneof("request") == "request_range":
                    key = op.request_range.key
                    kvs = r.response_range.kvs
                    reads[key] = _kv(kvs[0]) if kvs else None
        return TxnResult(bool(resp.succeeded), int(resp.header.revision), reads)

    async def compact(self, revision: int) -> None:
        # CompactedError: someone (another apiserver) compacted further already.
        with contextlib.suppress(CompactedError):
            await self._call(self._kv.Compact, rpc.CompactionRequest(revision=revision))

    async def watch(self, prefix: bytes, *, start_revision: int) -> AsyncIterator[list[WatchEvent]]:
        """Yield batches of changes under ``prefix`` from ``start_revision`` on, in order.

        Raises CompactedError when ``start_revision`` is no longer in etcd's history,
        and EtcdError when the stream breaks; the caller restarts from its last revision.
        """
        create = rpc.WatchCreateRequest(
            key=prefix, range_end=prefix_end(prefix), start_revision=start_revision, prev_kv=True
        )
        requests: asyncio.Queue[Any] = asyncio.Queue()
        await requests.put(rpc.WatchRequest(create_request=create))

        async def request_stream() -> AsyncIterator[Any]:
            while True:
                yield await requests.get()

        call = self._watch.Watch(request_stream())
        try:
            async for resp in call:
                if resp.compact_revision:
                    raise CompactedError(int(resp.compact_revision))
                if resp.canceled:
                    raise EtcdError(f"etcd cancelled the watch: {resp.cancel_reason}")
                if resp.events:
                    yield [
                        WatchEvent(
                            e.type == rpc.Event.DELETE,
                            _kv(e.kv),
                            _kv(e.prev_kv) if e.HasField("prev_kv") else None,
                        )
                        for e in resp.events
                    ]
        except grpc.aio.AioRpcError as e:
            raise EtcdError(f"etcd watch broke: {e.code().name}: {e.details()}") from e
        finally:
            call.cancel()
