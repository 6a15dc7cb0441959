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
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from minik.client.kubeconfig import ClientConfig, KubeconfigError
from minik.client.process import Flag, Group, Shell, host_port, integer, optional, serve_status, status_flags
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


FLAGS: tuple[Flag | Group, ...] = (
    Flag(
        "--listen",
        "HOST:PORT to answer on, UDP and TCP (port 53 needs privileges; port 0 picks a free one)",
        "127.0.0.1:5353",
        host_port,
    ),
    Flag("--domain", "the cluster domain served", "cluster.local", env="MINIK_CLUSTER_DOMAIN"),
    Flag("--ttl", "TTL in seconds of every answer, negative ones included", 5, integer(minimum=0)),
    Flag(
        "--upstream",
        "HOST[:PORT] to forward names outside the cluster domain to; empty answers them REFUSED "
        "and never sends a packet anywhere",
        "",
        optional(host_port),
    ),
    Flag(
        "--cache-size",
        "encoded answers kept per transport (emptied when full and on every change)",
        100_000,
        integer(minimum=0),
    ),
    Flag(
        "--max-udp-size",
        "largest UDP answer sent to EDNS clients, whatever size they offer",
        4096,
        integer(minimum=512, maximum=65535),
    ),
    Group(
        "API server",
        (
            Flag(
                "--kubeconfig",
                "kubeconfig to reach the API server (default search: ~/.minik/kubeconfig, ~/.kube/config)",
                env="KUBECONFIG",
            ),
            Flag("--server", "API server URL, overriding the kubeconfig's"),
            Flag(
                "--objects",
                "serve the Services/EndpointSlices/Namespaces in this YAML or JSON file instead of "
                "watching an API server",
            ),
        ),
    ),
    status_flags(default_port=9153, address_env="MINIK_DNS_METRICS_BIND"),
)

SHELL = Shell(
    prog="minik-dns",
    description="Cluster DNS for minik: answers <svc>.<ns>.svc.<domain> and friends for every "
    "Service, following the Kubernetes DNS-based service discovery specification.",
    env_prefix="MINIK_DNS_",
    flags=FLAGS,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return SHELL.parse(argv)


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
        status = StatusServer.standard(
            component="minik-dns",
            metrics=self.metrics.render,
            ready=lambda: self.ready,
            not_ready="index not synced",
        )
        self.status = await serve_status(status, args.metrics_bind_address, args.metrics_port)
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


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Serve until ``stop`` is set → exit status (1: no API server, or the port is taken)."""
    try:
        app = DNSApp(args)
        await app.start()
    except KubeconfigError as exc:
        log.error("cannot reach the API server: %s (or pass --objects FILE to serve fixed objects)", exc)
        return 1
    except OSError as exc:
        log.error("cannot serve on %s: %s", args.listen, exc.strerror or exc)
        return 1
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await app.stop()
    return 0


def main(argv: list[str] | None = None) -> None:
    SHELL.main(argv, serve, fast_loop=True)


if __name__ == "__main__":
    main()
