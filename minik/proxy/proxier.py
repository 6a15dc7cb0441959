"""The proxier: informers → ChangeTracker → a rate-limited sync loop → one mode's backend.

Three levels (see the package docs): this :class:`Proxier` decides *when* to sync; a
*backend* per mode is the asynchronous seam it calls; the backend's *applier* writes the
kernel.  iptables and nftables share one backend, :class:`RuleBackend`, because their
appliers have the same shape (blocking ``setup``/``sync``/``cleanup``, run in a thread).

This is the part of kube-proxy that is the same in every mode::

    Services ─┐
    EndpointSlices ─┼─ informers (list+watch) ─▶ ChangeTracker: mark the Service dirty,
    Nodes ────┘                                  remember when the change was queued
                                                           │   wake
                                                           ▼
    sync loop:  wait for a change (or the periodic full resync to fall due)
                wait out --min-sync-period since the last sync started (batches bursts)
                take() → (model, changed service ports)
                backend.sync(model, changed, full)      iptables | nftables | userspace
                record duration, rules, network programming latency → /metrics, /healthz

*Safety before rules.*  :meth:`Proxier.start` calls ``backend.setup()`` — the trap bridge,
its routes, the REJECT for the service range, ``route_localnet`` for NodePorts on 127.0.0.1 —
before any informer runs, so no Service address can leave the host even while the first
sync is being computed (see ``safety.py``).

*Partial and full syncs.*  An informer event marks one Service dirty; the next sync renders
only the service ports whose model changed and the backend writes only those (iptables:
their chains and dispatch lines; nftables: a few map elements and chains; userspace: their
listeners).  Every ``--sync-period`` seconds (and after any failed sync) the sync is *full*:
every chain/table is re-declared and stale ones deleted, which repairs drift — someone
flushing a chain, Docker re-ordering FORWARD.

*Modes.*  ``ipvs`` is resolved by :func:`~minik.proxy.ipvs.choose_mode`: on a kernel without
IPVS (these machines) it logs one warning and runs the iptables backend, as upstream does.
minik renders IPVS virtual servers (``ipvs.py``) but does not program them, so where IPVS
*is* available it warns likewise and uses iptables.

*Stopping.*  Like upstream, stopping leaves the rules in place so Services keep working while
the proxy restarts (``cleanup_on_exit`` removes them — tests use it); :func:`cleanup_all` is
``minik-proxy --cleanup``: every mode's chains, table, trap bridge and routes, the
DOCKER-USER hooks and ``route_localnet`` are removed, whichever mode made them.

Commands run through a :class:`~minik.proxy.hostexec.Runner`; with ``netns`` set, every
rule goes into that network namespace (and userspace listeners are opened there) while the
API connection stays in the caller's namespace — how the tests run a real proxy against a
real API server without touching the host's tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from minik.client.informer import ListWatcher, SharedInformerFactory
from minik.client.kinds import ENDPOINTSLICES, NODES, SERVICES
from minik.proxy.hostexec import CommandError, Runner, netns_socket_factory
from minik.proxy.iptables import IptablesConfig
from minik.proxy.iptables_applier import IptablesApplier
from minik.proxy.ipvs import choose_mode
from minik.proxy.metrics import ProxyMetrics
from minik.proxy.model import ChangeTracker, ServicePortInfo, ServicePortName
from minik.proxy.nftables import DEFAULT_TABLE, NftConfig
from minik.proxy.nftables_applier import NftablesApplier
from minik.proxy.safety import Trap
from minik.proxy.userspace import UserspaceApplier

log = logging.getLogger(__name__)

TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
Model = Mapping[ServicePortName, ServicePortInfo]


@dataclass
class ProxierOptions:
    """Everything the proxier needs besides an API client (the command line, as data)."""

    mode: str = "iptables"
    node_name: str = ""
    #: Node addresses given on the command line; the Node object's are added to them.
    node_ips: tuple[str, ...] = ()
    cluster_cidr: str | None = None
    service_cidr: str = "10.96.0.0/12"
    min_sync_period: float = 1.0
    sync_period: float = 30.0
    scheduler: str = "rr"
    masquerade_all: bool = False
    #: Program rules inside this named network namespace (``ip netns``) instead of our own.
    netns: str | None = None
    nft_table: str = DEFAULT_TABLE
    trap_bridge: str = "minik-trap"
    state_dir: Path = field(default_factory=lambda: Path("/run/minik-proxy"))
    #: /healthz fails when a change has waited this long, or no sync succeeded for
    #: sync_period + this long.
    healthz_timeout: float = 60.0
    #: Watch only this namespace (tests); None watches the whole cluster.
    namespace: str | None = None
    #: NodePorts answer on 127.0.0.1 (sets route_localnet=1).
    localhost_nodeports: bool = True

    def runner(self) -> Runner:
        return Runner(netns=self.netns)

    def trap(self, runner: Runner) -> Trap:
        return Trap(
            runner, service_cidr=self.service_cidr, bridge=self.trap_bridge,
            state_file=self.state_dir / "trap.json",
        )  # fmt: skip


class Backend(Protocol):
    """One proxy mode's kernel side, as the sync loop sees it (asynchronous, one per mode)."""

    async def setup(self) -> None: ...
    async def sync(self, model: Model, changed: Iterable[ServicePortName], full: bool) -> None: ...
    def rules(self) -> int: ...
    async def stop(self) -> None: ...
    async def cleanup(self) -> None: ...


