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
import json
import logging
import os
import re
import signal
import socket
import sys
import time
import uuid
from typing import Any

from minik import __version__
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.leaderelection import LeaderElector
from minik.client.pooled import PooledAPIClient
from minik.client.rest import APIClient
from minik.client.statusserver import StatusServer
from minik.controllers.registry import CONTROLLERS, BuildContext, ManagedController, select_controllers

log = logging.getLogger("minik.controllers.manager")


# -- flags ---------------------------------------------------------------------------------------


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*$")


def duration(text: str) -> float:
    """Seconds from ``15s``, ``500ms``, ``1m``, ``2h`` or a plain number of seconds."""
    match = _DURATION.match(str(text))
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 15s, 500ms, 1m or 2.5")
    value = float(match.group(1))
    return value * {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}[match.group(2)]


def boolean(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="minik-controller-manager",
        description="Runs minik's control loops (replica counts, rollouts, endpoints, node health, "
        "garbage collection, namespaces, node CIDRs, load-balancer addresses) against the API server. "
        "Of several replicas only the holder of the leader-election Lease acts. Every flag falls back "
        "to the environment variable named in brackets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    conn = p.add_argument_group("connection")
    conn.add_argument(
        "--kubeconfig",
        default=_env("KUBECONFIG", "") or None,
        help="kubeconfig to reach the API server [KUBECONFIG]; default search: ~/.minik/kubeconfig, "
        "~/.kube/config",
    )
    conn.add_argument(
        "--master",
        default=_env("MINIK_MASTER", "") or None,
        help="API server URL, overriding the kubeconfig's [MINIK_MASTER]",
    )

    ctl = p.add_argument_group("controllers")
    ctl.add_argument(
        "--controllers",
        default=_env("MINIK_CONTROLLERS", "*"),
        help="which controllers run: '*' = all on by default, 'name' enables, '-name' disables "
        f"(e.g. '*,-job'). Known: {', '.join(s.name for s in CONTROLLERS)} [MINIK_CONTROLLERS]",
    )
    ctl.add_argument(
        "--concurrent-syncs",
        type=int,
        default=int(_env("MINIK_CONCURRENT_SYNCS", "5")),
        help="workers per controller (keys reconciled at once) [MINIK_CONCURRENT_SYNCS]",
    )
    ctl.add_argument(
        "--concurrent-gc-syncs",
        type=int,
        default=int(_env("MINIK_CONCURRENT_GC_SYNCS", "10")),
        help="garbage collector workers [MINIK_CONCURRENT_GC_SYNCS]",
    )

    le = p.add_argument_group("leader election")
    le.add_argument(
        "--leader-elect",
        type=boolean,
        default=boolean(_env("MINIK_LEADER_ELECT", "true")),
        help="campaign for the lease before running controllers; false runs them at once "
        "(only safe with a single replica) [MINIK_LEADER_ELECT]",
    )
    le.add_argument(
        "--leader-elect-lease-duration",
        type=duration,
        default=duration(_env("MINIK_LEADER_ELECT_LEASE_DURATION", "15s")),
        help="how long standbys wait after the last renewal before taking over "
        "[MINIK_LEADER_ELECT_LEASE_DURATION]",
    )
    le.add_argument(
        "--leader-elect-renew-deadline",
        type=duration,
        default=duration(_env("MINIK_LEADER_ELECT_RENEW_DEADLINE", "10s")),
        help="how long the leader keeps retrying a failing renewal before it stops "
        "(must be < lease duration) [MINIK_LEADER_ELECT_RENEW_DEADLINE]",
    )
    le.add_argument(
        "--leader-elect-retry-period",
        type=duration,
        default=duration(_env("MINIK_LEADER_ELECT_RETRY_PERIOD", "2s")),
        help="time between acquire/renew attempts [MINIK_LEADER_ELECT_RETRY_PERIOD]",
    )
    le.add_argument(
        "--leader-elect-resource-namespace",
        default=_env("MINIK_LEADER_ELECT_NAMESPACE", "kube-system"),
        help="namespace of the Lease [MINIK_LEADER_ELECT_NAMESPACE]",
    )
    le.add_argument(
        "--leader-elect-resource-name",
        default=_env("MINIK_LEADER_ELECT_NAME", "minik-controller-manager"),
        help="name of the Lease [MINIK_LEADER_ELECT_NAME]",
    )
    le.add_argument(
        "--identity",
        default=_env("MINIK_IDENTITY", ""),
        help="this replica's name in the Lease (default: hostname_<random>) [MINIK_IDENTITY]",
    )

    nodes = p.add_argument_group("nodes")
    nodes.add_argument(
        "--node-monitor-grace-period",
        type=duration,
        default=duration(_env("MINIK_NODE_MONITOR_GRACE_PERIOD", "40s")),
        help="silence (no Lease renewal, no status heartbeat) after which a node is marked "
        "Unknown and tainted unreachable [MINIK_NODE_MONITOR_GRACE_PERIOD]",
    )
    nodes.add_argument(
        "--allocate-node-cidrs",
        type=boolean,
        default=boolean(_env("MINIK_ALLOCATE_NODE_CIDRS", "true")),
        help="give every node a spec.podCIDR (the nodeipam controller) [MINIK_ALLOCATE_NODE_CIDRS]",
    )
    nodes.add_argument(
        "--cluster-cidr",
        default=_env("MINIK_CLUSTER_CIDR", "10.244.0.0/16"),
        help="the pod network, cut into per-node blocks [MINIK_CLUSTER_CIDR]",
    )
    nodes.add_argument(
        "--node-cidr-mask-size",
        type=int,
        default=int(_env("MINIK_NODE_CIDR_MASK_SIZE", "24")),
        help="prefix length of each node's block [MINIK_NODE_CIDR_MASK_SIZE]",
    )
    nodes.add_argument(
        "--service-cluster-ip-range",
        default=_env("MINIK_SERVICE_CIDR", "10.96.0.0/12"),
        help="never hand out node blocks overlapping this range [MINIK_SERVICE_CIDR]",
    )

    pods = p.add_argument_group("pod garbage collection")
    pods.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=int(_env("MINIK_TERMINATED_POD_GC_THRESHOLD", "12500")),
        help="Succeeded/Failed pods kept before the oldest are deleted; 0 keeps all "
        "[MINIK_TERMINATED_POD_GC_THRESHOLD]",
    )
    pods.add_argument(
        "--pod-gc-period",
        type=duration,
        default=duration(_env("MINIK_POD_GC_PERIOD", "20s")),
        help="time between pod GC sweeps [MINIK_POD_GC_PERIOD]",
    )
    pods.add_argument(
        "--pod-gc-orphan-quarantine",
        type=duration,
        default=duration(_env("MINIK_POD_GC_ORPHAN_QUARANTINE", "40s")),
        help="how long a pod's node must be missing before its pods are force deleted "
        "[MINIK_POD_GC_ORPHAN_QUARANTINE]",
    )

    svc = p.add_argument_group("services")
    svc.add_argument(
        "--load-balancer-ip-pool",
        default=_env("MINIK_LB_POOL", "127.1.0.0/24"),
        help="addresses for type=LoadBalancer Services: CIDRs and FIRST-LAST ranges, comma "
        "separated; keep them local to this machine [MINIK_LB_POOL]",
    )
    svc.add_argument(
        "--max-endpoints-per-slice",
        type=int,
        default=int(_env("MINIK_MAX_ENDPOINTS_PER_SLICE", "100")),
        help="endpoints per EndpointSlice [MINIK_MAX_ENDPOINTS_PER_SLICE]",
    )

    srv = p.add_argument_group("serving and logging")
    srv.add_argument(
        "--bind-address",
        default=_env("MINIK_CM_BIND_ADDRESS", "127.0.0.1"),
        help="address of the /healthz and /metrics HTTP endpoint [MINIK_CM_BIND_ADDRESS]",
    )
    srv.add_argument(
        "--port",
        type=int,
        default=int(_env("MINIK_CM_PORT", "10257")),
        help="port of /healthz and /metrics; 0 picks a free one, -1 disables [MINIK_CM_PORT]",
    )
    srv.add_argument(
        "--log-level",
        default=_env("MINIK_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help="[MINIK_LOG_LEVEL]",
    )
    srv.add_argument(
        "--log-format",
        default=_env("MINIK_LOG_FORMAT", "text"),
        choices=["text", "json"],
        help="text for people, json for log collectors (one object per line) [MINIK_LOG_FORMAT]",
    )
    p.add_argument("--version", action="version", version=f"minik-controller-manager {__version__}")

    args = p.parse_args(argv)
    try:
        args.selected = select_controllers(args.controllers)
    except ValueError as exc:
        p.error(str(exc))
    if not args.allocate_node_cidrs:
        args.selected = [s for s in args.selected if s.name != "nodeipam"]
    if args.leader_elect:
        if args.leader_elect_lease_duration <= args.leader_elect_renew_deadline:
            p.error("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline")
        if args.leader_elect_renew_deadline <= 1.2 * args.leader_elect_retry_period:
            p.error("--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period")
    if args.concurrent_syncs < 1 or args.concurrent_gc_syncs < 1:
        p.error("--concurrent-syncs and --concurrent-gc-syncs must be at least 1")
    return args


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
        if args.port >= 0:
            self.status = StatusServer.standard(
                component="minik-controller-manager", metrics=self.state.render_metrics
            )
            await self.status.start(args.bind_address, args.port)
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


# -- logging and main ----------------------------------------------------------------------------


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = JSONFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        manager = ControllerManager(args)
        try:
            await manager.run(stop)
        except KubeconfigError as exc:
            log.error("cannot reach the API server: %s (pass --kubeconfig or --master)", exc)
            raise SystemExit(1) from None
        except LeadershipLost as exc:
            log.error("%s", exc)
            raise SystemExit(1) from None
        except OSError as exc:
            log.error("cannot serve on %s:%s: %s", args.bind_address, args.port, exc.strerror or exc)
            raise SystemExit(1) from None
        except Exception:
            log.exception("the controller-manager failed")
            raise SystemExit(1) from None
        log.info("stopped")

    asyncio.run(serve())


if __name__ == "__main__":
    main()
