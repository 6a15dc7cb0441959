"""``minik-scheduler``: flags, wiring, leader election, start-up and shutdown.

Start-up order, as kube-scheduler's:

1. read the configuration (``--config`` file, then flags that override it) —
   every mistake is reported before anything connects;
2. start the informers (pods, nodes, namespaces) and wait for their first
   lists: even a standby instance keeps a warm cache, so taking over is quick;
3. serve ``/healthz``, ``/readyz``, ``/metrics`` (``--metrics-port``);
4. with leader election (the default) campaign for the Lease
   ``kube-system/minik-scheduler``; only the leader runs the scheduling loop.
   Two instances can run side by side for high availability; at most one of
   them binds at any time.

**Losing the lease ends the process** (exit status 1), as upstream's
scheduler does: its cache holds assumptions made as leader, and a restart
from a clean state is simpler and safer than reconciling them. A supervisor
(docker compose ``restart:``, systemd) brings it back as a standby.
SIGTERM/SIGINT stop gracefully: the lease is released at once so a standby
takes over without waiting for it to expire.

A second scheduler (``--scheduler-name my-scheduler``, and its own
``--leader-elect-resource-name``) can run beside the default one; each
schedules only the pods whose ``spec.schedulerName`` names one of its
profiles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import uuid
from dataclasses import replace
from typing import Any

from minik.client.events import EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import NAMESPACES, NODES, PODDISRUPTIONBUDGETS, PODS
from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.leaderelection import LeaderElector
from minik.client.pooled import PooledAPIClient
from minik.client.process import Flag, Group, Shell, boolean, duration, serve_status, status_flags
from minik.client.statusserver import StatusServer
from minik.scheduler.config import (
    ConfigError,
    SchedulerConfig,
    default_profile,
    load_config,
    validate_leader_election,
)
from minik.scheduler.eventhandlers import (
    POD_FIELD_SELECTOR,
    EventHandlers,
    InformerBudgets,
    InformerNamespaces,
)
from minik.scheduler.metrics import SchedulerMetrics
from minik.scheduler.scheduler import Scheduler

log = logging.getLogger("minik.scheduler")


FLAGS: tuple[Flag | Group, ...] = (
    Group(
        "API server",
        (
            Flag(
                "--kubeconfig",
                "kubeconfig to reach the API server (default search: ~/.minik/kubeconfig, ~/.kube/config)",
                env="KUBECONFIG",
            ),
            Flag("--server", "API server URL, overriding the kubeconfig's"),
        ),
    ),
    Group(
        "scheduling",
        (
            Flag(
                "--config",
                "a KubeSchedulerConfiguration file (apiVersion kubescheduler.config.k8s.io/v1): profiles, "
                "plugins and their weights and args, percentageOfNodesToScore, backoff, leader election",
            ),
            Flag(
                "--scheduler-name",
                "schedule the pods whose spec.schedulerName is this (default: default-scheduler); with "
                "--config, renames the file's single profile",
                env="MINIK_SCHEDULER_NAME",
            ),
        ),
    ),
    # No defaults here: an unset flag leaves the configuration file's value (or its default).
    Group(
        "leader election (override the configuration file)",
        (
            Flag(
                "--leader-elect",
                "campaign for a Lease and schedule only while holding it, so several instances can run "
                "for high availability (default true; --leader-elect=false to run alone)",
                type=boolean,
                switch=True,
            ),
            Flag(
                "--leader-elect-lease-duration",
                "how long standbys wait after the last renewal before taking over (default 15s)",
                type=duration,
            ),
            Flag(
                "--leader-elect-renew-deadline",
                "how long the leader keeps retrying a renewal before it stops leading (default 10s)",
                type=duration,
            ),
            Flag(
                "--leader-elect-retry-period",
                "how often candidates try to acquire and the leader renews (default 2s)",
                type=duration,
            ),
            Flag("--leader-elect-resource-name", "the Lease's name (default minik-scheduler)"),
            Flag("--leader-elect-resource-namespace", "the Lease's namespace (default kube-system)"),
            Flag(
                "--leader-elect-identity",
                "this instance's identity in the Lease and in events (default <hostname>_<random uuid>)",
            ),
        ),
    ),
    status_flags(default_port=10259),
)

SHELL = Shell(
    prog="minik-scheduler",
    description="The minik scheduler: assigns pending pods to nodes through a plugin framework "
    "compatible with kube-scheduler's configuration (filter, score, bind).",
    env_prefix="MINIK_SCHEDULER_",
    flags=FLAGS,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return SHELL.parse(argv)


def build_config(args: argparse.Namespace) -> SchedulerConfig:
    """The configuration file with the flags applied on top (raises :class:`ConfigError`)."""
    config = load_config(args.config) if args.config else SchedulerConfig()
    if args.scheduler_name:
        if args.config and len(config.profiles) != 1:
            raise ConfigError(
                f"--scheduler-name applies to a configuration with one profile; {args.config} has "
                f"{len(config.profiles)} (set schedulerName in each profile instead)"
            )
        if args.config:
            config.profiles[0].scheduler_name = args.scheduler_name
        else:
            config.profiles = [default_profile(args.scheduler_name)]
    le = config.leader_election
    overrides: dict[str, Any] = {
        "leader_elect": args.leader_elect,
        "lease_duration": args.leader_elect_lease_duration,
        "renew_deadline": args.leader_elect_renew_deadline,
        "retry_period": args.leader_elect_retry_period,
        "resource_name": args.leader_elect_resource_name,
        "resource_namespace": args.leader_elect_resource_namespace,
    }
    config.leader_election = replace(le, **{k: v for k, v in overrides.items() if v is not None})
    validate_leader_election(config.leader_election, "--leader-elect-*")
    return config


class RecorderPool:
    """Several :class:`EventRecorder` writers for one component, one per object hash.

    One recorder writes its events one at a time, so at a few hundred pods per
    second its queue (1,000 events) overflows and ``Scheduled`` events are
    dropped. ``writers`` recorders write concurrently; an object's events always go
    through the same one, so repeats are still aggregated into one Event.
    """

    def __init__(self, client: PooledAPIClient, component: str, host: str, *, writers: int = 16) -> None:
        self.recorders = [EventRecorder(client, component, host) for _ in range(writers)]

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        index = hash((meta.get("namespace"), meta.get("name"))) % len(self.recorders)
        self.recorders[index].event(obj, type, reason, message)

    @property
    def dropped(self) -> int:
        return sum(r.dropped for r in self.recorders)

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.recorders))


class SchedulerApp:
    """Informers + scheduler + leader election + status endpoint, for one process (or one test)."""

    def __init__(
        self,
        client: PooledAPIClient,
        config: SchedulerConfig,
        *,
        identity: str | None = None,
        metrics_port: int = -1,
        metrics_bind_address: str = "127.0.0.1",
        max_inflight_binds: int = 64,
    ) -> None:
        self.client = client
        self.config = config
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.metrics = SchedulerMetrics()
        self.recorders = {
            p.scheduler_name: RecorderPool(client, p.scheduler_name, self.identity) for p in config.profiles
        }
        self.factory = SharedInformerFactory(client)
        self.pods: Informer = self.factory.informer(PODS, field_selector=POD_FIELD_SELECTOR)
        self.nodes: Informer = self.factory.informer(NODES)
        self.namespaces: Informer = self.factory.informer(NAMESPACES)
        # Preemption prefers victims whose disruption budgets allow them to go.
        self.budgets: Informer = self.factory.informer(PODDISRUPTIONBUDGETS)
        self.scheduler = Scheduler(
            config=config,
            client=client,
            recorder=self.recorders,
            namespaces=InformerNamespaces(self.namespaces),
            budgets=InformerBudgets(self.budgets),
            metrics=self.metrics,
            max_inflight_binds=max_inflight_binds,
        )
        EventHandlers(self.scheduler).attach(self.pods, self.nodes)
        self.metrics_port = metrics_port
        self.metrics_bind_address = metrics_bind_address
        self.status: StatusServer | None = None
        self.synced = False
        le = config.leader_election
        self.elector: LeaderElector | None = None
        if le.leader_elect:
            self.elector = LeaderElector(
                client,
                namespace=le.resource_namespace,
                name=le.resource_name,
                identity=self.identity,
                lease_duration=le.lease_duration,
                renew_deadline=le.renew_deadline,
                retry_period=le.retry_period,
            )

    async def start(self, *, sync_timeout: float | None = 60.0) -> None:
        status = StatusServer.standard(
            component="minik-scheduler",
            metrics=self.metrics.render,
            ready=lambda: self.synced,
            not_ready="caches not synced",
        )
        self.status = await serve_status(status, self.metrics_bind_address, self.metrics_port)
        self.factory.start()
        if not await self.factory.wait_for_sync(timeout=sync_timeout):
            raise TimeoutError("informers did not sync (is the API server reachable?)")
        self.synced = True
        log.info(
            "caches synced: %d nodes, %d pods; profiles: %s",
            len(self.nodes.list()),
            len(self.pods.list()),
            ", ".join(self.scheduler.profiles),
        )
        for name, fwk in self.scheduler.profiles.items():
            log.debug("profile %s plugins: %s", name, fwk.list_plugins())

    async def run(self) -> bool:
        """Schedule (as leader, if electing). Returns ``False`` if leadership was lost."""
        if self.elector is None:
            await self.scheduler.run()
            return True
        lost = False

        async def lead() -> None:
            self.metrics.leader = 1
            log.info("%s is the leader: scheduling", self.identity)
            await self.scheduler.run()

        async def stopped() -> None:
            nonlocal lost
            self.metrics.leader = 0
            await self.scheduler.stop()
            lost = True

        log.info(
            "campaigning for lease %s/%s as %s", self.elector.namespace, self.elector.name, self.identity
        )
        try:
            await self.elector.run(lead, stopped)
        except asyncio.CancelledError:
            lost = False
            raise
        return not lost

    async def stop(self) -> None:
        await self.scheduler.stop()
        for recorder in self.recorders.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(recorder.close(), 5)
        await self.factory.shutdown()
        if self.status is not None:
            await self.status.stop()


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    config = build_config(args)
    client_config = ClientConfig.from_flags(server=args.server, kubeconfig=args.kubeconfig)
    client = PooledAPIClient(client_config, user_agent="minik-scheduler", max_connections=96)
    try:
        app = SchedulerApp(
            client,
            config,
            identity=args.leader_elect_identity,
            metrics_port=args.metrics_port,
            metrics_bind_address=args.metrics_bind_address,
        )
    except BaseException:
        await client.aclose()
        raise
    try:
        await app.start()
        runner = asyncio.create_task(app.run(), name="scheduler")
        stopper = asyncio.create_task(stop.wait(), name="stop signal")
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            stopper.cancel()
            if not runner.result():
                log.error("leader election lost; exiting so a supervisor restarts this instance as a standby")
                return 1
            return 0
        log.info("shutting down")
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        return 0
    finally:
        await app.stop()
        await client.aclose()


async def serve_until_stopped(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """:func:`serve`, with the failures a user can fix told as one log line → exit status."""
    try:
        return await serve(args, stop)
    except (ConfigError, KubeconfigError) as exc:
        log.error("%s", exc)
        return 2
    except ValueError as exc:  # an invalid profile (unknown plugin, bad args)
        log.error("invalid configuration: %s", exc)
        return 2
    except TimeoutError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot serve the metrics port %s: %s", args.metrics_port, exc.strerror or exc)
        return 1


def main(argv: list[str] | None = None) -> None:
    SHELL.main(argv, serve_until_stopped, fast_loop=True)


if __name__ == "__main__":
    main()
