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
import os
import signal
import socket
import sys
from pathlib import Path

from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.rest import APIClient
from minik.client.statusserver import PROMETHEUS_TEXT, Answer, Route, StatusServer
from minik.proxy.ipvs import MODES
from minik.proxy.nftables import DEFAULT_TABLE
from minik.proxy.proxier import Proxier, ProxierOptions, cleanup_all
from minik.proxy.schedulers import SCHEDULERS

log = logging.getLogger("minik.proxy")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="minik-proxy",
        description="The minik network proxy: forwards Service addresses (ClusterIP, NodePort, "
        "LoadBalancer, externalIPs) to their endpoints with iptables, nftables or a userspace relay.",
    )
    p.add_argument(
        "--kubeconfig", default=_env("KUBECONFIG", "") or None, help="kubeconfig to reach the API server"
    )
    p.add_argument(
        "--master", "--server", dest="server", default=None, help="API server URL (overrides the kubeconfig)"
    )
    p.add_argument(
        "--proxy-mode",
        default=_env("MINIK_PROXY_MODE", "iptables"),
        choices=MODES,
        help="how Services are implemented; ipvs falls back to iptables without kernel IPVS",
    )
    p.add_argument(
        "--node-name",
        default=_env("NODE_NAME", socket.gethostname()),
        help="this node's name (endpoints with this nodeName are local)",
    )
    p.add_argument(
        "--node-ip", default="", help="comma-separated node addresses (added to the Node object's)"
    )
    p.add_argument(
        "--cluster-cidr", default=None, help="pod CIDR: traffic to a ClusterIP from outside it is masqueraded"
    )
    p.add_argument(
        "--service-cidr",
        default=_env("MINIK_SERVICE_CIDR", "10.96.0.0/12"),
        help="the ClusterIP range; trapped on this host before any rule exists",
    )
    p.add_argument(
        "--min-sync-period",
        type=float,
        default=1.0,
        help="seconds between two syncs at least: changes arriving meanwhile are batched",
    )
    p.add_argument(
        "--sync-period",
        type=float,
        default=30.0,
        help="seconds between full resyncs (which repair any drift in the rules)",
    )
    p.add_argument(
        "--scheduler",
        default="rr",
        choices=sorted(SCHEDULERS),
        help="userspace mode's default scheduler; per Service: annotation minik.dev/ipvs-scheduler",
    )
    p.add_argument("--masquerade-all", action="store_true", help="SNAT every connection to a ClusterIP")
    p.add_argument("--healthz-bind-address", default="0.0.0.0")
    p.add_argument(
        "--healthz-port", type=int, default=10256, help="port of /healthz; 0 picks one, -1 disables"
    )
    p.add_argument("--metrics-bind-address", default="127.0.0.1")
    p.add_argument(
        "--metrics-port", type=int, default=10249, help="port of /metrics; 0 picks one, -1 disables"
    )
    p.add_argument(
        "--cleanup",
        action="store_true",
        help="remove every chain, table, route, link and sysctl change any mode made, then exit",
    )
    p.add_argument(
        "--cleanup-on-exit",
        action="store_true",
        help="on SIGTERM remove the rules too (default: leave them, like upstream)",
    )
    p.add_argument(
        "--netns",
        default=None,
        help="program the rules inside this named network namespace (ip netns) instead",
    )
    p.add_argument("--nft-table", default=DEFAULT_TABLE, help="nftables mode's table (family ip)")
    p.add_argument(
        "--trap-bridge",
        default="minik-trap",
        help="name of the port-less bridge the service range is routed to",
    )
    p.add_argument("--state-dir", default="/run/minik-proxy", help="where the trap remembers what to undo")
    p.add_argument(
        "--watch-namespace", default=None, help="watch Services/EndpointSlices of one namespace only"
    )
    p.add_argument("--log-level", default=_env("MINIK_LOG_LEVEL", "info"))
    args = p.parse_args(argv)
    if args.min_sync_period < 0 or args.sync_period <= 0:
        p.error("--min-sync-period must be >= 0 and --sync-period > 0")
    return args


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
        health = {"/healthz": self._health, "/livez": self._health}
        if a.healthz_port >= 0:
            self.healthz = StatusServer(health, component="minik-proxy healthz")
            await self.healthz.start(a.healthz_bind_address, a.healthz_port)
        if a.metrics_port >= 0:
            routes: dict[str, Route] = {**health, "/metrics": self._metrics}
            self.metrics = StatusServer(routes, component="minik-proxy metrics")
            await self.metrics.start(a.metrics_bind_address, a.metrics_port)
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    if args.cleanup:
        errors = cleanup_all(options(args))
        if errors:
            raise SystemExit(1)
        log.info("cleanup done")
        return

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        app = ProxyApp(args)
        await app.start()
        try:
            await stop.wait()
        finally:
            await app.stop()

    try:
        asyncio.run(serve())
    except KubeconfigError as exc:
        log.error("cannot reach the API server: %s", exc)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
