"""Service LoadBalancer addresses from a pool local to this machine.

In a cloud, ``type: LoadBalancer`` makes the cloud provider's controller rent
an external load balancer and write its address into
``status.loadBalancer.ingress``; traffic to that address reaches the Service's
NodePort on some node. minik has no cloud, so this controller plays the
provider the way MetalLB or k3s' ServiceLB do on bare metal: it hands out
addresses from a configured pool and kube-proxy makes them answer locally.
The default pool, ``127.1.0.0/24``, lies in loopback, so nothing sent to a
load-balancer address can ever leave the machine.

* A Service of ``type: LoadBalancer`` (without a ``loadBalancerClass``, which
  means "someone else's load balancer") gets one address:
  ``spec.loadBalancerIP`` if it asks for a free one in the pool, otherwise the
  next free one. It is written with ``ipMode: VIP`` (traffic arrives addressed
  to the VIP itself, as on a cloud load balancer that does not proxy).
* The address is released when the Service is deleted or stops being a
  LoadBalancer (its status is then cleared).
* **Never twice.** The pool is in memory and filled, before the first
  allocation, from the addresses every existing LoadBalancer Service already
  carries in its status — oldest Service first, so if two ever claim one
  address the newer one is moved. Allocation and recording happen without an
  ``await`` in between, so two reconciles cannot pick the same address.

No finalizer is used: nothing outside the cluster must be torn down when a
Service goes, so a Service deleted while this controller is down simply does
not appear in the start-up scan, and its address is free again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

from minik.client.controller import Controller, Result
from minik.client.errors import NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import SERVICES
from minik.client.objects import Obj, deepcopy, is_being_deleted, metadata, object_key, spec_of, status_of
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

DEFAULT_POOL = "127.1.0.0/24"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PoolExhaustedError(RuntimeError):
    """Every address of the pool is in use."""


class AddressPool:
    """Addresses from CIDRs (``127.1.0.0/24``) and ranges (``127.2.0.10-127.2.0.20``).

    A CIDR's network and broadcast addresses are not handed out (except for
    /31, /32 and IPv6, as usual).
    """

    def __init__(self, spec: str) -> None:
        self.ranges: list[tuple[int, int, int]] = []  # (version, first, last)
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            if "-" in part:
                lo_text, hi_text = (x.strip() for x in part.split("-", 1))
                lo, hi = ipaddress.ip_address(lo_text), ipaddress.ip_address(hi_text)
                if lo.version != hi.version or int(hi) < int(lo):
                    raise ValueError(
                        f"bad address range {part!r}: want FIRST-LAST of one family, FIRST <= LAST"
                    )
                self.ranges.append((lo.version, int(lo), int(hi)))
            else:
                net = ipaddress.ip_network(part, strict=False)
                first, last = int(net.network_address), int(net.broadcast_address)
                if net.version == 4 and net.prefixlen < 31:
                    first, last = first + 1, last - 1
                self.ranges.append((net.version, first, last))
        if not self.ranges:
            raise ValueError("the load-balancer address pool is empty")
        self._owner: dict[str, str] = {}  # address → service key
        self._by_service: dict[str, str] = {}  # service key → address

    def __contains__(self, address: object) -> bool:
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        return any(v == ip.version and lo <= int(ip) <= hi for v, lo, hi in self.ranges)

    def _addresses(self) -> Iterator[str]:
        for version, lo, hi in self.ranges:
            for value in range(lo, hi + 1):
                yield str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))

    @property
    def size(self) -> int:
        return sum(hi - lo + 1 for _, lo, hi in self.ranges)

    def owner(self, address: str) -> str | None:
        return self._owner.get(address)

    def address_of(self, service: str) -> str | None:
        return self._by_service.get(service)

    def claim(self, service: str, address: str) -> bool:
        """Give ``address`` to ``service`` if it is in the pool and free (or already its)."""
        if address not in self or self._owner.get(address, service) != service:
            return False
        self.release(service)
        self._owner[address] = service
        self._by_service[service] = address
        return True

    def allocate(self, service: str) -> str:
        current = self._by_service.get(service)
        if current is not None:
            return current
        for address in self._addresses():
            if address not in self._owner:
                self.claim(service, address)
                return address
        raise PoolExhaustedError(f"all {self.size} load-balancer addresses are in use")

    def release(self, service: str) -> str | None:
        address = self._by_service.pop(service, None)
        if address is not None:
            self._owner.pop(address, None)
        return address

    @property
    def used(self) -> int:
        return len(self._owner)


def wants_address(service: Obj) -> bool:
    spec = spec_of(service)
    return (
        spec.get("type") == "LoadBalancer"
        and not spec.get("loadBalancerClass")
        and not is_being_deleted(service)
    )


def ingress_ips(service: Obj) -> list[str]:
    ingress = (status_of(service).get("loadBalancer") or {}).get("ingress") or []
    return [str(i["ip"]) for i in ingress if isinstance(i, dict) and i.get("ip")]


class ServiceLBController:
    """Allocates LoadBalancer addresses from a local pool (see the module docs)."""

    name = "service-lb-controller"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 1,
        pool: str = DEFAULT_POOL,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.pool = AddressPool(pool)
        self.services = factory.informer(SERVICES)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.services.add_event_handler(
            on_add=self.controller.enqueue_object,
            on_update=lambda old, new: self.controller.enqueue_object(new),
            on_delete=self._deleted,
        )

    def _deleted(self, service: Obj) -> None:
        address = self.pool.release(object_key(service))
        if address is not None:
            log.info("service %s deleted; released load-balancer address %s", object_key(service), address)
            self._retry_waiting()

    def _retry_waiting(self) -> None:
        for service in self.services.list():
            if wants_address(service) and self.pool.address_of(object_key(service)) is None:
                self.controller.enqueue_object(service)

    def _seed(self) -> None:
        services = sorted(
            self.services.list(),
            key=lambda s: (str(metadata(s).get("creationTimestamp") or ""), object_key(s)),
        )
        for service in services:
            if not wants_address(service):
                continue
            for ip in ingress_ips(service):
                if ip in self.pool and self.pool.claim(object_key(service), ip):
                    break
        log.info("load-balancer pool: %d of %d addresses in use", self.pool.used, self.pool.size)

    async def run(self) -> None:
        await wait_for_cache_sync(self.services)
        self._seed()
        await self.controller.run(wait_for=[self.services])

    async def reconcile(self, key: str) -> Result | None:
        service = self.services.get(key)
        if service is None:
            if self.pool.release(key) is not None:
                self._retry_waiting()
            return None
        current = ingress_ips(service)
        if not wants_address(service):
            released = self.pool.release(key)
            ours = [ip for ip in current if ip in self.pool]
            if ours and spec_of(service).get("type") != "LoadBalancer":
                await self._write_ingress(service, [])
                if self.recorder is not None:
                    self.recorder.event(service, NORMAL, "DeletedLoadBalancer", f"Released {', '.join(ours)}")
            if released is not None:
                self._retry_waiting()
            return None

        address = self.pool.address_of(key)
        if address is None:
            address = self._choose(key, service, current)
            if address is None:
                return Result(requeue_after=30.0)
        if current != [address]:
            await self._write_ingress(service, [address])
            log.info("service %s: load-balancer address %s", key, address)
            if self.recorder is not None:
                self.recorder.event(
                    service, NORMAL, "EnsuredLoadBalancer", f"Ensured load balancer {address}"
                )
        return None

    def _choose(self, key: str, service: Obj, current: list[str]) -> str | None:
        requested = str(spec_of(service).get("loadBalancerIP") or "")
        if requested:
            if self.pool.claim(key, requested):
                return requested
            why = (
                "is not in the pool"
                if requested not in self.pool
                else "is in use by " + str(self.pool.owner(requested))
            )
            self._warn(service, "LoadBalancerIPNotAvailable", f"requested loadBalancerIP {requested} {why}")
            return None
        for ip in current:  # keep what the status says, if it is ours to give
            if self.pool.claim(key, ip):
                return ip
        try:
            return self.pool.allocate(key)
        except PoolExhaustedError as exc:
            self._warn(service, "AllocationFailed", str(exc))
            return None

    def _warn(self, service: Obj, reason: str, message: str) -> None:
        log.warning("service %s: %s", object_key(service), message)
        if self.recorder is not None:
            self.recorder.event(service, WARNING, reason, message)

    async def _write_ingress(self, service: Obj, addresses: list[str]) -> None:
        updated = deepcopy(service)
        status = updated.setdefault("status", {})
        status["loadBalancer"] = (
            {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in addresses]} if addresses else {}
        )
        try:
            await self.client.update_status(SERVICES, updated)
        except NotFoundError:
            self.pool.release(object_key(service))
