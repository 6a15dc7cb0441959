"""Services and the pods behind them: the rules both endpoint controllers share.

The Endpoints controller (:mod:`minik.controllers.endpoints`) and the
EndpointSlice controller (:mod:`minik.controllers.endpointslice`) publish the
same thing in two shapes: which pods a Service selects, at which addresses and
ports, and whether they are ready. This module holds what they agree on:

* the per-pod rules — its IPs, the port a Service port resolves to on it
  (:func:`find_port`), its DNS hostname under a headless Service;
* the per-Service rules — its selector (parsed once per resourceVersion by
  :class:`SelectorCache`), headless or not, whether not-ready pods are published;
* :class:`ServicePodEvents`, the event handlers that turn Service and Pod
  events into the keys of the Services to reconcile. A pod event is matched
  against every selector in its namespace, old *and* new labels, so a pod
  relabelled out of a Service leaves it; a pod update that changes nothing an
  endpoint shows (:func:`endpoint_relevant`) enqueues nothing.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from minik.api.selectors import LabelSelector
from minik.client.controller import Controller
from minik.client.informer import Informer
from minik.client.objects import (
    Obj,
    annotations_of,
    labels_of,
    make_key,
    metadata,
    name_of,
    namespace_of,
    spec_of,
    status_of,
)
from minik.controllers.pods import is_pod_ready

#: Upstream's label for Endpoints the mirroring controller must not copy into slices.
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
#: Set on Endpoints and EndpointSlices of headless Services (``clusterIP: None``).
HEADLESS_LABEL = "service.kubernetes.io/headless"
#: The deprecated annotation form of ``publishNotReadyAddresses``, still honoured.
TOLERATE_UNREADY_ANNOTATION = "service.alpha.kubernetes.io/tolerate-unready-endpoints"


def pod_ips(pod: Obj) -> list[str]:
    """Every IP of the pod (``status.podIPs``, falling back to ``status.podIP``)."""
    status = status_of(pod)
    ips = [str(e["ip"]) for e in status.get("podIPs") or [] if isinstance(e, dict) and e.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def address_type(ip: str) -> str:
    """``IPv4`` or ``IPv6`` (EndpointSlice ``addressType``)."""
    return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"


def service_selector(service: Obj) -> dict[str, str] | None:
    """The Service's selector, or ``None`` for a selector-less Service."""
    selector = spec_of(service).get("selector")
    if not isinstance(selector, dict) or not selector:
        return None
    return {str(k): str(v) for k, v in selector.items()}


def publishes_not_ready(service: Obj) -> bool:
    if spec_of(service).get("publishNotReadyAddresses") is True:
        return True
    value = annotations_of(service).get(TOLERATE_UNREADY_ANNOTATION)
    return str(value).lower() in ("true", "1", "t")


def is_headless(service: Obj) -> bool:
    return spec_of(service).get("clusterIP") == "None"


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port number for one Service port (upstream ``FindPort``).

    A numeric ``targetPort`` is used as is; a named one is the ``containerPort``
    of the container port with that name and the Service port's protocol
    (sidecar init containers, ``restartPolicy: Always``, count too).
    ``None`` when the pod has no such port.
    """
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if not isinstance(target, str) or not target:
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = spec_of(pod)
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                number = port.get("containerPort")
                return int(number) if isinstance(number, int) else None
    return None


def resolved_ports(service: Obj, pod: Obj) -> list[Obj]:
    """The endpoint ports this pod serves for the Service, sorted by name."""
    ports: list[Obj] = []
    for sp in spec_of(service).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {
            "name": str(sp.get("name") or ""),
            "port": number,
            "protocol": sp.get("protocol") or "TCP",
        }
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        ports.append(port)
    ports.sort(key=lambda p: (p["name"], p["port"], p["protocol"]))
    return ports


def endpoint_hostname(service: Obj, pod: Obj) -> str | None:
    """The pod's ``spec.hostname`` when its ``spec.subdomain`` is this Service (StatefulSet DNS)."""
    spec = spec_of(pod)
    hostname = spec.get("hostname")
    if hostname and spec.get("subdomain") == name_of(service) and namespace_of(pod) == namespace_of(service):
        return str(hostname)
    return None


