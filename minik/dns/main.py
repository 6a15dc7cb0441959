"""``minik-dns``: the cluster DNS process. Flags, wiring, start-up and shutdown.

The pieces, each in its own module::

    informers (watch) ──▶ RecordIndex (records, schema) ──▶ Resolver ──▶ QueryHandler (cache)
                                                                           ▲
                       UDP + TCP :5353 (server) ◀── queries from pods ─────┘
                       HTTP /healthz /readyz /metrics (health, metrics)

Start-up order: read the configuration (kubeconfig or ``--objects``), bind the
DNS port (so a misconfigured address fails at once), then start the informers.
Until their first lists are in, names in the cluster domain are answered
SERVFAIL — a resolver retries that, whereas it would cache a premature
NXDOMAIN — and ``/readyz`` says 503; after that, answers come from the index.

In a cluster, pods reach this process at the cluster DNS address (10.96.0.10
by default) through an ordinary Service: ``kube-dns`` in ``kube-system`` has no
selector, and cluster bootstrap writes its Endpoints by hand to point at where
this process listens — the "outside service behind a Service" pattern.

``--objects FILE`` serves a fixed set of Services/EndpointSlices/Namespaces from
a YAML or JSON file instead of watching an API server — for trying DNS answers
out, and for the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.rest import APIClient
from minik.client.statusserver import StatusServer
from minik.dns.handler import QueryHandler
from minik.dns.metrics import DNSMetrics
from minik.dns.records import RecordIndex
from minik.dns.resolver import Resolver
from minik.dns.server import DNSServer
from minik.dns.upstream import Forwarder, parse_hostport
from minik.dns.watch import IndexWatcher

log = logging.getLogger("minik.dns")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="minik-dns",
        description="Cluster DNS for minik: answers <svc>.<ns>.svc.<domain> and friends for every "
        "Service, following the Kubernetes DNS-based service discovery specification.",
    )
    p.add_argument(
        "--listen",
        default=_env("MINIK_DNS_LISTEN", "127.0.0.1:5353"),
        help="HOST:PORT to answer on, UDP and TCP (port 53 needs privileges; "
        "port 0 picks a free one) [MINIK_DNS_LISTEN]",
    )
    p.add_argument(
        "--domain",
        default=_env("MINIK_CLUSTER_DOMAIN", "cluster.local"),
        help="the cluster domain served [MINIK_CLUSTER_DOMAIN]",
    )
    p.add_argument(
        "--ttl",
        type=int,
        default=int(_env("MINIK_DNS_TTL", "5")),
        help="TTL in seconds of every answer, negative ones included [MINIK_DNS_TTL]",
    )
    p.add_argument(
        "--upstream",
        default=_env("MINIK_DNS_UPSTREAM", ""),
        help="HOST[:PORT] to forward names outside the cluster domain to; empty (the default) "
        "answers them REFUSED and never sends a packet anywhere [MINIK_DNS_UPSTREAM]",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(_env("MINIK_DNS_METRICS_PORT", "9153")),
        help="port of the HTTP /healthz, /readyz and /metrics endpoint; -1 disables it "
        "[MINIK_DNS_METRICS_PORT]",
    )
    p.add_argument(
        "--metrics-bind-address",
        default=_env("MINIK_DNS_METRICS_BIND", "127.0.0.1"),
        help="address of the HTTP endpoint [MINIK_DNS_METRICS_BIND]",
    )
    p.add_argument(
        "--kubeconfig",
        default=_env("KUBECONFIG", "") or None,
        help="kubeconfig to reach the API server (default: $KUBECONFIG, ~/.minik/kubeconfig, ~/.kube/config)",
    )
    p.add_argument("--server", default=None, help="API server URL, overriding the kubeconfig's")
    p.add_argument(
        "--objects",
        default=None,
        help="serve the Services/EndpointSlices/Namespaces in this YAML or JSON file "
        "instead of watching an API server",
    )
    p.add_argument(
        "--cache-size",
        type=int,
        default=100_000,
        help="encoded answers kept per transport (emptied when full and on every change)",
    )
    p.add_argument(
        "--max-udp-size",
        type=int,
        default=4096,
        help="largest UDP answer sent to EDNS clients, whatever size they offer",
    )
    p.add_argument("--log-level", default=_env("MINIK_LOG_LEVEL", "info"))
    args = p.parse_args(argv)
    if args.ttl < 0:
        p.error("--ttl must be 0 or more")
    return args


def read_objects(path: Path) -> Iterator[dict[str, Any]]:
    """Objects from a YAML/JSON file: single objects, ``List``s, or several YAML documents."""
    text = path.read_text()
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            yield from (item for item in doc["items"] if isinstance(item, dict))
        else:
            yield doc


class DNSApp:
    """The whole process, startable and stoppable in-process (tests use port 0 and read :attr:`server`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.index = RecordIndex(args.domain)
        self.metrics = DNSMetrics()
        self.forwarder = Forwarder(*parse_hostport(args.upstream, default_port=53)) if args.upstream else None
        self.handler = QueryHandler(
            Resolver(self.index, ttl=args.ttl),
            metrics=self.metrics,
            forwarding=self.forwarder is not None,
            max_udp_size=args.max_udp_size,
            cache_size=args.cache_size,
            ready=bool(args.objects),
        )
        self.server = DNSServer(self.handler, forwarder=self.forwarder)
        self.status: StatusServer | None = None
        self.client: APIClient | None = None
        self.watcher: IndexWatcher | None = None
        self._static = False
        self._sync_task: asyncio.Task[None] | None = None
        self.metrics.gauges["minik_dns_index_names"] = (
            "Names in the record index.",
            lambda: float(len(self.index)),
        )
        self.metrics.gauges["minik_dns_cache_entries"] = (
            "Encoded answers cached.",
            lambda: float(self.handler.cache_entries()),
        )

    @property
    def ready(self) -> bool:
        """Whether the index holds the whole cluster (the file was read, or the informers synced)."""
        return self._static or (self.watcher is not None and self.watcher.synced)

    async def start(self) -> None:
        args = self.args
        # Everything that can fail on bad configuration comes before binding any port.
        if args.objects:
            for obj in read_objects(Path(args.objects)):
                self.index.apply(obj)
            self._static = True
            log.info("serving %d names from %s", len(self.index), args.objects)
        else:
            config = ClientConfig.from_flags(server=args.server, kubeconfig=args.kubeconfig)
            self.client = APIClient(config)
            self.watcher = IndexWatcher(self.client, self.index)
        if self.forwarder is not None:
            log.info("forwarding names outside %s to %r", self.index.domain, self.forwarder)

        host, port = parse_hostport(args.listen, default_port=53)
        await self.server.start(host, port)
        if args.metrics_port >= 0:
            self.status = StatusServer.standard(
                component="minik-dns",
                metrics=self.metrics.render,
                ready=lambda: self.ready,
                not_ready="index not synced",
            )
            await self.status.start(args.metrics_bind_address, args.metrics_port)
        if self.watcher is not None:
            self.watcher.start()
            self._sync_task = asyncio.create_task(self._wait_for_sync(self.watcher))

    async def _wait_for_sync(self, watcher: IndexWatcher) -> None:
        await watcher.wait_for_sync()
        self.handler.ready = True
        log.info("record index synced: %d names; answering from it", len(self.index))

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
        await self.server.stop()
        if self.status is not None:
            await self.status.stop()
        if self.watcher is not None:
            await self.watcher.stop()
        if self.client is not None:
            await self.client.aclose()


async def run(args: argparse.Namespace, stop: asyncio.Event) -> None:
    app = DNSApp(args)
    await app.start()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await app.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run(args, stop)
        except KubeconfigError as exc:
            log.error("cannot reach the API server: %s (or pass --objects FILE to serve fixed objects)", exc)
            raise SystemExit(1) from None
        except OSError as exc:
            log.error("cannot serve on %s: %s", args.listen, exc.strerror or exc)
            raise SystemExit(1) from None

    loop_factory = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
