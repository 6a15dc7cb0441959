"""ClusterIP and NodePort allocation, committed atomically with the Service.

Every allocated address is one etcd key, ``/registry/ranges/serviceips/<ip>`` or
``/registry/ranges/servicenodeports/<port>``, whose value names its Service. A
Service create is one transaction: "the Service key is absent AND each chosen
address key is absent → write them all". So

* an address is never handed out twice, even to concurrent creates (the loser's
  transaction fails and it picks another address);
* a failed create never leaks an address, and a delete releases its addresses
  in the same transaction that removes the Service;
* the allocator's state is etcd itself, so it survives apiserver restarts.

Upstream keeps a bitmap per range in one key (and, newer, an IPAddress object
per address); one key per address is the same idea made visible: ``etcdctl get
--prefix /registry/ranges/`` shows exactly who holds what.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minik.api import errors
from minik.api import field as fielderr
from minik.apiserver import etcd

Obj = dict[str, Any]

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
MAX_ATTEMPTS = 32


@dataclass
class WritePlan:
    """Extra etcd compares and operations that must commit together with a write.

    ``conflicts`` maps a key whose "absent" compare may fail to the error to raise
    when it does; ``None`` means "retry with a fresh plan" (a random choice lost a race).
    """

    compares: list[Any] = field(default_factory=list)
    ops: list[Any] = field(default_factory=list)
    conflicts: dict[bytes, Callable[[], errors.APIError] | None] = field(default_factory=dict)

    def claim(self, key: str, owner: str, on_conflict: Callable[[], errors.APIError] | None) -> None:
        k = key.encode()
        self.compares.append(etcd.absent(k))
        self.ops.append(etcd.put(k, owner.encode()))
        self.conflicts[k] = on_conflict

    def release(self, key: str) -> None:
        self.ops.append(etcd.delete(key.encode()))


def _uses_node_ports(svc: Obj) -> bool:
    return svc.get("spec", {}).get("type") in ("NodePort", "LoadBalancer")


def _has_cluster_ip(svc: Obj) -> bool:
    spec = svc.get("spec", {})
    return bool(spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None")


class ServiceAllocator:
    def __init__(self, service_cidr: str, node_port_range: tuple[int, int]) -> None:
        self.network = ipaddress.ip_network(service_cidr)
        self.node_ports = node_port_range
        # The network and broadcast addresses are never handed out.
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1

    # -- choosing ------------------------------------------------------------------------

    def _random_ip(self) -> str:
        return str(ipaddress.ip_address(random.randint(self._first, self._last)))

    def _random_port(self) -> int:
        return random.randint(*self.node_ports)

    def _invalid(self, svc: Obj, path: str, value: Any, detail: str) -> errors.APIError:
        name = svc.get("metadata", {}).get("name", "")
        return errors.invalid("Service", name, [fielderr.invalid(path, value, detail)])

    # -- plans ---------------------------------------------------------------------------

    def plan_create(self, svc: Obj) -> WritePlan:
        """Choose addresses for a new Service (written into ``svc``) and plan their claims.

        Called on a fresh copy of the object for every attempt, so a random choice
        that lost a race is simply made again."""
        plan = WritePlan()
        owner = _owner(svc)
        spec = svc.setdefault("spec", {})
        if _has_cluster_ip(svc):
            self._claim_cluster_ip(svc, spec, plan, owner)
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
        if _uses_node_ports(svc):
            self._claim_node_ports(svc, spec, plan, owner, set())
        return plan

    def plan_update(self, new: Obj, old: Obj) -> WritePlan:
        plan = WritePlan()
        owner = _owner(new)
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec", {})
        if _has_cluster_ip(new) and not _has_cluster_ip(old):
            self._claim_cluster_ip(new, spec, plan, owner)
        elif not _has_cluster_ip(new) and _has_cluster_ip(old) and old_spec.get("clusterIP"):
            plan.release(IP_PREFIX + old_spec["clusterIP"])
        old_ports = _node_ports(old) if _uses_node_ports(old) else set()
        new_ports: set[int] = set()
        if _uses_node_ports(new):
            new_ports = self._claim_node_ports(new, spec, plan, owner, old_ports)
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        for port in old_ports - new_ports:
            plan.release(f"{PORT_PREFIX}{port}")
        return plan

    def plan_release(self, svc: Obj) -> WritePlan:
        plan = WritePlan()
        spec = svc.get("spec", {})
        if _has_cluster_ip(svc) and spec.get("clusterIP"):
            plan.release(IP_PREFIX + spec["clusterIP"])
        if _uses_node_ports(svc):
            for port in _node_ports(svc):
                plan.release(f"{PORT_PREFIX}{port}")
        return plan

    def carry_over(self, new: Obj, old: Obj) -> None:
        """An update that leaves out allocated values keeps them (as upstream does)."""
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec", {})
        keeps_ip = _has_cluster_ip(new) and _has_cluster_ip(old)
        if keeps_ip and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if _uses_node_ports(new) and _uses_node_ports(old):
            by_port = {
                (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                for p in old_spec.get("ports") or []
            }
            for p in spec.get("ports") or []:
                if not p.get("nodePort"):
                    kept = by_port.get((p.get("port"), p.get("protocol", "TCP")))
                    if kept:
                        p["nodePort"] = kept

    # -- claims --------------------------------------------------------------------------

    def _claim_cluster_ip(self, svc: Obj, spec: Obj, plan: WritePlan, owner: str) -> None:
        requested = spec.get("clusterIP") or ""
        if not requested:
            ip_text = self._random_ip()
            spec["clusterIP"] = ip_text
            spec["clusterIPs"] = [ip_text]
            plan.claim(IP_PREFIX + ip_text, owner, None)  # lost a race: retry another
            return
        try:
            ip = ipaddress.ip_address(requested)
        except ValueError:
            raise self._invalid(svc, "spec.clusterIPs", [requested], "must be a valid IP address") from None
        if ip not in self.network or not self._first <= int(ip) <= self._last:
            raise self._invalid(
                svc,
                "spec.clusterIPs",
                [requested],
                f"failed to allocate IP {requested}: provided IP is not in the valid range. "
                f"The range of valid IPs is {self.network}",
            )

        def taken() -> errors.APIError:
            return self._invalid(
                svc,
                "spec.clusterIPs",
                [requested],
                f"failed to allocate IP {requested}: provided IP is already allocated",
            )

        plan.claim(IP_PREFIX + requested, owner, taken)
        spec["clusterIPs"] = [requested]

    def _claim_node_ports(
        self, svc: Obj, spec: Obj, plan: WritePlan, owner: str, already_held: set[int]
    ) -> set[int]:
        low, high = self.node_ports
        used: set[int] = set()
        for i, port in enumerate(spec.get("ports") or []):
            node_port = port.get("nodePort")
            if node_port and node_port in already_held:
                used.add(node_port)
                continue
            if node_port:
                path = f"spec.ports[{i}].nodePort"
                if not low <= node_port <= high:
                    raise self._invalid(
                        svc,
                        path,
                        node_port,
                        f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
                    )
                if node_port in used:
                    raise self._invalid(svc, path, node_port, "provided port is already allocated")

                def taken(p: int = node_port, where: str = path) -> errors.APIError:
                    return self._invalid(svc, where, p, "provided port is already allocated")

                plan.claim(f"{PORT_PREFIX}{node_port}", owner, taken)
                used.add(node_port)
                continue
            choice = self._random_port()
            while choice in used or choice in already_held:
                choice = self._random_port()
            port["nodePort"] = choice
            used.add(choice)
            plan.claim(f"{PORT_PREFIX}{choice}", owner, None)
        return used


def _owner(svc: Obj) -> str:
    meta = svc.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _node_ports(svc: Obj) -> set[int]:
    return {p["nodePort"] for p in svc.get("spec", {}).get("ports") or [] if p.get("nodePort")}
