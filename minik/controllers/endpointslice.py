"""EndpointSlices: a Service's endpoints in bounded, per-port-set pieces.

One ``Endpoints`` object per Service means every change to one pod rewrites
(and re-sends to every kube-proxy) the whole list. ``discovery.k8s.io/v1``
EndpointSlices split it: each slice holds at most ``max_endpoints_per_slice``
(100) endpoints of one address family and one port set, so a change touches
one small object. Two controllers write them, told apart by the
``endpointslice.kubernetes.io/managed-by`` label:

* :class:`EndpointSliceController` (``endpointslice-controller.k8s.io``) — for
  every Service with a selector, like :mod:`minik.controllers.endpoints` but with
  richer per-endpoint state::

      conditions.ready       = serving and not terminating (always true with
                               publishNotReadyAddresses)
      conditions.serving     = the pod's Ready condition
      conditions.terminating = the pod has a deletionTimestamp

  Terminating pods stay in the slice (ready=false, terminating=true), so a
  proxy can drain connections to them; Endpoints drop them at once. A Service
  with no endpoints at all keeps one empty *placeholder* slice, as upstream.

* :class:`EndpointSliceMirroringController`
  (``endpointslicemirroring-controller.k8s.io``) — for Services *without* a
  selector, whose Endpoints were written by hand: those Endpoints are copied
  into slices so that slice-only consumers see outside services too.
  Endpoints labelled ``endpointslice.kubernetes.io/skip-mirror: "true"`` (the
  ones the Endpoints controller writes) are not mirrored.

Every slice is labelled ``kubernetes.io/service-name`` and owned by its
Service (``controller: true``), so the garbage collector removes it with the
Service; the controllers also delete a gone Service's slices themselves.

**Placement keeps churn low.** Reconciling recomputes the desired endpoints,
grouped by (address type, port set). Endpoints already in a slice of the right
group stay where they are; new ones fill slices that have room; only then are
new slices needed, and a slice left empty is re-used for one of them (same
address type) before anything is created; what stays empty is deleted. A pod
that turns ready therefore rewrites exactly the one slice that holds it, and a
Service's first pod turns its placeholder slice into a real one with one
update.

**The stale-cache race.** Slices are created with ``generateName``, so a
second reconcile that runs before the informer has delivered the first one's
creation would not see it and would create a duplicate. :class:`SliceTracker`
remembers, per Service, the resourceVersion of every slice this process wrote
(or that it deleted); until the cache has caught up with all of them the
reconcile does nothing and waits for the slice event that will requeue it
(upstream's ``EndpointSliceTracker``). Expectations expire after a few
seconds so a lost event cannot wedge a Service.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from minik.client.controller import Controller, Result
from minik.client.errors import ForbiddenError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from minik.client.objects import (
    Obj,
    annotations_of,
    deepcopy,
    is_being_deleted,
    labels_of,
    make_key,
    metadata,
    name_of,
    namespace_of,
    resource_version_of,
    spec_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.controllers.pods import is_pod_ready, is_pod_terminal
from minik.controllers.servicepods import (
    HEADLESS_LABEL,
    SKIP_MIRROR_LABEL,
    ServicePodEvents,
    address_type,
    endpoint_hostname,
    has_selected_endpoints,
    is_headless,
    pod_ips,
    pod_reference,
    publishes_not_ready,
    resolved_ports,
    service_selector,
)

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "service-name"
_EXPECTATION_TTL = 5.0

#: (addressType, ports) — the two things all endpoints of one slice share.
GroupKey = tuple[str, tuple[tuple[str, Any, str, str], ...]]


def index_by_service(obj: Obj) -> list[str]:
    """Index slices by ``namespace/service`` from their service-name label."""
    service = labels_of(obj).get(SERVICE_NAME_LABEL)
    ns = namespace_of(obj)
    return [make_key(ns, str(service))] if service and ns else []


def managed_by(obj: Obj) -> str | None:
    value = labels_of(obj).get(MANAGED_BY_LABEL)
    return str(value) if value is not None else None


def _ports_key(ports: list[Obj]) -> tuple[tuple[str, Any, str, str], ...]:
    return tuple(
        sorted(
            (
                str(p.get("name") or ""),
                p.get("port"),
                str(p.get("protocol") or "TCP"),
                str(p.get("appProtocol") or ""),
            )
            for p in ports
        )
    )


def group_of_slice(eps: Obj) -> GroupKey:
    return (str(eps.get("addressType") or "IPv4"), _ports_key(list(eps.get("ports") or [])))


def _address_of(endpoint: Obj) -> str:
    addresses = endpoint.get("addresses") or [""]
    return str(addresses[0])


class SliceTracker:
    """What this process last wrote per slice, until the informer cache shows it.

    ``expect(service, name, rv)`` after a create/update; ``expect_deleted``
    after a delete; ``stale(service, slices)`` says whether the cached slices
    are older than something we wrote (then the caller must not act on them).
    """

    def __init__(self, ttl: float = _EXPECTATION_TTL, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = now
        # service key -> slice name -> (resourceVersion or None for deleted, recorded at)
        self._expected: dict[str, dict[str, tuple[str | None, float]]] = {}

    def expect(self, service: str, name: str, rv: str | None) -> None:
        self._expected.setdefault(service, {})[name] = (rv, self._now())

    def expect_deleted(self, service: str, name: str) -> None:
        self.expect(service, name, None)

    def stale(self, service: str, cached: Iterable[Obj]) -> bool:
        wanted = self._expected.get(service)
        if not wanted:
            return False
        by_name = {name_of(s): s for s in cached}
        now = self._now()
        for name, (rv, at) in list(wanted.items()):
            if now - at > self.ttl:
                del wanted[name]
                continue
            obj = by_name.get(name)
            if rv is None:
                satisfied = obj is None
            else:
                have = resource_version_of(obj) if obj is not None else None
                satisfied = have is not None and _rv_at_least(have, rv)
            if satisfied:
                del wanted[name]
        if not wanted:
            del self._expected[service]
            return False
        return True

    def forget(self, service: str) -> None:
        self._expected.pop(service, None)


def _rv_at_least(have: str, want: str) -> bool:
    # minik's resourceVersions are etcd revisions; compare numerically when both are.
    if have.isdigit() and want.isdigit():
        return int(have) >= int(want)
    return have == want


class _SliceWriter:
    """Places desired endpoints into one Service's slices and writes the difference."""

    def __init__(
        self,
        client: APIClient,
        slices: Informer,
        tracker: SliceTracker,
        *,
        manager: str,
        max_endpoints: int,
    ) -> None:
        self.client = client
        self.slices = slices
        self.tracker = tracker
        self.manager = manager
        self.max_endpoints = max_endpoints

    def owned(self, key: str) -> list[Obj]:
        return [s for s in self.slices.store.by_index(SERVICE_INDEX, key) if managed_by(s) == self.manager]

    async def delete_all(self, key: str) -> None:
        for eps in self.owned(key):
            await self._delete(key, eps)

    async def _delete(self, key: str, eps: Obj) -> None:
        with contextlib.suppress(NotFoundError):
            await self.client.delete(
                ENDPOINTSLICES,
                name_of(eps),
                namespace=namespace_of(eps),
                preconditions={"uid": uid_of(eps) or ""},
            )
        self.tracker.expect_deleted(key, name_of(eps))

    async def sync(
        self,
        service: Obj,
        groups: dict[GroupKey, dict[str, Obj]],
        *,
        labels: dict[str, str],
        annotations: dict[str, str] | None = None,
        placeholder: bool,
    ) -> None:
        """Make the Service's slices hold exactly ``groups`` (address → endpoint per group)."""
        ns, svc_name = namespace_of(service), name_of(service)
        key = make_key(ns, svc_name)
        existing = sorted(self.owned(key), key=name_of)
        if placeholder and not any(groups.values()):
            groups = {("IPv4", ()): {}}

        # 1. Keep endpoints in the slice that already holds them.
        placed: dict[str, list[Obj]] = {}
        slice_group: dict[str, GroupKey] = {}
        remaining = {g: dict(eps) for g, eps in groups.items()}
        for eps in existing:
            group = group_of_slice(eps)
            slice_group[name_of(eps)] = group
            want = remaining.get(group)
            kept: list[Obj] = []
            if want is not None:
                for endpoint in eps.get("endpoints") or []:
                    fresh = want.pop(_address_of(endpoint), None)
                    if fresh is not None and len(kept) < self.max_endpoints:
                        kept.append(fresh)
            placed[name_of(eps)] = kept
        # 2. New endpoints fill slices of their group that have room.
        for eps in existing:
            name = name_of(eps)
            want = remaining.get(slice_group[name])
            while want and len(placed[name]) < self.max_endpoints:
                placed[name].append(want.pop(next(iter(want))))
        # 3. Whatever is left needs new slices.
        new_slices: list[tuple[GroupKey, list[Obj]]] = []
        for group in sorted(remaining):
            leftovers = sorted(remaining[group].values(), key=_address_of)
            for start in range(0, len(leftovers), self.max_endpoints):
                new_slices.append((group, leftovers[start : start + self.max_endpoints]))
        # An empty group (only the placeholder) still needs one slice: keep one, or make one.
        keep_empty: set[str] = set()
        for group in [g for g, eps in groups.items() if not eps]:
            holder = next((e for e in existing if slice_group[name_of(e)] == group), None)
            if holder is not None:
                keep_empty.add(name_of(holder))
            else:
                new_slices.append((group, []))

        owner = {
            "apiVersion": "v1",
            "kind": "Service",
            "name": svc_name,
            "uid": uid_of(service),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        # 4. A slice left empty is re-used for a new group of its address type (one
        #    update instead of a delete and a create: the common placeholder → first
        #    pods case), and deleted otherwise.
        writes: list[tuple[Obj, GroupKey, list[Obj]]] = []
        spare: list[Obj] = []
        for eps in existing:
            name = name_of(eps)
            if placed[name] or name in keep_empty:
                writes.append((eps, slice_group[name], placed[name]))
            else:
                spare.append(eps)
        creates: list[tuple[GroupKey, list[Obj]]] = []
        for group, endpoints in new_slices:
            reuse = next((e for e in spare if str(e.get("addressType") or "IPv4") == group[0]), None)
            if reuse is not None:
                spare.remove(reuse)
                writes.append((reuse, group, endpoints))
            else:
                creates.append((group, endpoints))
        for eps in spare:
            await self._delete(key, eps)
        for eps, group, endpoints in writes:
            desired = self._body(
                service, group, sorted(endpoints, key=_address_of), labels, annotations, owner
            )
            if self._same(eps, desired):
                continue
            updated = deepcopy(eps)
            updated["metadata"]["labels"] = desired["metadata"]["labels"]
            if annotations is not None:
                updated["metadata"]["annotations"] = desired["metadata"].get("annotations") or {}
            updated["metadata"]["ownerReferences"] = [owner]
            updated["endpoints"] = desired["endpoints"]
            updated["ports"] = desired["ports"]
            written = await self.client.update(ENDPOINTSLICES, updated, namespace=ns)
            self.tracker.expect(key, name_of(eps), resource_version_of(written))
        for group, endpoints in creates:
            body = self._body(service, group, sorted(endpoints, key=_address_of), labels, annotations, owner)
            written = await self.client.create(ENDPOINTSLICES, body, namespace=ns)
            self.tracker.expect(key, name_of(written), resource_version_of(written))

    def _body(
        self,
        service: Obj,
        group: GroupKey,
        endpoints: list[Obj],
        labels: dict[str, str],
        annotations: dict[str, str] | None,
        owner: Obj,
    ) -> Obj:
        addr_type, ports_key = group
        ports = []
        for name, number, protocol, app_protocol in ports_key:
            port: Obj = {"name": name, "port": number, "protocol": protocol}
            if app_protocol:
                port["appProtocol"] = app_protocol
            ports.append(port)
        # generateName: the service name, shortened so the 5-char suffix still fits 63.
        prefix = name_of(service)[:57] + "-"
        meta: Obj = {
            "generateName": prefix,
            "namespace": namespace_of(service),
            "labels": dict(labels),
            "ownerReferences": [owner],
        }
        if annotations:
            meta["annotations"] = dict(annotations)
        return {
            "apiVersion": ENDPOINTSLICES.api_version,
            "kind": "EndpointSlice",
            "metadata": meta,
            "addressType": addr_type,
            "endpoints": endpoints,
            "ports": ports,
        }

    @staticmethod
    def _same(current: Obj, desired: Obj) -> bool:
        meta, want = metadata(current), desired["metadata"]
        return (
            (current.get("endpoints") or []) == desired["endpoints"]
            and (current.get("ports") or []) == desired["ports"]
            and (meta.get("labels") or {}) == want["labels"]
            and ("annotations" not in want or (meta.get("annotations") or {}) == want["annotations"])
            and [
                {k: r.get(k) for k in ("kind", "name", "uid", "controller")}
                for r in meta.get("ownerReferences") or []
            ]
            == [{k: want["ownerReferences"][0].get(k) for k in ("kind", "name", "uid", "controller")}]
        )


def _slice_labels(service: Obj, manager: str, base: dict[str, Any] | None) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in (base or {}).items()}
    for reserved in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL, SKIP_MIRROR_LABEL):
        labels.pop(reserved, None)
    labels[SERVICE_NAME_LABEL] = name_of(service)
    labels[MANAGED_BY_LABEL] = manager
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def pod_endpoints(service: Obj, pods: Iterable[Obj]) -> dict[GroupKey, dict[str, Obj]]:
    """Desired slice endpoints of a selector Service, grouped by (address type, ports)."""
    tolerate = publishes_not_ready(service)
    has_ports = bool(spec_of(service).get("ports"))
    groups: dict[GroupKey, dict[str, Obj]] = {}
    for pod in pods:
        if is_pod_terminal(pod):
            continue
        ips = pod_ips(pod)
        if not ips:
            continue
        ports = resolved_ports(service, pod)
        if has_ports and not ports:
            continue
        serving = is_pod_ready(pod)
        terminating = is_being_deleted(pod)
        ready = tolerate or (serving and not terminating)
        hostname = endpoint_hostname(service, pod)
        node = spec_of(pod).get("nodeName")
        seen_types: set[str] = set()
        for ip in ips:
            kind = address_type(ip)
            if kind in seen_types:
                continue
            seen_types.add(kind)
            endpoint: Obj = {
                "addresses": [ip],
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            }
            if hostname:
                endpoint["hostname"] = hostname
            if node:
                endpoint["nodeName"] = node
            endpoint["targetRef"] = pod_reference(pod)
            groups.setdefault((kind, _ports_key(ports)), {})[ip] = endpoint
    return groups


