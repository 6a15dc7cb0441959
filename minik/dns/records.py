"""The record index: every name minik-dns serves, kept in step with the API objects.

:class:`RecordIndex` is fed Services, EndpointSlices and Namespaces (by the
informers in :mod:`minik.dns.watch`, or by hand in tests) and answers one
question fast: *what records does this name have, and does it exist at all?*

**Lookups are one dict hit.** Everything is computed when objects change, not
when queries arrive: ``get(name)`` returns the name's RRsets (type → records)
straight from a dict. Writes are rare (a pod becoming ready), reads are
thousands per second.

**Owners.** Each Service (together with its EndpointSlices) *owns* the records
:func:`~minik.dns.schema.service_records` derives from it. When the Service or
one of its slices changes, only that Service's records are recomputed; the
index compares them with what the Service owned before and touches only the
names that differ. Slices find their Service through the
``kubernetes.io/service-name`` label; a slice may arrive before its Service
(informers are independent streams) and is simply kept until it does. Two
owners may hold records under one name — two headless Services selecting the
same pod both publish a PTR for its address — so each name's RRsets are the
merge of its owners' records.

**Existence, and why it needs reference counts.** DNS distinguishes a name that
does not exist (NXDOMAIN: "nothing here, nor below") from a name that exists
without records of the asked type (NODATA: NOERROR with an empty answer). A name
exists if it has records *or has anything below it* (an "empty non-terminal",
RFC 8020): ``default.svc.cluster.local`` holds no record, yet answering it with
NXDOMAIN would tell resolvers that ``web.default.svc.cluster.local`` cannot exist
either. So every owner also contributes the set of names that exist because of
it — its record names, all their ancestors up to the zone, and the namespace
subtrees — and the index counts, per name, how many owners keep it alive.

**Change tracking.** :attr:`generation` grows on every change that alters what
is served (an update that changes nothing DNS-visible, like a resync, leaves it
alone); the server keys its answer cache on it. :attr:`serial` is the zone's SOA
serial: it grows with every change and starts from the clock (seconds since the
epoch), so a restarted server does not go back to serials it already handed out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minik.dns.names import REVERSE_V4, REVERSE_V6, ancestors, is_subdomain, is_valid, normalize
from minik.dns.rr import RData
from minik.dns.schema import (
    SERVICE_NAME_LABEL,
    Records,
    namespace_names,
    service_records,
    static_records,
)

Obj = Mapping[str, Any]
#: One name's records by type; an empty mapping means "exists, no records".
RRSets = Mapping[int, tuple[RData, ...]]
#: ("service", ns, name), ("namespace", name, "") or ("static", "", "").
Owner = tuple[str, str, str]
Key = tuple[str, str]

EMPTY: RRSets = {}
STATIC: Owner = ("static", "", "")


@dataclass(frozen=True)
class _Owned:
    records: Records = field(default_factory=dict)
    names: frozenset[str] = frozenset()


_NOTHING = _Owned()


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


class RecordIndex:
    """Records for one cluster domain, built from Service, EndpointSlice and Namespace dicts."""

    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = normalize(domain)
        if not self.domain:
            raise ValueError("the cluster domain must not be empty (the root zone is not ours to serve)")
        self.generation = 0
        self.serial = int(time.time())
        self._services: dict[Key, Obj] = {}
        self._slices: dict[Key, Obj] = {}
        self._slice_service: dict[Key, str] = {}  # slice → the service name it belongs to
        self._slices_of: dict[Key, set[str]] = {}  # service → its slice names
        self._owned: dict[Owner, _Owned] = {}
        self._owners_of: dict[str, set[Owner]] = {}
        self._rrsets: dict[str, RRSets] = {}
        self._exists: dict[str, int] = {}  # name → how many owners keep it in existence
        records, names = static_records(self.domain)
        self._set(STATIC, records, names)

    # -- queries ----------------------------------------------------------------------------------

    def get(self, name: str) -> RRSets | None:
        """The RRsets of ``name`` (canonical spelling); ``None`` if the name does not exist."""
        rrsets = self._rrsets.get(name)
        if rrsets is not None:
            return rrsets
        return EMPTY if name in self._exists else None

    def exists(self, name: str) -> bool:
        return name in self._exists

    def zone_of(self, name: str) -> str | None:
        """The zone this index is authoritative for that holds ``name``, if any.

        Besides the cluster domain, the index answers the reverse trees
        (``in-addr.arpa``, ``ip6.arpa``) for the addresses it knows.
        """
        for zone in (self.domain, REVERSE_V4, REVERSE_V6):
            if is_subdomain(name, zone):
                return zone
        return None

    def __len__(self) -> int:
        """How many names exist (with or without records)."""
        return len(self._exists)

    @property
    def record_count(self) -> int:
        return sum(len(datas) for rrsets in self._rrsets.values() for datas in rrsets.values())

    # -- feeding ----------------------------------------------------------------------------------

    def apply(self, obj: Obj) -> None:
        """Add or update a Service, EndpointSlice or Namespace (by ``kind``); others are ignored."""
        kind = obj.get("kind")
        if kind == "Service":
            self.upsert_service(obj)
        elif kind == "EndpointSlice":
            self.upsert_endpointslice(obj)
        elif kind == "Namespace":
            self.upsert_namespace(obj)

    def remove(self, obj: Obj) -> None:
        """The deletion counterpart of :meth:`apply`."""
        kind = obj.get("kind")
        namespace, name = _key(obj)
        if kind == "Service":
            self.delete_service(namespace, name)
        elif kind == "EndpointSlice":
            self.delete_endpointslice(namespace, name)
        elif kind == "Namespace":
            self.delete_namespace(str((obj.get("metadata") or {}).get("name") or ""))

    def upsert_service(self, service: Obj) -> None:
        key = _key(service)
        self._services[key] = service
        self._rebuild(key)

    def delete_service(self, namespace: str, name: str) -> None:
        if self._services.pop((namespace, name), None) is not None:
            self._rebuild((namespace, name))

    def upsert_endpointslice(self, endpointslice: Obj) -> None:
        key = _key(endpointslice)
        labels = (endpointslice.get("metadata") or {}).get("labels") or {}
        service = str(labels.get(SERVICE_NAME_LABEL) or "")
        previous = self._forget_slice(key)
        self._slices[key] = endpointslice
        if service:
            self._slice_service[key] = service
            self._slices_of.setdefault((key[0], service), set()).add(key[1])
            self._rebuild((key[0], service))
        if previous and previous != service:  # relabelled: the old service loses it
            self._rebuild((key[0], previous))

    def delete_endpointslice(self, namespace: str, name: str) -> None:
        previous = self._forget_slice((namespace, name))
        self._slices.pop((namespace, name), None)
        if previous:
            self._rebuild((namespace, previous))

    def upsert_namespace(self, namespace: Obj) -> None:
        name = str((namespace.get("metadata") or {}).get("name") or "")
        if name:
            self._set(("namespace", name, ""), {}, namespace_names(name, self.domain))

    def delete_namespace(self, name: str) -> None:
        self._set(("namespace", name, ""), {}, [])

    # -- bookkeeping ------------------------------------------------------------------------------

    def _forget_slice(self, key: Key) -> str:
        service = self._slice_service.pop(key, "")
        if service:
            names = self._slices_of.get((key[0], service))
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._slices_of[(key[0], service)]
        return service

    def _rebuild(self, key: Key) -> None:
        owner: Owner = ("service", *key)
        service = self._services.get(key)
        if service is None:
            self._set(owner, {}, [])
            return
        slices = [self._slices[(key[0], s)] for s in sorted(self._slices_of.get(key, ()))]
        records, names = service_records(service, slices, self.domain)
        self._set(owner, records, names)

    def _existence(self, records: Records, extra: list[str]) -> frozenset[str]:
        names: set[str] = set()
        for name in (*records, *extra):
            zone = self.zone_of(name)
            if zone is not None and is_valid(name):
                names.update(ancestors(name, zone))
        return frozenset(names)

    def _set(self, owner: Owner, records: Records, extra: list[str]) -> None:
        """Make ``owner``'s records ``records``, touching only the names that differ."""
        old = self._owned.get(owner, _NOTHING)
        new = _Owned(records, self._existence(records, extra))
        if new == old:
            return
        if new.records or new.names:
            self._owned[owner] = new
        else:
            self._owned.pop(owner, None)

        for name in new.names - old.names:
            self._exists[name] = self._exists.get(name, 0) + 1
        for name in old.names - new.names:
            left = self._exists[name] - 1
            if left:
                self._exists[name] = left
            else:
                del self._exists[name]

        for name in old.records.keys() | new.records.keys():
            if old.records.get(name) == new.records.get(name):
                continue
            owners = self._owners_of.setdefault(name, set())
            if name in new.records:
                owners.add(owner)
            else:
                owners.discard(owner)
            if owners:
                self._rrsets[name] = self._merge(name, owners)
            else:
                del self._owners_of[name]
                self._rrsets.pop(name, None)

        self.generation += 1
        self.serial = max(self.serial + 1, int(time.time()))

    def _merge(self, name: str, owners: set[Owner]) -> RRSets:
        if len(owners) == 1:
            (only,) = owners
            return self._owned[only].records[name]
        merged: dict[int, dict[RData, None]] = {}
        for owner in sorted(owners):
            for rtype, datas in self._owned[owner].records[name].items():
                merged.setdefault(rtype, {}).update(dict.fromkeys(datas))
        return {rtype: tuple(datas) for rtype, datas in merged.items()}
