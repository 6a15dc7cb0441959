"""The read and write path every resource shares (upstream's ``genericregistry.Store``).

A write goes through the same steps for every kind:

1. **admit**: fill in what the server owns (uid, creationTimestamp, a name for
   ``generateName``), apply the kind's strategy (status on create, status kept
   on update), set ``generation``;
2. **default** then **validate** (422 with one cause per field);
3. **commit**: one etcd transaction that compares the revision the write is based
   on (absent for a create, the read ``mod_revision`` for an update) and puts the
   object together with whatever the strategy must commit with it (a Service's
   addresses). Nothing is written unless everything is.

Updates that name no resourceVersion, patches and applies never conflict: when
another writer wins the race they are applied again to the winner's version
(``guaranteed_update``), like upstream, until they go through. Only an update that
names a resourceVersion (a precondition) gets 409 when that version is stale.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from minik.api import errors
from minik.api import field as fielderr
from minik.api.defaults import apply_defaults
from minik.api.selectors import FieldSelector, LabelSelector, SelectorError
from minik.api.validation import validate_create, validate_status_update, validate_update
from minik.apiserver import etcd, priority, wiretypes, zerovalues
from minik.apiserver.allocator import WritePlan
from minik.apiserver.registry import Registry, ResourceType
from minik.apiserver.strategies import Strategy
from minik.apiserver.turnstile import Turnstile
from minik.apiserver.watchcache import Event, Predicate, WatchCache, Watcher, decode

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Mutation = Callable[[Obj], Obj]
# (``Storage.list`` shadows the builtin inside the class body, hence these aliases.)
_Items = list[bytes]
_Events = list[Event]
_Objects = list[Obj]

#: Creates that allocate (a Service's ClusterIP) retry this often when a chosen address is taken.
MAX_RETRIES = 16
#: How long an update without a resourceVersion keeps re-applying itself to the
#: latest version while other writers keep winning. Upstream retries for as long as
#: the request may run; minik stops well inside its clients' 60 s request timeout.
RETRY_SECONDS = 30.0
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's: no vowels, no look-alikes


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(obj: Obj) -> bytes:
    """The stored form: everything but ``metadata.resourceVersion`` (that is etcd's)."""
    meta = obj.get("metadata", {})
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


# -- list options ----------------------------------------------------------------------------


@dataclass
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str | None = None
    resource_version_match: str = ""
    send_initial_events: bool = False
    allow_bookmarks: bool = False
    timeout_seconds: int | None = None


def make_predicate(rt: ResourceType, opts: ListOptions) -> tuple[Predicate, str | None]:
    """The filter for a list or watch, plus a name it pins (``metadata.name=x``), if any."""
    try:
        labels = LabelSelector.parse(opts.label_selector) if opts.label_selector else None
        fields = FieldSelector.parse(opts.field_selector) if opts.field_selector else None
    except SelectorError as e:
        raise errors.bad_request(str(e)) from None
    if fields is not None:
        getters = rt.field_getters
        for name in sorted(fields.fields()):
            if name not in getters:
                raise errors.bad_request(
                    f"field label not supported: {name} (supported for {rt.plural}: "
                    + ", ".join(sorted(getters))
                    + ")"
                )
    if labels is not None and labels.empty:
        labels = None
    pinned = fields.exact_value("metadata.name") if fields is not None else None

    if labels is None and fields is None:
        return (lambda obj: True), None

    def predicate(obj: Obj) -> bool:
        if labels is not None and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
            return False
        return fields is None or fields.matches(rt.fields_of(obj))

    return predicate, pinned


INT64_MAX = (1 << 63) - 1
# What Go's strconv.ParseInt takes: Python's int() also takes " 5", "5_000" and Arabic-Indic digits.
_DECIMAL = re.compile(r"[+-]?[0-9]{1,19}")


def parse_int64(value: str, what: str) -> int:
    """A query parameter that upstream declares ``int64``: anything else is 400, not a
    number that overflows further down (etcd, dates)."""
    number = int(value) if _DECIMAL.fullmatch(value) else None
    if number is None or not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise errors.bad_request(f'invalid value for {what}: "{value}" is not a 64-bit integer')
    return number


def _encode_continue(rev: int, start: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": start})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        rv, start = data["rv"], data["start"]
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: invalid continue token") from None
    # A token is the client's to keep and send back: check it as the input it is.
    if not isinstance(rv, int) or isinstance(rv, bool) or not 0 < rv <= INT64_MAX:
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion")
    if not isinstance(start, str):
        raise errors.bad_request("continue key is not valid: invalid continue token")
    return rv, start


def _parse_rv(value: str, what: str = "resourceVersion") -> int:
    """A resourceVersion is an etcd revision: a non-negative int64."""
    rv = int(value) if _DECIMAL.fullmatch(value) else -1
    if not 0 <= rv <= INT64_MAX:
        raise errors.bad_request(f'invalid {what} "{value}": must be a non-negative integer')
    return rv


# -- dryRun ----------------------------------------------------------------------------------

_OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def _check_dry_run(values: list[str], options_kind: str) -> None:
    if any(v != "All" for v in values):
        raise errors.invalid(
            options_kind, "", [fielderr.not_supported("dryRun", values, ["All"])], "meta.k8s.io"
        )


def dry_run_requested(query: dict[str, str], method: str) -> bool:
    """``?dryRun=All`` on a write; any other value is 422, as upstream (a typo must not
    turn a dry run into a real write, nor the other way round). Reads ignore it."""
    value = query.get("dryRun")
    options_kind = _OPTIONS_KIND.get(method)
    if not value or options_kind is None:
        return False
    _check_dry_run([value], options_kind)
    return True


# -- delete options --------------------------------------------------------------------------

_DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: Obj | None, query: dict[str, str]) -> DeleteOptions:
        body = body or {}
        if body and body.get("kind") not in (None, "DeleteOptions"):
            raise errors.bad_request(f'expected a DeleteOptions body, got kind "{body.get("kind")}"')
        wiretypes.check_body(body, wiretypes.shape_of(_DELETE_OPTIONS), "DeleteOptions", "v1")
        opts = cls()
        grace = body.get("gracePeriodSeconds")
        if grace is None and query.get("gracePeriodSeconds") not in (None, ""):
            grace = parse_int64(query["gracePeriodSeconds"], "gracePeriodSeconds")
        opts.grace_period_seconds = grace
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                [fielderr.not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"])],
            )
        opts.propagation_policy = policy
        pre = body.get("preconditions") or {}  # its shape was checked above
        opts.precondition_uid = pre.get("uid")
        opts.precondition_rv = pre.get("resourceVersion")
        dry = body.get("dryRun")
        if dry is not None:
            _check_dry_run(dry, "DeleteOptions")
            opts.dry_run = bool(dry)
        else:
            opts.dry_run = dry_run_requested(query, "DELETE")
        return opts


# -- the storage -------------------------------------------------------------------------------


class Storage:
    """Create, read, update, patch, delete and watch any registered resource."""

    def __init__(self, client: etcd.EtcdClient, cache: WatchCache, registry: Registry) -> None:
        self.etcd = client
        self.cache = cache
        self.registry = registry
        self._namespaces = registry.lookup("", "v1", "namespaces")
        self._priority_classes_rt = registry.lookup("scheduling.k8s.io", "v1", "priorityclasses")
        self._priority_classes = priority.PriorityClasses(
            self._cached_priority_classes, self._get_priority_class
        )
        self._writers = Turnstile()

    # ----- reads ---------------------------------------------------------------------------

    async def _read(self, rt: ResourceType, namespace: str | None, name: str) -> tuple[Obj, int]:
        kv = await self.etcd.get(rt.key(namespace, name).encode())
        if kv is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return decode(kv.value, kv.mod_revision), kv.mod_revision

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj, _ = await self._read(rt, namespace, name)
        return obj

    async def list(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> bytes:
        """A whole ``<Kind>List`` response body, from the cache or (paged/exact) from etcd."""
        predicate, _ = make_predicate(rt, opts)
        rv = opts.resource_version
        if opts.resource_version_match and opts.resource_version_match not in ("Exact", "NotOlderThan"):
            raise errors.bad_request(
                f'resourceVersionMatch: Unsupported value: "{opts.resource_version_match}": '
                'supported values: "Exact", "NotOlderThan"'
            )
        if opts.resource_version_match and not rv:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if opts.continue_token or (opts.limit > 0 and rv != "0") or opts.resource_version_match == "Exact":
            return await self._list_from_etcd(rt, namespace, opts, predicate)
        if rv == "0":
            pass  # "any": the cache as it is
        elif rv:
            wanted = _parse_rv(rv)
            if not await self.cache.wait_for(wanted, 3.0):
                raise _too_large_rv(wanted)
        elif not await self.cache.wait_fresh(3.0):
            # The cache is lagging; answer from etcd rather than serve stale data.
            return await self._list_from_etcd(rt, namespace, opts, predicate)
        entries = self.cache.cache(rt).list(namespace, predicate)
        return self._list_body(rt, self.cache.rev, [e.raw for e in entries], None)

    def _list_body(
        self, rt: ResourceType, rev: int, items: _Items, cont: str | None, remaining: int | None = None
    ) -> bytes:
        meta: Obj = {"resourceVersion": str(rev)}
        if cont:
            meta["continue"] = cont
        if remaining is not None:
            meta["remainingItemCount"] = remaining
        head = orjson.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        return head[:-1] + b',"items":[' + b",".join(items) + b"]}"

    async def _list_from_etcd(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions, predicate: Predicate
    ) -> bytes:
        prefix = rt.storage_prefix
        if namespace is not None and rt.namespaced:
            prefix += f"{namespace}/"
        revision, start = 0, ""
        if opts.continue_token:
            revision, start = _decode_continue(opts.continue_token)
        elif opts.resource_version_match == "Exact" and opts.resource_version:
            revision = _parse_rv(opts.resource_version)
        limit = opts.limit if opts.limit > 0 else 0
        items: list[bytes] = []
        cont: str | None = None
        # How many objects a cut-short page left out is known exactly only when nothing
        # filters the list (upstream sets remainingItemCount only then, too).
        unfiltered = not opts.label_selector.strip() and not opts.field_selector.strip()
        remaining: int | None = None
        start_key = (prefix + start).encode() if start else None
        try:
            while True:
                page = await self.etcd.range(prefix.encode(), start=start_key, limit=limit, revision=revision)
                revision = revision or page.revision
                for i, kv in enumerate(page.kvs):
                    obj = decode(kv.value, kv.mod_revision)
                    if predicate(obj):
                        items.append(orjson.dumps(obj))
                    if limit and len(items) >= limit:
                        if page.more or i < len(page.kvs) - 1:
                            resume = kv.key.decode()[len(prefix) :] + "\0"
                            cont = _encode_continue(revision, resume)
                            if unfiltered:  # etcd counted every key from this page's start on
                                remaining = page.count - (i + 1)
                        break
                else:
                    if page.more and page.kvs:
                        start_key = page.kvs[-1].key + b"\0"
                        continue  # the filter dropped some: read on to fill the page
                break
        except etcd.CompactedError:
            if opts.continue_token:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter."
                ) from None
            raise errors.gone(f"too old resource version: {revision}") from None
        except etcd.FutureRevisionError:
            raise _too_large_rv(revision) from None
        return self._list_body(rt, revision, items, cont, remaining)

    # ----- watch ---------------------------------------------------------------------------

    async def watch(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions
    ) -> tuple[Watcher, _Events, int | None]:
        """Register a watch; returns the watcher, the events to send first, and — for
        ``sendInitialEvents`` — the revision of the "initial events end" bookmark."""
        predicate, _ = make_predicate(rt, opts)
        rv = opts.resource_version
        since: int | None
        if opts.send_initial_events:
            causes = []
            if opts.resource_version_match != "NotOlderThan":
                causes.append(
                    fielderr.forbidden(
                        "resourceVersionMatch",
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    )
                )
            if not opts.allow_bookmarks:
                causes.append(
                    fielderr.forbidden(
                        "allowWatchBookmarks", "sendInitialEvents requires allowWatchBookmarks=true"
                    )
                )
            if causes:
                raise errors.invalid("ListOptions", "", causes, "meta.k8s.io")
            if rv and rv != "0":
                if not await self.cache.wait_for(_parse_rv(rv), 3.0):
                    raise _too_large_rv(_parse_rv(rv))
            elif not rv:
                await self.cache.wait_fresh(3.0)
            since = None
        elif rv == "0":
            since = None
        elif rv:
            since = _parse_rv(rv)
            if not await self.cache.wait_for(since, 3.0):
                raise _too_large_rv(since)
        else:
            await self.cache.wait_fresh(3.0)
            since = None
        registered = self.cache.register(
            rt,
            namespace=namespace if rt.namespaced else None,
            predicate=predicate,
            since=since,
            bookmarks=opts.allow_bookmarks,
        )
        if registered is None:
            assert since is not None
            raise errors.gone(f"too old resource version: {since} ({self.cache.cache(rt).oldest})")
        watcher, initial = registered
        end_rev = self.cache.rev if opts.send_initial_events else None
        return watcher, list(initial), end_rev

    # ----- create --------------------------------------------------------------------------

    async def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: Obj,
        *,
        dry_run: bool = False,
        finish: Callable[[Obj], None] | None = None,
    ) -> Obj:
        """Create ``obj``. ``finish`` sees the admitted object last, before it is committed
        (the API layer records field ownership there)."""
        _check_type(rt, obj)
        wiretypes.check_body(obj, _shape(rt), rt.kind, rt.version)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            base = meta.get("generateName")
            if not base:
                raise errors.invalid(
                    rt.kind,
                    "",
                    [fielderr.required("metadata.name", "name or generateName is required")],
                    rt.group,
                )
            if isinstance(base, str) and len(base) > 248:
                base = base[:248]
            meta["name"] = str(base) + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
        name = str(meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        for server_owned in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(server_owned, None)
        if rt.strategy.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        rt.strategy.prepare_for_create(obj)
        await self._admit_create(rt, obj)
        apply_defaults(obj)
        problems = validate_create(obj, namespaced=rt.namespaced, kind=(rt.group, rt.kind))
        if problems:
            raise errors.invalid(rt.kind, name, problems, rt.group)
        zerovalues.fill(obj, rt.group, rt.version, rt.kind)
        if finish is not None:
            finish(obj)
        if rt.namespaced:
            await self._check_namespace_open(str(namespace))
        key = rt.key(namespace, name).encode()
        # Strategies that allocate (Services) write their choices into the object; a
        # retry after a lost race must start again from what the client sent.
        allocates = type(rt.strategy).plan_create is not Strategy.plan_create
        pristine = copy.deepcopy(obj) if allocates else obj
        for attempt in range(MAX_RETRIES):
            candidate = copy.deepcopy(pristine) if allocates and attempt else obj
            plan = rt.strategy.plan_create(candidate)
            if dry_run:
                return candidate
            value = _encode(candidate)
            result = await self.etcd.txn(
                [etcd.absent(key), *plan.compares],
                [etcd.put(key, value), *plan.ops],
                [etcd.get(key), *[etcd.get(k) for k in plan.conflicts]],
            )
            if result.succeeded:
                candidate["metadata"]["resourceVersion"] = str(result.revision)
                return candidate
            if result.reads.get(key) is not None:
                raise errors.already_exists(rt.plural, name, rt.group)
            _raise_allocation_conflict(plan, result)
        raise errors.internal("could not allocate after many attempts; the range may be full")

    # ----- admission that reads other objects (upstream's admission plugins) ---------------

    async def _admit_create(self, rt: ResourceType, obj: Obj) -> None:
        """A new pod gets its priority from its PriorityClass; one default class at most."""
        if (rt.group, rt.kind) == ("", "Pod"):
            await priority.admit_pod_create(obj, self._priority_classes)
        elif (rt.group, rt.kind) == ("scheduling.k8s.io", "PriorityClass"):
            priority.admit_priority_class(obj, self._cached_priority_classes())

    def _admit_update_of(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        if (rt.group, rt.kind) == ("", "Pod"):
            priority.keep_pod_priority(new, old)
        elif (rt.group, rt.kind) == ("scheduling.k8s.io", "PriorityClass"):
            priority.admit_priority_class(new, self._cached_priority_classes())

    def _cached_priority_classes(self) -> _Objects:
        if self._priority_classes_rt is None:
            return []
        return [entry.obj for entry in self.cache.cache(self._priority_classes_rt).objects.values()]

    async def _get_priority_class(self, name: str) -> Obj | None:
        rt = self._priority_classes_rt
        if rt is None:
            return None
        entry = self.cache.cache(rt).objects.get(name)
        if entry is not None:
            return entry.obj
        kv = await self.etcd.get(rt.key(None, name).encode())
        return decode(kv.value, kv.mod_revision) if kv is not None else None

    async def _check_namespace_open(self, namespace: str) -> None:
        assert self._namespaces is not None
        entry = self.cache.cache(self._namespaces).objects.get(namespace)
        ns = entry.obj if entry is not None else None
        if ns is None:
            kv = await self.etcd.get(self._namespaces.key(None, namespace).encode())
            if kv is None:
                raise errors.not_found("namespaces", namespace)
            ns = decode(kv.value, kv.mod_revision)
        if ns.get("metadata", {}).get("deletionTimestamp"):
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated"
            )

    # ----- update --------------------------------------------------------------------------

    async def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        finish: Callable[[Obj, Obj], None] | None = None,
    ) -> Obj:
        _check_type(rt, obj)
        wiretypes.check_body(obj, _shape(rt), rt.kind, rt.version)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        meta.setdefault("name", name)  # an update may leave the name to the URL
        _check_identity(rt, meta, name, namespace)
        wanted_rv = meta.get("resourceVersion") or None

        def replace(_current: Obj) -> Obj:
            return copy.deepcopy(obj)

        return await self.guaranteed_update(
            rt,
            namespace,
            name,
            replace,
            subresource=subresource,
            precondition_rv=str(wanted_rv) if wanted_rv else None,
            dry_run=dry_run,
            finish=finish,
        )

    async def guaranteed_update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        mutate: Mutation,
        *,
        subresource: str | None = None,
        precondition_rv: str | None = None,
        dry_run: bool = False,
        server_side: bool = False,
        finish: Callable[[Obj, Obj], None] | None = None,
    ) -> Obj:
        """Read, mutate, admit, commit; on a conflict re-read and try again.

        With ``precondition_rv`` (the client named the version it read) a conflict is
        the client's problem: 409 at once. ``server_side`` writes (deletion marks,
        finalize, binding) may set fields clients may not. ``finish(new, old)`` sees
        the admitted object last, before it is compared and committed. Writers of one
        object in this process take turns (``turnstile.py``), so under contention
        each one usually commits at its first attempt.
        """
        async with self._writers.turn(rt.key(namespace, name).encode()):
            return await self._update_until_applied(
                rt, namespace, name, mutate, subresource, precondition_rv, dry_run, server_side, finish
            )

    async def _update_until_applied(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        mutate: Mutation,
        subresource: str | None,
        precondition_rv: str | None,
        dry_run: bool,
        server_side: bool,
        finish: Callable[[Obj, Obj], None] | None,
    ) -> Obj:
        deadline = asyncio.get_running_loop().time() + RETRY_SECONDS
        # After a lost race the failed transaction hands back the winner's version,
        # so the next attempt starts from it without another read.
        current: tuple[Obj, int] | None = None
        while True:
            old, old_rev = current if current is not None else await self._read(rt, namespace, name)
            current = None
            if precondition_rv is not None and precondition_rv != str(old_rev):
                raise errors.stale_write(rt.plural, name, rt.group)
            new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise errors.bad_request("the result is not an object with metadata")
            new_rv = new["metadata"].get("resourceVersion")
            if new_rv and str(new_rv) != str(old_rev):
                # The body (or patch) names a version: that is a precondition too.
                raise errors.stale_write(rt.plural, name, rt.group)
            new = self._admit_update(rt, new, old, subresource, server_side)
            if finish is not None:
                finish(new, old)
            if _same(new, old):
                return old
            if _finished_deleting(new):
                try:
                    return await self._delete_now(rt, namespace, name, new, old_rev, dry_run)
                except _Retry:
                    _check_retry_budget(deadline, rt, name)
                    continue  # changed since we read it (a finalizer added?): read again
            plan = rt.strategy.plan_update(new, old) if subresource is None else WritePlan()
            if dry_run:
                return new
            key = rt.key(namespace, name).encode()
            result = await self.etcd.txn(
                [etcd.unchanged(key, old_rev), *plan.compares],
                [etcd.put(key, _encode(new)), *plan.ops],
                [etcd.get(key), *[etcd.get(k) for k in plan.conflicts]],
            )
            if result.succeeded:
                new["metadata"]["resourceVersion"] = str(result.revision)
                return new
            winner = result.reads.get(key)
            if winner is None:
                raise errors.not_found(rt.plural, name, rt.group)
            if winner.mod_revision != old_rev:
                if precondition_rv is not None:
                    raise errors.stale_write(rt.plural, name, rt.group)
                # Someone else wrote first: apply the change again to their version.
                current = decode(winner.value, winner.mod_revision), winner.mod_revision
            else:
                # An address this update claims was taken meanwhile: the user's error, or retry.
                _raise_allocation_conflict(plan, result)
            _check_retry_budget(deadline, rt, name)

    def _admit_update(
        self, rt: ResourceType, new: Obj, old: Obj, subresource: str | None, server_side: bool
    ) -> Obj:
        strategy = rt.strategy
        old_meta = old["metadata"]
        # Whatever the body (or a patch) says it is, it is validated -- and defaulted,
        # and stored -- as the resource of the URL; a body that claims to be something
        # else, or another object, is refused rather than given other rules.
        _check_type(rt, new)
        _check_identity(rt, new["metadata"], str(old_meta.get("name", "")), old_meta.get("namespace"))
        wiretypes.check_result(new, _shape(rt), rt.kind, str(old_meta.get("name", "")), rt.group)
        # binding and finalize are written by the server's own code, which may set
        # fields (spec.nodeName, spec.finalizers, conditions) no client update may.
        trusted = subresource in ("binding", "finalize")
        if subresource == "status":
            new = strategy.prepare_for_status_update(new, old)
        elif not trusted:
            strategy.prepare_for_update(new, old)
        meta = new["metadata"]
        if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
            raise errors.conflict(
                rt.plural,
                old_meta.get("name", ""),
                f"Precondition failed: UID in precondition: {meta['uid']}, "
                f"UID in object meta: {old_meta.get('uid')}",
                rt.group,
            )
        for owned in ("uid", "creationTimestamp", "name", "namespace"):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        if not server_side:
            for owned in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                if owned in old_meta:
                    meta[owned] = old_meta[owned]
                else:
                    meta.pop(owned, None)
        meta.pop("resourceVersion", None)
        meta.pop("selfLink", None)
        if strategy.has_generation:
            generation = int(old_meta.get("generation") or 1)
            if subresource is None and _spec_part(new) != _spec_part(old):
                generation += 1
            meta["generation"] = generation
        else:
            meta.pop("generation", None)
        if subresource is None:
            self._admit_update_of(rt, new, old)
        apply_defaults(new)
        if subresource is not None:
            problems = validate_status_update(new, old, namespaced=rt.namespaced, kind=(rt.group, rt.kind))
        else:
            problems = validate_update(new, old, namespaced=rt.namespaced, kind=(rt.group, rt.kind))
        if problems:
            raise errors.invalid(rt.kind, str(old_meta.get("name", "")), problems, rt.group)
        zerovalues.fill(new, rt.group, rt.version, rt.kind)
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        return new

    # ----- delete --------------------------------------------------------------------------

    async def delete(
        self, rt: ResourceType, namespace: str | None, name: str, opts: DeleteOptions
    ) -> tuple[Obj, bool]:
        """Delete, or mark for deletion. Returns (object, deleted_now)."""
        if (rt.group, rt.kind) == ("scheduling.k8s.io", "PriorityClass"):
            priority.refuse_system_class_delete(name)
        deadline = asyncio.get_running_loop().time() + RETRY_SECONDS
        while True:
            obj, rev = await self._read(rt, namespace, name)
            meta = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    rt.plural,
                    name,
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                    f"UID in object meta: {meta.get('uid')}",
                    rt.group,
                )
            if opts.precondition_rv and opts.precondition_rv != str(rev):
                raise errors.conflict(
                    rt.plural,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                    f"ResourceVersion in object meta: {rev}",
                    rt.group,
                )
            marked = self._mark_deleting(rt, obj, opts)
            if marked is None:
                if opts.dry_run:
                    return obj, True
                try:
                    return await self._delete_now(rt, namespace, name, obj, rev, False), True
                except _Retry:
                    _check_retry_budget(deadline, rt, name)
                    continue
            if _same(marked, obj):
                return obj, False
            if opts.dry_run:
                return marked, False
            key = rt.key(namespace, name).encode()
            result = await self.etcd.txn(
                [etcd.unchanged(key, rev)], [etcd.put(key, _encode(marked))], [etcd.get(key)]
            )
            if result.succeeded:
                marked["metadata"]["resourceVersion"] = str(result.revision)
                return marked, False
            if result.reads.get(key) is None:
                raise errors.not_found(rt.plural, name, rt.group)
            _check_retry_budget(deadline, rt, name)

    def _mark_deleting(self, rt: ResourceType, obj: Obj, opts: DeleteOptions) -> Obj | None:
        """The object marked for (graceful or finalizer-gated) deletion, or None: delete now."""
        meta = obj["metadata"]
        grace = rt.strategy.grace_period(obj, opts.grace_period_seconds)
        finalizers = list(meta.get("finalizers") or [])
        already = "deletionTimestamp" in meta
        if not already:
            if opts.propagation_policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if opts.propagation_policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
        ns_finalizers = rt.kind == "Namespace" and bool(obj.get("spec", {}).get("finalizers"))
        if not finalizers and not ns_finalizers and grace == 0:
            return None
        marked = copy.deepcopy(obj)
        mmeta = marked["metadata"]
        if finalizers:
            mmeta["finalizers"] = finalizers
        if not already:
            mmeta["deletionTimestamp"] = _deletion_timestamp(grace)
            mmeta["deletionGracePeriodSeconds"] = grace
        elif grace < int(mmeta.get("deletionGracePeriodSeconds") or 0):
            # A shorter grace period (e.g. the kubelet's final delete with 0) wins.
            mmeta["deletionGracePeriodSeconds"] = grace
            if grace == 0 and not finalizers and not ns_finalizers:
                return None
        if rt.kind == "Namespace":
            marked.setdefault("status", {})["phase"] = "Terminating"
        return marked

    async def _delete_now(
        self, rt: ResourceType, namespace: str | None, name: str, obj: Obj, rev: int, dry_run: bool
    ) -> Obj:
        if dry_run:
            return obj
        plan = rt.strategy.plan_delete(obj)
        key = rt.key(namespace, name).encode()
        result = await self.etcd.txn(
            [etcd.unchanged(key, rev)], [etcd.delete(key), *plan.ops], [etcd.get(key)]
        )
        if not result.succeeded:
            if result.reads.get(key) is None:
                raise errors.not_found(rt.plural, name, rt.group)
            raise _Retry()
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(result.revision)
        return obj

    async def delete_collection(
        self, rt: ResourceType, namespace: str | None, list_opts: ListOptions, opts: DeleteOptions
    ) -> Obj:
        body = await self.list(
            rt,
            namespace,
            ListOptions(label_selector=list_opts.label_selector, field_selector=list_opts.field_selector),
        )
        items = orjson.loads(body)["items"]
        deleted = []
        for item in items:
            meta = item["metadata"]
            if priority.is_system_class(rt.group, rt.kind, meta["name"]):
                continue  # the cluster's own classes stay (deleting one alone is refused)
            try:
                obj, _ = await self.delete(rt, meta.get("namespace"), meta["name"], opts)
                deleted.append(obj)
            except errors.APIError as e:
                if e.code != 404:
                    raise
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.cache.rev)},
            "items": deleted,
        }


