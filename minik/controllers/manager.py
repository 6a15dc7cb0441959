"""``minik-controller-manager``: every controller in one process, one leader at a time.

The controller-manager is a process that runs many independent control loops
(each in its own module of :mod:`minik.controllers`) on one event loop, with
one API client, one set of shared informers (a pod is cached once, whichever
controllers look at pods) and one leader election::

    start ──▶ /healthz + /metrics on --port
          ──▶ campaign for Lease kube-system/minik-controller-manager
                 (standby: keep retrying every --leader-elect-retry-period)
          ──▶ elected: build the enabled controllers, start the informers,
                 run every controller until...
                 · SIGTERM: stop the controllers, release the lease, exit 0
                   (a standby takes over at its next retry);
                 · leadership lost (renewals failed for --leader-elect-renew-deadline):
                   stop at once and exit 1 — a process that is not sure it leads
                   must not act, and a fresh start is the simplest honest state.

**Why one leader.** Two replicas acting on the same objects would fight: both
would see a ReplicaSet one pod short and both would create one. Only the
holder of the Lease runs controllers; the others only campaign. The renew
deadline is shorter than the lease duration, so a leader that cannot renew
stops before anyone else may take over (see
:mod:`minik.client.leaderelection`).

**Choosing controllers.** ``--controllers`` takes upstream's syntax: a comma
list where ``*`` means every controller that is on by default, ``name`` turns
one on and ``-name`` turns one off (``--controllers=*,-job``). The controllers
themselves, and how each is built, are listed in
:mod:`minik.controllers.registry`.

Every flag falls back to an environment variable (named in ``--help``), so the
same image runs under docker compose with only environment settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import time
import uuid
from typing import Any

from minik import __version__
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.leaderelection import LeaderElector
from minik.client.pooled import PooledAPIClient
from minik.client.process import (
    Flag,
    Group,
    Shell,
    boolean,
    cidr,
    duration,
    integer,
    number,
    optional,
    serve_status,
    status_flags,
)
from minik.client.rest import APIClient
from minik.client.statusserver import StatusServer
from minik.controllers.loadbalancer import AddressPool
from minik.controllers.registry import CONTROLLERS, BuildContext, ManagedController, select_controllers

log = logging.getLogger("minik.controllers.manager")


# -- flags ---------------------------------------------------------------------------------------


def _pool(value: str) -> str:
    """A load-balancer address pool spec, checked the way the controller will read it."""
    try:
        AddressPool(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid address pool {value!r}: {exc}") from None
    return value


def _check(args: argparse.Namespace) -> None:
    """The rules between flags (a ``ValueError`` is a usage error); picks the controllers."""
    args.selected = select_controllers(args.controllers)
    if not args.allocate_node_cidrs:
        args.selected = [s for s in args.selected if s.name != "nodeipam"]
    if args.leader_elect:
        if args.leader_elect_lease_duration <= args.leader_elect_renew_deadline:
            raise ValueError(
                "--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline"
            )
        if args.leader_elect_renew_deadline <= 1.2 * args.leader_elect_retry_period:
            raise ValueError(
                "--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period"
            )


_AT_LEAST_ONE = integer(minimum=1)

#: Every flag, as data: (name, meaning, default, type, environment variable).
FLAGS: tuple[Flag | Group, ...] = (
    Group(
        "connection",
        (
            Flag(
                "--kubeconfig",
                "kubeconfig to reach the API server; default search: ~/.minik/kubeconfig, ~/.kube/config",
                env="KUBECONFIG",
            ),
            Flag("--master", "API server URL, overriding the kubeconfig's", env="MINIK_MASTER"),
        ),
    ),
    Group(
        "controllers",
        (
            Flag(
                "--controllers",
                "which controllers run: '*' = all on by default, 'name' enables, '-name' disables "
                f"(e.g. '*,-job'). Known: {', '.join(s.name for s in CONTROLLERS)}",
                "*",
                env="MINIK_CONTROLLERS",
            ),
            Flag(
                "--concurrent-syncs",
                "workers per controller (keys reconciled at once)",
                5,
                _AT_LEAST_ONE,
                env="MINIK_CONCURRENT_SYNCS",
            ),
            Flag(
                "--concurrent-gc-syncs",
                "garbage collector workers",
                10,
                _AT_LEAST_ONE,
                env="MINIK_CONCURRENT_GC_SYNCS",
            ),
        ),
    ),
    Group(
        "leader election",
        (
            Flag(
                "--leader-elect",
                "campaign for the lease before running controllers; false runs them at once "
                "(only safe with a single replica)",
                True,
                boolean,
                env="MINIK_LEADER_ELECT",
                switch=True,
            ),
            Flag(
                "--leader-elect-lease-duration",
                "how long standbys wait after the last renewal before taking over",
                "15s",
                duration,
                env="MINIK_LEADER_ELECT_LEASE_DURATION",
            ),
            Flag(
                "--leader-elect-renew-deadline",
                "how long the leader keeps retrying a failing renewal before it stops (must be < lease duration)",
                "10s",
                duration,
                env="MINIK_LEADER_ELECT_RENEW_DEADLINE",
            ),
            Flag(
                "--leader-elect-retry-period",
                "time between acquire/renew attempts",
                "2s",
                duration,
                env="MINIK_LEADER_ELECT_RETRY_PERIOD",
            ),
            Flag(
                "--leader-elect-resource-namespace",
                "namespace of the Lease",
                "kube-system",
                env="MINIK_LEADER_ELECT_NAMESPACE",
            ),
            Flag(
                "--leader-elect-resource-name",
                "name of the Lease",
                "minik-controller-manager",
                env="MINIK_LEADER_ELECT_NAME",
            ),
            Flag(
                "--identity",
                "this replica's name in the Lease (default: hostname_<random>)",
                "",
                env="MINIK_IDENTITY",
            ),
        ),
    ),
    Group(
        "nodes",
        (
            Flag(
                "--node-monitor-grace-period",
                "silence (no Lease renewal, no status heartbeat) after which a node is marked Unknown "
                "and tainted unreachable",
                "40s",
                duration,
                env="MINIK_NODE_MONITOR_GRACE_PERIOD",
            ),
            Flag(
                "--node-eviction-rate",
                "nodes per second tainted NoExecute (their pods evicted) in a healthy zone",
                0.1,
                number(minimum=0),
                env="MINIK_NODE_EVICTION_RATE",
            ),
            Flag(
                "--secondary-node-eviction-rate",
                "the same in an unhealthy zone (0 for zones of at most --large-cluster-size-threshold nodes)",
                0.01,
                number(minimum=0),
                env="MINIK_SECONDARY_NODE_EVICTION_RATE",
            ),
            Flag(
                "--unhealthy-zone-threshold",
                "fraction of a zone's nodes not Ready (at least 3) that makes the zone unhealthy",
                0.55,
                number(minimum=0),
                env="MINIK_UNHEALTHY_ZONE_THRESHOLD",
            ),
            Flag(
                "--large-cluster-size-threshold",
                "zones with more nodes than this evict at the secondary rate when unhealthy",
                50,
                integer(minimum=0),
                env="MINIK_LARGE_CLUSTER_SIZE_THRESHOLD",
            ),
            Flag(
                "--allocate-node-cidrs",
                "give every node a spec.podCIDR (the nodeipam controller)",
                True,
                boolean,
                env="MINIK_ALLOCATE_NODE_CIDRS",
                switch=True,
            ),
            Flag(
                "--cluster-cidr",
                "the pod network, cut into per-node blocks",
                "10.244.0.0/16",
                cidr,
                env="MINIK_CLUSTER_CIDR",
            ),
            Flag(
                "--node-cidr-mask-size",
                "prefix length of each node's block",
                24,
                integer(minimum=1, maximum=128),
                env="MINIK_NODE_CIDR_MASK_SIZE",
            ),
            Flag(
                "--service-cluster-ip-range",
                "never hand out node blocks overlapping this range",
                "10.96.0.0/12",
                optional(cidr),
                env="MINIK_SERVICE_CIDR",
            ),
        ),
    ),
    Group(
        "pod garbage collection",
        (
            Flag(
                "--terminated-pod-gc-threshold",
                "Succeeded/Failed pods kept before the oldest are deleted; 0 keeps all",
                12500,
                integer(minimum=0),
                env="MINIK_TERMINATED_POD_GC_THRESHOLD",
            ),
            Flag("--pod-gc-period", "time between pod GC sweeps", "20s", duration, env="MINIK_POD_GC_PERIOD"),
            Flag(
                "--pod-gc-orphan-quarantine",
                "how long a pod's node must be missing before its pods are force deleted",
                "40s",
                duration,
                env="MINIK_POD_GC_ORPHAN_QUARANTINE",
            ),
        ),
    ),
    Group(
        "services",
        (
            Flag(
                "--load-balancer-ip-pool",
                "addresses for type=LoadBalancer Services: CIDRs and FIRST-LAST ranges, comma separated; "
                "keep them local to this machine",
                "127.1.0.0/24",
                _pool,
                env="MINIK_LB_POOL",
            ),
            Flag(
                "--max-endpoints-per-slice",
                "endpoints per EndpointSlice",
                100,
                _AT_LEAST_ONE,
                env="MINIK_MAX_ENDPOINTS_PER_SLICE",
            ),
        ),
    ),
    status_flags(
        default_port=10257,
        port_flag="--port",
        address_flag="--bind-address",
        serves="/healthz and /metrics",
        port_env="MINIK_CM_PORT",
        address_env="MINIK_CM_BIND_ADDRESS",
    ),
)

SHELL = Shell(
    prog="minik-controller-manager",
    description="Runs minik's control loops (replica counts, rollouts, endpoints, node health, "
    "garbage collection, namespaces, node CIDRs, load-balancer addresses) against the API server. "
    "Of several replicas only the holder of the leader-election Lease acts.",
    env_prefix="MINIK_CM_",
    flags=FLAGS,
    check=_check,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return SHELL.parse(argv)


# -- metrics and health --------------------------------------------------------------------------


class ManagerState:
    """What /metrics and /healthz report."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.started = time.time()
        self.leader = False
        self.running: dict[str, ManagedController] = {}

    def render_metrics(self) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {value:g}")

        ident = _label(identity=self.identity)
        metric(
            "minik_controller_manager_leader",
            "gauge",
            "1 while this replica holds the lease.",
            [(ident, 1.0 if self.leader else 0.0)],
        )
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process (Unix seconds).",
            [("", self.started)],
        )
        metric(
            "minik_controller_enabled",
            "gauge",
            "Controllers this replica runs while leading.",
            [(_label(controller=n), 1.0) for n in sorted(self.running)],
        )
        reconciles, errors, depth = [], [], []
        for name, obj in sorted(self.running.items()):
            for loop in obj.loops:
                labels = _label(controller=name, loop=loop.name)
                reconciles.append((labels, float(loop.reconcile_count)))
                errors.append((labels, float(loop.error_count)))
                depth.append((labels, float(len(loop.queue))))
        metric("minik_controller_reconcile_total", "counter", "Reconciles run.", reconciles)
        metric(
            "minik_controller_reconcile_errors_total", "counter", "Reconciles that failed (retried).", errors
        )
        metric("minik_workqueue_depth", "gauge", "Keys waiting in the work queue.", depth)
        return "\n".join(lines) + "\n"