class RuleFragment(Protocol):
    """What an applier remembers per service port; it knows how many rules it holds."""

    @property
    def rule_count(self) -> int: ...


class RuleApplier(Protocol):
    """The iptables and nftables appliers: they write the kernel with blocking commands."""

    @property
    def fragments(self) -> Mapping[ServicePortName, RuleFragment]: ...
    def setup(self) -> None: ...
    def sync(
        self, model: Model, changed: Iterable[ServicePortName] | None = None, *, full: bool = False
    ) -> object: ...
    def cleanup(self) -> None: ...


class RuleBackend:
    """The backend of a rule-writing mode (iptables, nftables) around its applier.

    The applier runs ``iptables-restore`` / ``nft``, which block, so every call goes to a
    worker thread and the event loop keeps serving informers and ``/healthz`` meanwhile.
    The rules stay in the kernel when the proxy stops (``stop`` has nothing to do).
    """

    def __init__(self, applier: RuleApplier) -> None:
        self.applier = applier

    async def setup(self) -> None:
        await asyncio.to_thread(self.applier.setup)

    async def sync(self, model: Model, changed: Iterable[ServicePortName], full: bool) -> None:
        await asyncio.to_thread(self.applier.sync, model, list(changed), full=full)

    def rules(self) -> int:
        return sum(f.rule_count for f in self.applier.fragments.values())

    async def stop(self) -> None:
        pass

    async def cleanup(self) -> None:
        await asyncio.to_thread(self.applier.cleanup)


def iptables_backend(opts: ProxierOptions) -> RuleBackend:
    runner = opts.runner()
    config = IptablesConfig(cluster_cidr=opts.cluster_cidr, masquerade_all=opts.masquerade_all)
    return RuleBackend(
        IptablesApplier(
            config, runner=runner, trap=opts.trap(runner), localhost_nodeports=opts.localhost_nodeports
        )
    )


def nftables_backend(opts: ProxierOptions) -> RuleBackend:
    runner = opts.runner()
    config = NftConfig(
        table=opts.nft_table, cluster_cidr=opts.cluster_cidr, masquerade_all=opts.masquerade_all
    )
    return RuleBackend(
        NftablesApplier(
            config, runner=runner, trap=opts.trap(runner), localhost_nodeports=opts.localhost_nodeports
        )
    )


class UserspaceBackend:
    """The userspace mode: its applier is asynchronous already (relays on the event loop)."""

    def __init__(self, opts: ProxierOptions) -> None:
        runner = opts.runner()
        kwargs: dict[str, Any] = {}
        if opts.netns:
            kwargs["socket_factory"] = netns_socket_factory(opts.netns)
        self.applier = UserspaceApplier(
            scheduler=opts.scheduler, runner=runner, trap=opts.trap(runner), **kwargs
        )

    async def setup(self) -> None:
        # The REDIRECTs and the trap are written by the first sync (with the empty model if
        # need be, before any Service is known); route_localnet is not needed: REDIRECT
        # delivers locally.
        await self.applier.sync({})

    async def sync(self, model: Model, changed: Iterable[ServicePortName], full: bool) -> None:
        await self.applier.sync(model)

    def rules(self) -> int:
        return sum(2 * (len(p.addresses) + (1 if p.node_port else 0)) for p in self.applier.portals.values())

    async def stop(self) -> None:
        await self.applier.stop()

    async def cleanup(self) -> None:
        await self.applier.cleanup()


