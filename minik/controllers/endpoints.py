"""The Endpoints controller: a Service's selector, turned into the list of pods behind it.

A Service is a stable address in front of a *changing* set of pods. Which pods
is decided by its label selector; where they are is decided by the pods
themselves (IP, readiness, node). This controller joins the two and writes the
result as a core/v1 ``Endpoints`` object named like the Service, which is what
kube-proxy and DNS read (and, for newer consumers, the EndpointSlices of
:mod:`minik.controllers.endpointslice`)::

    Service web (selector app=web, port 80 → targetPort "http")
      + pods app=web: a 10.244.1.5 ready, ports http=8080
                      b 10.244.2.7 not ready, ports http=8080
      = Endpoints web: subsets: [{addresses: [a], notReadyAddresses: [b],
                                  ports: [{port: 8080}]}]

**Per pod, per port.** A named ``targetPort`` is looked up among the pod's
container ports (by name *and* protocol); two pods of one Service may
therefore serve it on different numbers, which is why ``subsets`` is a list:
pods are grouped by the exact set of ports they resolved. A numeric
``targetPort`` is used as is. A pod that cannot resolve a port simply does
not serve it.

**Who is in.** A pod needs an IP and must not have finished
(Succeeded/Failed). Ready pods go to ``addresses``, the others to
``notReadyAddresses`` — unless the Service says ``publishNotReadyAddresses``
(StatefulSet peer discovery needs every member before it is ready), then all
are "ready". Terminating pods (``deletionTimestamp`` set) leave at once, except
with ``publishNotReadyAddresses``. A pod whose ``spec.hostname`` is set and
whose ``spec.subdomain`` names this Service gets that ``hostname`` in its
address — the StatefulSet ``web-0.web.ns.svc`` DNS record is built from it.

**Who owns what.** Endpoints of a Service *with* a selector belong to this
controller (labelled ``endpointslice.kubernetes.io/skip-mirror: "true"``, as
upstream does, so the mirroring controller leaves them alone). A Service
without a selector is how people put an outside address behind a Service: its
hand-made Endpoints are never touched here. When a Service goes, only
Endpoints carrying the label are deleted (upstream deletes unconditionally on
the delete event; being level-triggered, minik would otherwise delete a
hand-made Endpoints written before its Service).

**Races.** Handlers only enqueue the Service key; the reconcile reads the
current Service, pods and Endpoints from the informer caches and writes only
when the result differs from the cached Endpoints. An update carries the
cached ``resourceVersion``, so a stale cache fails with 409 and the key is
retried with the next (newer) cache state — never a blind overwrite. Pod
events map to Services by matching the pod's labels against every selector in
its namespace; both the old and the new labels are matched, so a pod
relabelled out of a Service leaves it.

The pod-to-endpoint rules and the event handlers (:func:`find_port`,
:func:`endpoint_hostname`, :class:`ServicePodEvents`) live in
:mod:`minik.controllers.servicepods`, shared with the EndpointSlice
controller; pod readiness and phase come from :mod:`minik.controllers.pods`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, ForbiddenError, NotFoundError
from minik.client.events import WARNING, EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import ENDPOINTS, PODS, SERVICES
from minik.client.objects import (
    Obj,
    annotations_of,
    deepcopy,
    is_being_deleted,
    labels_of,
    metadata,
    spec_of,
    split_key,
)
from minik.client.rest import APIClient
from minik.controllers.pods import is_pod_ready, is_pod_terminal
from minik.controllers.servicepods import (
    HEADLESS_LABEL,
    SKIP_MIRROR_LABEL,
    ServicePodEvents,
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

OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
#: Upstream truncates Endpoints at 1000 addresses (EndpointSlices have no limit).
MAX_ENDPOINT_ADDRESSES = 1000


# -- the Endpoints object ------------------------------------------------------------------------


def _address(service: Obj, pod: Obj, ip: str) -> Obj:
    address: Obj = {"ip": ip}
    hostname = endpoint_hostname(service, pod)
    if hostname:
        address["hostname"] = hostname
    node = spec_of(pod).get("nodeName")
    if node:
        address["nodeName"] = node
    address["targetRef"] = pod_reference(pod)
    return address


def _ports_key(ports: list[Obj]) -> tuple[tuple[str, int, str, str], ...]:
    return tuple((p["name"], p["port"], p["protocol"], p.get("appProtocol", "")) for p in ports)


def desired_subsets(service: Obj, pods: Iterable[Obj]) -> tuple[list[Obj], bool]:
    """The ``subsets`` for ``service`` given the pods its selector matched.

    Returns ``(subsets, truncated)``; subsets are sorted so that equal inputs
    always produce equal output (no spurious writes).
    """
    tolerate = publishes_not_ready(service)
    has_ports = bool(spec_of(service).get("ports"))
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj], list[Obj]]] = {}
    total = 0
    for pod in pods:
        ips = pod_ips(pod)
        if not ips or is_pod_terminal(pod):
            continue
        if is_being_deleted(pod) and not tolerate:
            continue
        ports = resolved_ports(service, pod)
        if has_ports and not ports:
            continue
        ready, not_ready, _ = groups.setdefault(_ports_key(ports), ([], [], ports))
        # Endpoints carry one IP family: the pod's first (primary) IP, as upstream.
        address = _address(service, pod, ips[0])
        (ready if tolerate or is_pod_ready(pod) else not_ready).append(address)
        total += 1

    truncated = total > MAX_ENDPOINT_ADDRESSES
    budget = MAX_ENDPOINT_ADDRESSES
    subsets = []
    for key in sorted(groups):
        ready, not_ready, ports = groups[key]
        ready.sort(key=lambda a: (a["ip"], a["targetRef"]["name"]))
        not_ready.sort(key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if truncated:  # ready addresses first, like upstream's truncation
            ready = ready[:budget]
            budget -= len(ready)
            not_ready = not_ready[: max(budget, 0)]
            budget -= len(not_ready)
        if not ready and not not_ready:
            continue
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = ports
        subsets.append(subset)
    return subsets, truncated


def desired_labels(service: Obj) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in labels_of(service).items()}
    labels.pop(HEADLESS_LABEL, None)
    labels[SKIP_MIRROR_LABEL] = "true"
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def managed_by_us(endpoints: Obj) -> bool:
    return labels_of(endpoints).get(SKIP_MIRROR_LABEL) == "true"


class EndpointsController:
    """Keeps one core/v1 Endpoints per Service with a selector (see the module docs)."""

    name = "endpoint"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.pods = factory.informer(PODS)
        self.services = factory.informer(SERVICES)
        self.endpoints = factory.informer(ENDPOINTS)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.service_pods = ServicePodEvents(self.services, self.pods, self.controller)
        # Repair our Endpoints when someone else edits or deletes them.
        self.endpoints.add_event_handler(
            on_update=lambda old, new: self._endpoints_changed(new), on_delete=self._endpoints_changed
        )

    # -- handlers: our own Endpoints (Services and pods: ServicePodEvents) -----------------------

    def _endpoints_changed(self, endpoints: Obj) -> None:
        if managed_by_us(endpoints):
            self.controller.enqueue_object(endpoints)

    # -- reconcile ---------------------------------------------------------------------------

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.pods, self.services, self.endpoints])

    async def reconcile(self, key: str) -> Result | None:
        namespace, name = split_key(key)
        assert namespace is not None
        service = self.services.get(key)
        current = self.endpoints.get(key)
        if not has_selected_endpoints(service):
            if (
                current is not None
                and managed_by_us(current)
                and (service is None or service_selector(service) is not None)
            ):
                # The Service is gone (or became ExternalName): our Endpoints go with it.
                try:
                    await self.client.delete(
                        ENDPOINTS, name, namespace=namespace, preconditions={"uid": metadata(current)["uid"]}
                    )
                    log.info("deleted endpoints %s: its service is gone", key)
                except NotFoundError:
                    pass
            return None

        assert service is not None
        pods = self.service_pods.selected_pods(service)
        subsets, truncated = desired_subsets(service, pods)
        labels = desired_labels(service)
        annotations = dict(annotations_of(current) if current else {})
        if truncated:
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)

        if current is not None:
            meta = metadata(current)
            if (
                (current.get("subsets") or []) == subsets
                and (meta.get("labels") or {}) == labels
                and (meta.get("annotations") or {}) == annotations
            ):
                return None
            updated = deepcopy(current)
            updated["metadata"]["labels"] = labels
            if annotations:
                updated["metadata"]["annotations"] = annotations
            else:
                updated["metadata"].pop("annotations", None)
            updated["subsets"] = subsets
            await self.client.update(ENDPOINTS, updated, namespace=namespace)
            log.debug("updated endpoints %s: %d subset(s)", key, len(subsets))
            return None

        body: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "subsets": subsets,
        }
        if annotations:
            body["metadata"]["annotations"] = annotations
        try:
            await self.client.create(ENDPOINTS, body, namespace=namespace)
        except AlreadyExistsError:
            # Our cache has not seen it yet (or it is hand-made): retry with a fresher cache.
            return Result(requeue=True)
        except ForbiddenError as exc:
            if "being terminated" in exc.message:
                return None  # the namespace is going away; nothing to publish
            if self.recorder is not None:
                self.recorder.event(service, WARNING, "FailedToCreateEndpoint", exc.message)
            raise
        log.debug("created endpoints %s", key)
        return None