def _label(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}"


# -- the manager ---------------------------------------------------------------------------------


class LeadershipLost(RuntimeError):
    """The lease could not be renewed: this replica must stop acting."""


class ControllerManager:
    """The whole process, startable in-process (tests) or from :func:`main`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.state = ManagerState(identity)
        self.status: StatusServer | None = None
        self.client: APIClient | None = None

    @property
    def identity(self) -> str:
        return self.state.identity

    async def run(self, stop: asyncio.Event) -> None:
        """Serve, campaign, lead until ``stop`` is set (or leadership is lost: raises)."""
        args = self.args
        config = ClientConfig.from_flags(server=args.master, kubeconfig=args.kubeconfig)
        # Writes (a ReplicaSet's pod creates come in batches of up to 256) go through the pooled
        # raw-HTTP/1.1 path; the informers' watches stay on httpx.
        self.client = PooledAPIClient(
            config, user_agent=f"minik-controller-manager/{__version__}", max_connections=64
        )
        status = StatusServer.standard(
            component="minik-controller-manager", metrics=self.state.render_metrics
        )
        self.status = await serve_status(status, args.bind_address, args.port)
        try:
            if args.leader_elect:
                elector = LeaderElector(
                    self.client,
                    namespace=args.leader_elect_resource_namespace,
                    name=args.leader_elect_resource_name,
                    identity=self.identity,
                    lease_duration=args.leader_elect_lease_duration,
                    renew_deadline=args.leader_elect_renew_deadline,
                    retry_period=args.leader_elect_retry_period,
                )
                log.info("campaigning for lease %s/%s as %s", elector.namespace, elector.name, self.identity)
                work: asyncio.Future[Any] = asyncio.ensure_future(elector.run(self._lead))
            else:
                log.warning("leader election disabled: running controllers at once")
                work = asyncio.ensure_future(self._lead())
            stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not work.done():
                    work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
            if not stop.is_set():
                # elector.run returned by itself: renewals failed, or a controller crashed (raised above).
                raise LeadershipLost(
                    f"{self.identity} lost the lease; exiting so a fresh replica can campaign"
                )
        finally:
            self.state.leader = False
            if self.status is not None:
                await self.status.stop()
            await self.client.aclose()

    async def _lead(self) -> None:
        assert self.client is not None
        self.state.leader = True
        log.info("leading: starting %d controller(s)", len(self.args.selected))
        factory = SharedInformerFactory(self.client)
        recorders: list[EventRecorder] = []
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            for spec in self.args.selected:
                recorder = EventRecorder(self.client, spec.component, host=socket.gethostname())
                recorders.append(recorder)
                context = BuildContext(self.client, factory, recorder, self.args)
                self.state.running[spec.name] = spec.build(context)
            factory.start()
            for name, controller in self.state.running.items():
                tasks[name] = asyncio.create_task(controller.run(), name=f"controller {name}")
            log.info("controllers running: %s", ", ".join(sorted(tasks)) or "none")
            if not tasks:
                await asyncio.Event().wait()
            done, _ = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
            for name, task in tasks.items():
                if task in done and not task.cancelled() and task.exception() is not None:
                    log.error("controller %s failed: %r", name, task.exception())
                    raise RuntimeError(f"controller {name} stopped with an error") from task.exception()
        finally:
            self.state.leader = False
            for task in tasks.values():
                task.cancel()
            for task in tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await factory.shutdown()
            for recorder in recorders:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(recorder.close(), 5)
            self.state.running.clear()
            log.info("controllers stopped")


# -- main ----------------------------------------------------------------------------------------


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Run the manager until ``stop`` is set → exit status (1: cannot connect, lease lost, ...)."""
    manager = ControllerManager(args)
    try:
        await manager.run(stop)
    except KubeconfigError as exc:
        log.error("cannot reach the API server: %s (pass --kubeconfig or --master)", exc)
        return 1
    except LeadershipLost as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.bind_address, args.port, exc.strerror or exc)
        return 1
    log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> None:
    SHELL.main(argv, serve)


if __name__ == "__main__":
    main()
