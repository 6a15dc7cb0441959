"""Node IPAM: one slice of the cluster's pod network per node (``spec.podCIDR``).

Every pod gets an IP from its node, and no two pods in the cluster may share
one, so the cluster CIDR (``10.244.0.0/16`` by default) is cut into per-node
blocks (``/24``: 254 pods each, 256 nodes) and each Node is given one in
``spec.podCIDR`` / ``spec.podCIDRs``. The kubelet then hands out addresses from
its block alone (see ``minik/kubelet/ipam.py``). This is upstream's
*range allocator* (``--allocate-node-cidrs``).

**No state of its own.** Which blocks are taken is written on the Nodes. On
start, before handing anything out, the allocator marks every block already
assigned to an existing Node, so a restarted controller never assigns a block
twice and every Node keeps its block ("stable across restarts"). A deleted
Node's block is released; if the controller was down when that happened, the
block is simply absent from the start-up scan.

**Races.** The allocator is in memory and the event loop is single-threaded:
picking a free block and recording it happens without an ``await`` in
between, so two nodes can never be given one block. The write to the Node
then happens; until the informer shows it, the node's pending assignment is
remembered, so a second reconcile of the same node re-sends the same block
instead of picking another. ``spec.podCIDR`` may only go from empty to set
(the API server enforces it), so if someone else set it first the write fails,
the pending block is released, and the node's own value is adopted.

Blocks are handed out round-robin after the last one given (upstream's
``nextCandidate``), so a just-released block — whose addresses may still be
in some client's connection table — is reused as late as possible. Blocks
overlapping the service CIDR, if it lies inside the cluster CIDR, are never
used.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from minik.client.controller import Controller, Result
from minik.client.errors import InvalidError, NotFoundError
from minik.client.events import WARNING, EventRecorder
from minik.client.informer import SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import NODES
from minik.client.objects import Obj, name_of, spec_of
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRExhaustedError(RuntimeError):
    """No free block is left in the cluster CIDR."""


class CIDRSet:
    """The blocks of one cluster CIDR, and which are taken (upstream ``cidrset``)."""

    def __init__(self, cluster_cidr: str, mask_size: int, *, reserved: Iterable[str] = ()) -> None:
        self.cluster: Network = ipaddress.ip_network(cluster_cidr, strict=True)
        if mask_size < self.cluster.prefixlen:
            raise ValueError(f"node CIDR mask /{mask_size} is larger than the cluster CIDR {self.cluster}")
        if mask_size - self.cluster.prefixlen > 24:
            raise ValueError(f"/{mask_size} blocks of {self.cluster}: too many (at most 2^24)")
        self.mask_size = mask_size
        self.size: int = 1 << (mask_size - self.cluster.prefixlen)
        self._block_addresses: int = 1 << (self.cluster.max_prefixlen - mask_size)
        self._used: set[int] = set()
        self._next = 0
        for cidr in reserved:
            net = ipaddress.ip_network(cidr, strict=False)
            for index in range(self.size):
                if self.block(index).overlaps(net):
                    self._used.add(index)

    def block(self, index: int) -> Network:
        base = int(self.cluster.network_address) + index * self._block_addresses
        return ipaddress.ip_network((base, self.mask_size))

    def index_of(self, cidr: str) -> int | None:
        """The block index of ``cidr`` if it is exactly one of our blocks."""
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            return None
        if net.version != self.cluster.version or net.prefixlen != self.mask_size:
            return None
        offset = int(net.network_address) - int(self.cluster.network_address)
        if offset < 0 or offset >= self.size * self._block_addresses:
            return None
        return offset // self._block_addresses

    def occupy(self, cidr: str) -> bool:
        """Mark a block taken; ``False`` if it is not one of ours."""
        index = self.index_of(cidr)
        if index is None:
            return False
        self._used.add(index)
        return True

    def release(self, cidr: str) -> None:
        index = self.index_of(cidr)
        if index is not None:
            self._used.discard(index)

    def allocate(self) -> str:
        for step in range(self.size):
            index = (self._next + step) % self.size
            if index not in self._used:
                self._used.add(index)
                self._next = (index + 1) % self.size
                return str(self.block(index))
        raise CIDRExhaustedError(f"no free /{self.mask_size} left in {self.cluster}")

    @property
    def used(self) -> int:
        return len(self._used)


def node_cidrs(node: Obj) -> list[str]:
    spec = spec_of(node)
    cidrs = [str(c) for c in spec.get("podCIDRs") or [] if c]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    return cidrs


class NodeIPAMController:
    """Assigns each Node a pod CIDR block (see the module docs)."""

    name = "nodeipam"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 1,
        cluster_cidr: str = "10.244.0.0/16",
        node_cidr_mask_size: int = 24,
        service_cidr: str | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        reserved = [service_cidr] if service_cidr else []
        self.cidrs = CIDRSet(cluster_cidr, node_cidr_mask_size, reserved=reserved)
        self.nodes = factory.informer(NODES)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        #: node name → the block this controller assigned (or saw) for it
        self._assigned: dict[str, str] = {}
        self.nodes.add_event_handler(
            on_add=self.controller.enqueue_object,
            on_update=lambda old, new: self.controller.enqueue_object(new),
            on_delete=self._node_deleted,
        )

    def _node_deleted(self, node: Obj) -> None:
        name = name_of(node)
        cidr = self._assigned.pop(name, None)
        if cidr is not None:
            self.cidrs.release(cidr)
            log.info("node %s deleted; released pod CIDR %s", name, cidr)
            self._retry_waiting()

    def _retry_waiting(self) -> None:
        """A block was freed: nodes that found the range full get another chance now."""
        for node in self.nodes.list():
            if not node_cidrs(node) and name_of(node) not in self._assigned:
                self.controller.enqueue(name_of(node))

    def _seed(self) -> None:
        for node in sorted(self.nodes.list(), key=lambda n: str(n["metadata"].get("creationTimestamp", ""))):
            for cidr in node_cidrs(node):
                if self.cidrs.occupy(cidr):
                    self._assigned[name_of(node)] = cidr
        log.info(
            "node IPAM: %d of %d blocks of %s in use", self.cidrs.used, self.cidrs.size, self.cidrs.cluster
        )

    async def run(self) -> None:
        # Every existing assignment must be known before the first new one.
        await wait_for_cache_sync(self.nodes)
        self._seed()
        await self.controller.run(wait_for=[self.nodes])

    async def reconcile(self, name: str) -> Result | None:
        node = self.nodes.get(name)
        if node is None:
            cidr = self._assigned.pop(name, None)
            if cidr is not None:
                self.cidrs.release(cidr)
                self._retry_waiting()
            return None
        existing = node_cidrs(node)
        if existing:
            previous = self._assigned.get(name)
            if previous is not None and previous not in existing:
                self.cidrs.release(previous)  # someone else set it first
            for cidr in existing:
                if self.cidrs.occupy(cidr):
                    self._assigned[name] = cidr
            return None

        cidr = self._assigned.get(name)
        if cidr is None:
            try:
                cidr = self.cidrs.allocate()
            except CIDRExhaustedError as exc:
                if self.recorder is not None:
                    self.recorder.event(node, WARNING, "CIDRNotAvailable", str(exc))
                log.error("node %s: %s", name, exc)
                return Result(requeue_after=30.0)
            self._assigned[name] = cidr
        try:
            await self.client.patch(NODES, name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except NotFoundError:
            self._assigned.pop(name, None)
            self.cidrs.release(cidr)
            return None
        except InvalidError as exc:
            # The node got a CIDR from someone else meanwhile: adopt it next time.
            self._assigned.pop(name, None)
            self.cidrs.release(cidr)
            if self.recorder is not None:
                self.recorder.event(node, WARNING, "CIDRAssignmentFailed", exc.message)
            raise
        log.info("node %s: assigned pod CIDR %s", name, cidr)
        return None