class EndpointSliceController:
    """EndpointSlices for every Service with a selector (see the module docs)."""

    name = "endpointslice"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.pods = factory.informer(PODS)
        self.services = factory.informer(SERVICES)
        self.slices = factory.informer(ENDPOINTSLICES, indexers={SERVICE_INDEX: index_by_service})
        self.tracker = SliceTracker()
        self.writer = _SliceWriter(
            client, self.slices, self.tracker, manager=CONTROLLER_NAME, max_endpoints=max_endpoints_per_slice
        )
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.service_pods = ServicePodEvents(self.services, self.pods, self.controller)
        self.slices.add_event_handler(
            on_add=self._slice_changed,
            on_update=lambda old, new: self._slice_changed(new),
            on_delete=self._slice_changed,
        )

    def _slice_changed(self, eps: Obj) -> None:
        if managed_by(eps) == CONTROLLER_NAME:
            for key in index_by_service(eps):
                self.controller.enqueue(key)

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.pods, self.services, self.slices])

    async def reconcile(self, key: str) -> Result | None:
        if self.tracker.stale(key, self.slices.store.by_index(SERVICE_INDEX, key)):
            return Result(requeue_after=1.0)  # the slice events will requeue it sooner
        service = self.services.get(key)
        if not has_selected_endpoints(service):
            await self.writer.delete_all(key)
            if service is None:
                self.tracker.forget(key)
            return None
        assert service is not None
        pods = self.service_pods.selected_pods(service)
        labels = _slice_labels(service, CONTROLLER_NAME, metadata(service).get("labels"))
        try:
            await self.writer.sync(service, pod_endpoints(service, pods), labels=labels, placeholder=True)
        except ForbiddenError as exc:
            if "being terminated" in exc.message:
                return None
            raise
        return None