def make_backend(opts: ProxierOptions, mode: str) -> Backend:
    if mode == "iptables":
        return iptables_backend(opts)
    if mode == "nftables":
        return nftables_backend(opts)
    if mode == "userspace":
        return UserspaceBackend(opts)
    raise ValueError(f"no backend for mode {mode!r}")


def resolve_mode(requested: str) -> str:
    """The mode that will really run (ipvs → iptables with a warning, see the module docs)."""
    mode = choose_mode(requested)
    if mode == "ipvs":
        log.warning(
            "the kernel supports IPVS, but minik-proxy only renders IPVS virtual servers and does "
            "not program them; using the iptables proxier"
        )
        return "iptables"
    return mode


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def node_addresses(node: Mapping[str, Any]) -> list[str]:
    """InternalIP then ExternalIP addresses of a Node (IPv4 only)."""
    found: list[str] = []
    for kind in ("InternalIP", "ExternalIP"):
        for a in (node.get("status") or {}).get("addresses") or []:
            addr = a.get("address")
            if a.get("type") == kind and isinstance(addr, str) and addr.count(".") == 3 and addr not in found:
                found.append(addr)
    return found


class Proxier:
    """Informers + ChangeTracker + sync loop around one backend (see the module docs)."""

    def __init__(
        self,
        opts: ProxierOptions,
        client: ListWatcher | None,
        *,
        backend: Backend | None = None,
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.opts = opts
        self.mode = resolve_mode(opts.mode) if backend is None else opts.mode
        self.backend = backend or make_backend(opts, self.mode)
        self.tracker = ChangeTracker(opts.node_name, opts.node_ips)
        self.metrics = metrics or ProxyMetrics()
        self.metrics.mode = self.mode
        self.metrics.rules = self.backend.rules
        self.metrics.service_ports = lambda: len(self.tracker.model)
        self.factory: SharedInformerFactory | None = None
        if client is not None:
            self.factory = SharedInformerFactory(client, namespace=opts.namespace)
            services = self.factory.informer(SERVICES)
            slices = self.factory.informer(ENDPOINTSLICES)
            nodes = self.factory.informer(NODES)
            services.add_event_handler(
                on_add=self.service_updated,
                on_update=lambda old, new: self.service_updated(new),
                on_delete=self.service_deleted,
            )
            slices.add_event_handler(
                on_add=self.slice_updated,
                on_update=lambda old, new: self.slice_updated(new),
                on_delete=self.slice_deleted,
            )
            nodes.add_event_handler(
                on_add=self.node_updated, on_update=lambda old, new: self.node_updated(new)
            )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._force_full = True
        self._last_sync_start = -1e9
        self._last_full_end = -1e9
        self._failures = 0
        #: Wall time the oldest change not yet programmed was queued (None: nothing waits).
        self._queued: float | None = None
        self.last_ok = False
        self.last_success = 0.0  # wall time
        self.syncs = 0
        self.synced = asyncio.Event()  # set after the first successful sync

    # -- informer side --------------------------------------------------------------------------
    def _queue(self, trigger: float | None = None) -> None:
        now = time.time()
        at = min(trigger, now) if trigger is not None else now
        self._queued = at if self._queued is None else min(self._queued, at)
        self.metrics.last_queued_timestamp = now
        self._wake.set()

    def service_updated(self, svc: Mapping[str, Any]) -> None:
        self.tracker.service_updated(svc)
        self._queue()

    def service_deleted(self, svc: Mapping[str, Any]) -> None:
        self.tracker.service_deleted(svc)
        self._queue()

    def slice_updated(self, eps: Mapping[str, Any]) -> None:
        self.tracker.slice_updated(eps)
        annotations = (eps.get("metadata") or {}).get("annotations") or {}
        self._queue(_parse_time(annotations.get(TRIGGER_TIME_ANNOTATION)))

    def slice_deleted(self, eps: Mapping[str, Any]) -> None:
        self.tracker.slice_deleted(eps)
        self._queue()

    def node_updated(self, node: Mapping[str, Any]) -> None:
        if (node.get("metadata") or {}).get("name") != self.opts.node_name:
            return
        ips = tuple(dict.fromkeys([*self.opts.node_ips, *node_addresses(node)]))
        if ips != self.tracker.node_ips:
            log.info("node %s addresses: %s", self.opts.node_name, ", ".join(ips))
            self.tracker.node_ips_changed(ips)
            self._queue()

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Safety first (the backend's trap), then the informers and the sync loop."""
        await self.backend.setup()
        if self.factory is not None:
            self.factory.start()
        self._task = asyncio.create_task(self._loop(), name="minik-proxy sync loop")

    async def stop(self, *, cleanup: bool = False) -> None:
        """Stop syncing.  Rules stay in place unless ``cleanup`` (upstream behaviour)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.factory is not None:
            await self.factory.shutdown()
        await self.backend.stop()
        if cleanup:
            await self.backend.cleanup()

    async def _loop(self) -> None:
        if self.factory is not None:
            await self.factory.wait_for_sync()
        while True:
            if not (self._force_full or self.tracker.pending):
                timeout = max(0.0, self._last_full_end + self.opts.sync_period - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            self._wake.clear()
            delay = self._last_sync_start + self.opts.min_sync_period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            full = self._force_full or time.monotonic() >= self._last_full_end + self.opts.sync_period
            if not await self.sync_once(full=full):
                # Retry (as a full sync) with a capped exponential backoff.
                await asyncio.sleep(
                    min(30.0, max(self.opts.min_sync_period, 0.5) * 2 ** min(self._failures, 6))
                )

    async def sync_once(self, *, full: bool = False) -> bool:
        """One sync; True on success (or nothing to do)."""
        changes = self.tracker.take()
        queued, self._queued = self._queued, None
        if not full and changes.empty:
            return True
        start = time.monotonic()
        self._last_sync_start = start
        try:
            await self.backend.sync(changes.model, changes.changed, full)
        except (CommandError, OSError, ValueError) as err:
            self._failures += 1
            self.metrics.errors += 1
            self.last_ok = False
            self._force_full = True
            if queued is not None:
                self._queued = queued if self._queued is None else min(queued, self._queued)
            log.error("sync failed (%d in a row; next sync is full): %s", self._failures, err)
            return False
        end = time.monotonic()
        self.metrics.sync_duration.observe(end - start)
        if full:
            self.metrics.full_syncs += 1
            self._last_full_end = end
            self._force_full = False
        else:
            self.metrics.partial_syncs += 1
        if queued is not None and changes.changed:
            self.metrics.programming.observe(max(0.0, time.time() - queued))
        self._failures = 0
        self.last_ok = True
        self.last_success = time.time()
        self.metrics.last_sync_timestamp = self.last_success
        self.syncs += 1
        self.synced.set()
        log.debug(
            "%s sync: %d changed of %d service ports in %.3fs",
            "full" if full else "partial", len(changes.changed), len(changes.model), end - start,
        )  # fmt: skip
        return True

    def health(self) -> tuple[bool, str]:
        """(healthy, JSON body) for ``/healthz``."""
        now = time.time()
        limit = self.opts.healthz_timeout
        waiting = self._queued is not None and now - self._queued > limit
        stale = now - self.last_success > self.opts.sync_period + limit
        ok = self.last_ok and self.last_success > 0 and not waiting and not stale
        body = {
            "lastUpdated": _iso(self.last_success) if self.last_success else None,
            "currentTime": _iso(now),
            "mode": self.mode,
            "lastSyncSucceeded": self.last_ok,
            "changesWaiting": self._queued is not None,
        }
        return ok, json.dumps(body)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat()


def cleanup_all(opts: ProxierOptions) -> list[str]:
    """``--cleanup``: remove what any mode made (in ``opts.netns`` if set).  Returns errors."""
    runner = opts.runner()
    trap = opts.trap(runner)
    errors: list[str] = []
    steps: list[tuple[str, Any]] = []
    if shutil.which("iptables-restore"):
        steps.append(("iptables", IptablesApplier(IptablesConfig(), runner=runner, trap=trap).cleanup))
    if shutil.which("nft"):
        table = NftConfig(table=opts.nft_table)
        steps.append(("nftables", NftablesApplier(table, runner=runner, trap=trap).cleanup))
    if shutil.which("iptables-restore"):
        userspace = UserspaceApplier(runner=runner, trap=trap)
        steps.append(("userspace", lambda: asyncio.run(userspace.cleanup())))
    steps.append(("trap", trap.cleanup))
    for what, step in steps:
        try:
            step()
        except (CommandError, OSError) as err:
            errors.append(f"{what}: {err}")
            log.error("cleanup of %s failed: %s", what, err)
    return errors