def pod_reference(pod: Obj) -> Obj:
    meta = metadata(pod)
    return {
        "kind": "Pod",
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
    }


class SelectorCache:
    """Parsed Service selectors, reparsed only when a Service's resourceVersion changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str | None, LabelSelector | None]] = {}

    def get(self, service: Obj) -> LabelSelector | None:
        key = f"{namespace_of(service)}/{name_of(service)}"
        rv = metadata(service).get("resourceVersion")
        hit = self._cache.get(key)
        if hit is not None and hit[0] == rv:
            return hit[1]
        raw = service_selector(service)
        selector = LabelSelector.from_set(raw) if raw is not None else None
        self._cache[key] = (rv, selector)
        return selector

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)


def pod_services(services: Informer, selectors: SelectorCache, pod: Obj) -> list[str]:
    """Keys of the Services (with a selector) in the pod's namespace that select it."""
    ns = namespace_of(pod)
    labels = labels_of(pod)
    keys = []
    for service in services.list(namespace=ns):
        selector = selectors.get(service)
        if selector is not None and selector.matches(labels):
            keys.append(make_key(ns, name_of(service)))
    return keys


def endpoint_relevant(pod: Obj) -> tuple[Any, ...]:
    """What about a pod can change its Services' endpoints (to skip no-op pod updates)."""
    spec, status, meta = spec_of(pod), status_of(pod), metadata(pod)
    return (
        tuple(sorted((meta.get("labels") or {}).items())),
        tuple(pod_ips(pod)),
        is_pod_ready(pod),
        bool(meta.get("deletionTimestamp")),
        status.get("phase"),
        spec.get("hostname"),
        spec.get("subdomain"),
        spec.get("nodeName"),
    )


def has_selected_endpoints(service: Obj | None) -> bool:
    """Whether a controller publishes endpoints for ``service``: it exists, has a
    selector, and is not ``type: ExternalName`` (a DNS alias has no pods)."""
    return (
        service is not None
        and service_selector(service) is not None
        and spec_of(service).get("type") != "ExternalName"
    )


class ServicePodEvents:
    """Maps Service and Pod events to the keys of the Services they may change.

    Registers itself on both informers; ``controller`` gets the keys. The
    :class:`SelectorCache` it keeps is also what :meth:`selected_pods` uses.
    """

    def __init__(self, services: Informer, pods: Informer, controller: Controller) -> None:
        self.services = services
        self.pods = pods
        self.controller = controller
        self.selectors = SelectorCache()
        services.add_event_handler(
            on_add=controller.enqueue_object,
            on_update=lambda old, new: controller.enqueue_object(new),
            on_delete=self.service_deleted,
        )
        pods.add_event_handler(
            on_add=self.pod_changed, on_update=self.pod_updated, on_delete=self.pod_changed
        )

    def service_deleted(self, service: Obj) -> None:
        self.selectors.forget(make_key(namespace_of(service), name_of(service)))
        self.controller.enqueue_object(service)

    def pod_changed(self, pod: Obj) -> None:
        for key in pod_services(self.services, self.selectors, pod):
            self.controller.enqueue(key)

    def pod_updated(self, old: Obj, new: Obj) -> None:
        if endpoint_relevant(old) == endpoint_relevant(new):
            return
        keys = set(pod_services(self.services, self.selectors, new))
        if labels_of(old) != labels_of(new):
            keys.update(pod_services(self.services, self.selectors, old))
        for key in keys:
            self.controller.enqueue(key)

    def selected_pods(self, service: Obj) -> list[Obj]:
        """The cached pods in the Service's namespace that its selector matches."""
        selector = self.selectors.get(service)
        if selector is None:
            return []
        return [p for p in self.pods.list(namespace=namespace_of(service)) if selector.matches(labels_of(p))]