def mirrored_endpoints(endpoints: Obj) -> dict[GroupKey, dict[str, Obj]]:
    """Slice endpoints copied from a hand-made Endpoints' subsets."""
    groups: dict[GroupKey, dict[str, Obj]] = {}
    for subset in endpoints.get("subsets") or []:
        ports = [
            {
                "name": str(p.get("name") or ""),
                "port": p.get("port"),
                "protocol": p.get("protocol") or "TCP",
                **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {}),
            }
            for p in subset.get("ports") or []
        ]
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or []:
                ip = str(address.get("ip") or "")
                if not ip:
                    continue
                try:
                    kind = address_type(ip)
                except ValueError:
                    continue
                endpoint: Obj = {
                    "addresses": [ip],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                for copied in ("hostname", "nodeName", "targetRef"):
                    if address.get(copied):
                        endpoint[copied] = address[copied]
                groups.setdefault((kind, _ports_key(ports)), {})[ip] = endpoint
    return groups


_NOT_MIRRORED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "endpoints.kubernetes.io/last-change-trigger-time",
)


class EndpointSliceMirroringController:
    """Mirrors hand-made Endpoints of selector-less Services into EndpointSlices."""

    name = "endpointslicemirroring"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.services = factory.informer(SERVICES)
        self.endpoints = factory.informer(ENDPOINTS)
        self.slices = factory.informer(ENDPOINTSLICES, indexers={SERVICE_INDEX: index_by_service})
        self.tracker = SliceTracker()
        self.writer = _SliceWriter(
            client,
            self.slices,
            self.tracker,
            manager=MIRRORING_CONTROLLER_NAME,
            max_endpoints=max_endpoints_per_slice,
        )
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        for informer in (self.services, self.endpoints):
            informer.add_event_handler(
                on_add=self.controller.enqueue_object,
                on_update=lambda old, new: self.controller.enqueue_object(new),
                on_delete=self.controller.enqueue_object,
            )
        self.slices.add_event_handler(
            on_add=self._slice_changed,
            on_update=lambda old, new: self._slice_changed(new),
            on_delete=self._slice_changed,
        )

    def _slice_changed(self, eps: Obj) -> None:
        if managed_by(eps) == MIRRORING_CONTROLLER_NAME:
            for key in index_by_service(eps):
                self.controller.enqueue(key)

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.services, self.endpoints, self.slices])

    async def reconcile(self, key: str) -> Result | None:
        if self.tracker.stale(key, self.slices.store.by_index(SERVICE_INDEX, key)):
            return Result(requeue_after=1.0)
        service = self.services.get(key)
        endpoints = self.endpoints.get(key)
        if (
            service is None
            or endpoints is None
            or service_selector(service) is not None
            or labels_of(endpoints).get(SKIP_MIRROR_LABEL) == "true"
        ):
            await self.writer.delete_all(key)
            if service is None:
                self.tracker.forget(key)
            return None
        labels = _slice_labels(service, MIRRORING_CONTROLLER_NAME, metadata(endpoints).get("labels"))
        annotations = {
            str(k): str(v) for k, v in annotations_of(endpoints).items() if k not in _NOT_MIRRORED_ANNOTATIONS
        }
        try:
            await self.writer.sync(
                service,
                mirrored_endpoints(endpoints),
                labels=labels,
                annotations=annotations,
                placeholder=False,
            )
        except ForbiddenError as exc:
            if "being terminated" in exc.message:
                return None
            raise
        return None