def _check_retry_budget(deadline: float, rt: ResourceType, name: str) -> None:
    """Give up on an update that kept losing races for :data:`RETRY_SECONDS` (504, as upstream's timeout)."""
    if asyncio.get_running_loop().time() > deadline:
        raise errors.timeout(
            f"Timeout: the update of {rt.plural} {name!r} kept losing to concurrent writers "
            f"for {RETRY_SECONDS:.0f}s; try again"
        )


class _Retry(Exception):
    """The object changed between read and delete: read again."""


def _same(a: Obj, b: Obj) -> bool:
    return _encode(a) == _encode(b)


def _finished_deleting(obj: Obj) -> bool:
    """An update that removed the last finalizer of an object being deleted deletes it."""
    meta = obj["metadata"]
    if "deletionTimestamp" not in meta or meta.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace" and obj.get("spec", {}).get("finalizers"):
        return False
    return int(meta.get("deletionGracePeriodSeconds") or 0) == 0


def _deletion_timestamp(grace: int) -> str:
    """When a graceful delete ends: now + grace, but never past the last date RFC 3339
    can write. Any int64 grace period is accepted (as upstream), and a pod that asks
    for centuries must still be deletable -- not a 500 from a date that overflows."""
    try:
        when = datetime.now(UTC) + timedelta(seconds=grace)
    except OverflowError:
        when = datetime.max.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _raise_allocation_conflict(plan: WritePlan, result: etcd.TxnResult) -> None:
    """A claimed address was taken: raise the user's error, or return to retry."""
    for key, make_error in plan.conflicts.items():
        if result.reads.get(key) is not None and make_error is not None:
            raise make_error()


