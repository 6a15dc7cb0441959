"""``minik-proxy``: flags, start-up order, signals.  The work is in ``proxier.py``.

Start-up: parse flags → (``--cleanup``: remove everything any mode made and exit) →
resolve the mode (``ipvs`` falls back to ``iptables`` with one warning where the kernel has
no IPVS) → install the safety trap → start the informers and the sync loop → serve
``/healthz`` (default ``0.0.0.0:10256``) and ``/metrics`` (default ``127.0.0.1:10249``).

SIGTERM/SIGINT stop syncing and leave the rules in place, so Services keep working across a
restart (upstream behaviour); ``--cleanup-on-exit`` removes them instead.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from pathlib import Path

from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.process import (
    Flag,
    Group,
    Shell,
    boolean,
    choice,
    cidr,
    duration,
    ip_list,
    number,
    optional,
    serve_status,
    status_flags,
)
from minik.client.rest import APIClient
from minik.client.statusserver import PROMETHEUS_TEXT, Answer, Route, StatusServer
from minik.proxy.ipvs import MODES
from minik.proxy.nftables import DEFAULT_TABLE
from minik.proxy.proxier import Proxier, ProxierOptions, cleanup_all
from minik.proxy.schedulers import SCHEDULERS

log = logging.getLogger("minik.proxy")


FLAGS: tuple[Flag | Group, ...] = (
    Group(
        "API server",
        (
            Flag("--kubeconfig", "kubeconfig to reach the API server", env="KUBECONFIG"),
            Flag(
                "--master", "API server URL (overrides the kubeconfig)", aliases=("--server",), dest="server"
            ),
            Flag("--watch-namespace", "watch Services/EndpointSlices of one namespace only"),
        ),
    ),
    Group(
        "proxying",
        (
            Flag(
                "--proxy-mode",
                "how Services are implemented; ipvs falls back to iptables without kernel IPVS",
                "iptables",
                choice(*MODES),
                env="MINIK_PROXY_MODE",
            ),
            Flag(
                "--node-name",
                "this node's name (endpoints with this nodeName are local)",
                socket.gethostname(),
                env="NODE_NAME",
            ),
            Flag(
                "--node-ip",
                "comma-separated node addresses (added to the Node object's)",
                "",
                optional(ip_list),
            ),
            Flag(
                "--cluster-cidr", "pod CIDR: traffic to a ClusterIP from outside it is masqueraded", type=cidr
            ),
            Flag(
                "--service-cidr",
                "the ClusterIP range; trapped on this host before any rule exists",
                "10.96.0.0/12",
                cidr,
                env="MINIK_SERVICE_CIDR",
            ),
            Flag(
                "--min-sync-period",
                "seconds between two syncs at least: changes arriving meanwhile are batched",
                1.0,
                duration,
            ),
            Flag(
                "--sync-period",
                "seconds between full resyncs (which repair any drift in the rules)",
                30.0,
                number(above=0),
            ),
            Flag(
                "--scheduler",
                "userspace mode's default scheduler; per Service: annotation minik.dev/ipvs-scheduler",
                "rr",
                choice(*sorted(SCHEDULERS)),
            ),
            Flag("--masquerade-all", "SNAT every connection to a ClusterIP", False, boolean, switch=True),
            Flag("--netns", "program the rules inside this named network namespace (ip netns) instead"),
            Flag("--nft-table", "nftables mode's table (family ip)", DEFAULT_TABLE),
            Flag(
                "--trap-bridge", "name of the port-less bridge the service range is routed to", "minik-trap"
            ),
            Flag("--state-dir", "where the trap remembers what to undo", "/run/minik-proxy"),
        ),
    ),
    Group(
        "clean-up",
        (
            Flag(
                "--cleanup",
                "remove every chain, table, route, link and sysctl change any mode made, then exit",
                False,
                boolean,
                env=False,
                switch=True,
            ),
            Flag(
                "--cleanup-on-exit",
                "on SIGTERM remove the rules too (default: leave them, like upstream)",
                False,
                boolean,
                switch=True,
            ),
        ),
    ),
    status_flags(
        default_port=10256,
        port_flag="--healthz-port",
        address_flag="--healthz-bind-address",
        default_address="0.0.0.0",
        serves="/healthz",
        title="health",
    ),
    status_flags(default_port=10249, serves="/metrics (and /healthz)", title="metrics"),
)

SHELL = Shell(
    prog="minik-proxy",
    description="The minik network proxy: forwards Service addresses (ClusterIP, NodePort, "
    "LoadBalancer, externalIPs) to their endpoints with iptables, nftables or a userspace relay.",
    env_prefix="MINIK_PROXY_",
    flags=FLAGS,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return SHELL.parse(argv)


def options(args: argparse.Namespace) -> ProxierOptions:
    return ProxierOptions(
        mode=args.proxy_mode,
        node_name=args.node_name,
        node_ips=tuple(ip.strip() for ip in args.node_ip.split(",") if ip.strip()),
        cluster_cidr=args.cluster_cidr,
        service_cidr=args.service_cidr,
        min_sync_period=args.min_sync_period,
        sync_period=args.sync_period,
        scheduler=args.scheduler,
        masquerade_all=args.masquerade_all,
        netns=args.netns,
        nft_table=args.nft_table,
        trap_bridge=args.trap_bridge,
        state_dir=Path(args.state_dir),
        namespace=args.watch_namespace,
    )


class ProxyApp:
    """The whole process, startable in-process (tests pass port 0 and read the servers' ports)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.opts = options(args)
        self.client = APIClient(ClientConfig.from_flags(server=args.server, kubeconfig=args.kubeconfig))
        self.proxier = Proxier(self.opts, self.client)
        self.healthz: StatusServer | None = None
        self.metrics: StatusServer | None = None

    async def start(self) -> None:
        await self.proxier.start()
        a = self.args
        health: dict[str, Route] = {"/healthz": self._health, "/livez": self._health}
        self.healthz = await serve_status(
            StatusServer(health, component="minik-proxy healthz"), a.healthz_bind_address, a.healthz_port
        )
        self.metrics = await serve_status(
            StatusServer({**health, "/metrics": self._metrics}, component="minik-proxy metrics"),
            a.metrics_bind_address,
            a.metrics_port,
        )
        log.info("minik-proxy running in %s mode for node %s", self.proxier.mode, self.opts.node_name)

    def _health(self) -> Answer:
        """200 while the rules keep up with the API, 503 otherwise (upstream's JSON body)."""
        ok, body = self.proxier.health()
        return (200 if ok else 503), "application/json", body + "\n"

    def _metrics(self) -> Answer:
        return 200, PROMETHEUS_TEXT, self.proxier.metrics.render()

    async def stop(self) -> None:
        for server in (self.healthz, self.metrics):
            if server is not None:
                await server.stop()
        await self.proxier.stop(cleanup=self.args.cleanup_on_exit)
        await self.client.aclose()
        log.info("stopped; rules %s", "removed" if self.args.cleanup_on_exit else "left in place")


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """``--cleanup`` and exit, or proxy until ``stop`` is set → exit status."""
    if args.cleanup:
        # (off the loop: some modes' clean-up runs an event loop of its own)
        if await asyncio.to_thread(cleanup_all, options(args)):
            return 1
        log.info("cleanup done")
        return 0
    try:
        app = ProxyApp(args)
    except KubeconfigError as exc:
        log.error("cannot reach the API server: %s", exc)
        return 1
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()
    return 0


def main(argv: list[str] | None = None) -> None:
    SHELL.main(argv, serve)


if __name__ == "__main__":
    main()