def _too_large_rv(rv: int) -> errors.APIError:
    err = errors.timeout(f"Too large resource version: {rv}, current: unknown")
    err.details = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return err


def _shape(rt: ResourceType) -> wiretypes.Shape | None:
    return wiretypes.shape_for(rt.group, rt.version, rt.kind)


def _check_type(rt: ResourceType, obj: Obj) -> None:
    """The body must be of the resource of the URL (or leave kind and apiVersion out).

    Everything after this -- defaults, validation, immutability rules, what is stored --
    follows ``rt``; a body that names another kind must not choose other (or no) rules.
    """
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind not in (None, "", rt.kind):
        raise errors.bad_request(
            f'the kind in the body ("{kind}") does not match the resource of the request '
            f'({rt.plural}, kind "{rt.kind}")'
        )
    if api_version not in (None, "", rt.api_version):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
        )
    obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version


def _check_identity(rt: ResourceType, meta: Obj, name: str, namespace: str | None) -> None:
    """An update or patch may not rename the object or move it to another namespace."""
    if meta.get("name") != name:
        raise errors.bad_request(
            f"the name of the object ({meta.get('name') or ''}) does not match the name on the URL ({name})"
        )
    if rt.namespaced and meta.get("namespace") not in (None, "", namespace):
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
