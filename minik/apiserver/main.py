"""``minik-apiserver``: the process. Flags, start-up, compaction, shutdown.

Start-up order matters: connect to etcd, fill the watch cache (so the first list
is already answered from memory), create the objects every cluster has
(``default``, ``kube-system``, ``kube-public``, ``kube-node-lease`` and the
``kubernetes`` Service), then report ready on ``/readyz``.

etcd keeps every old revision until someone compacts it; upstream's API server
does that every five minutes, keeping one interval of history, and so do we.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from minik.api import errors
from minik.apiserver import deadlines, etcd, schemas
from minik.apiserver.allocator import ServiceAllocator
from minik.apiserver.app import APIServer
from minik.apiserver.auth import TokenAuthenticator
from minik.apiserver.registry import Registry
from minik.apiserver.rest import Storage
from minik.apiserver.strategies import ServiceStrategy
from minik.apiserver.watchcache import WatchCache

log = logging.getLogger("minik.apiserver")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="minik-apiserver",
        description="The minik API server: the Kubernetes REST API, persisted in etcd.",
    )
    p.add_argument(
        "--etcd-servers",
        default=_env("MINIK_ETCD_SERVERS", "http://127.0.0.1:2379"),
        help="comma-separated etcd client URLs (one member or a whole cluster) [MINIK_ETCD_SERVERS]",
    )
    p.add_argument(
        "--bind-address",
        default=_env("MINIK_APISERVER_BIND", "127.0.0.1"),
        help="address to serve on (default 127.0.0.1: only this machine)",
    )
    p.add_argument(
        "--secure-port", type=int, default=int(_env("MINIK_APISERVER_PORT", "6443")), help="HTTPS port"
    )
    p.add_argument(
        "--tls-cert-file",
        default=_env("MINIK_TLS_CERT", ""),
        help="serving certificate (PEM); without it and the key, serve plain HTTP (tests only)",
    )
    p.add_argument("--tls-private-key-file", default=_env("MINIK_TLS_KEY", ""), help="serving key (PEM)")
    p.add_argument(
        "--token-auth-file",
        default=_env("MINIK_TOKEN_FILE", ""),
        help="CSV of token,user,uid[,groups]; without it, no authentication (tests only)",
    )
    p.add_argument(
        "--service-cluster-ip-range",
        default=_env("MINIK_SERVICE_CIDR", "10.96.0.0/12"),
        help="CIDR ClusterIPs are allocated from",
    )
    p.add_argument(
        "--service-node-port-range",
        default=_env("MINIK_NODE_PORTS", "30000-32767"),
        help="range NodePorts are allocated from",
    )
    p.add_argument(
        "--watch-cache-size",
        type=int,
        default=10_000,
        help="changes kept per resource for watches to resume from (older → 410 Gone)",
    )
    p.add_argument(
        "--watch-bookmark-interval",
        type=float,
        default=60.0,
        help="seconds between BOOKMARK events on watches that allow them",
    )
    p.add_argument(
        "--etcd-compaction-interval",
        type=float,
        default=300.0,
        help="seconds between etcd compactions (each keeps one interval of history); 0 = never",
    )
    p.add_argument("--max-request-body-bytes", type=int, default=3 * 1024 * 1024)
    p.add_argument(
        "--min-request-timeout",
        type=int,
        default=1800,
        help="a watch without timeoutSeconds lasts between this and twice this many seconds",
    )
    p.add_argument(
        "--request-timeout",
        type=deadlines.duration_flag,
        default=deadlines.DEFAULT_REQUEST_TIMEOUT,
        help="the longest a request other than a watch may take, reading its body included "
        "(e.g. 60s, 1m0s); after it the client gets 504 Timeout. Also bounds how long a "
        "request header may take to arrive (at most 32s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(_env("MINIK_APISERVER_WORKERS", "1")),
        help="apiserver processes sharing the port, like apiserver replicas behind one address "
        "(each has its own watch cache; etcd keeps them consistent); 1 = one process, easiest to read",
    )
    p.add_argument("--log-level", default=_env("MINIK_LOG_LEVEL", "info"))
    return p.parse_args(argv)


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high)


async def bootstrap(storage: Storage, registry: Registry, service_cidr: str) -> None:
    """Create the namespaces and the ``kubernetes`` Service every cluster has."""
    namespaces = registry.lookup("", "v1", "namespaces")
    services = registry.lookup("", "v1", "services")
    assert namespaces is not None and services is not None
    for name in SYSTEM_NAMESPACES:
        with contextlib.suppress(errors.APIError):
            await storage.create(
                namespaces, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )
    first_ip = str(next(ipaddress.ip_network(service_cidr).hosts()))
    with contextlib.suppress(errors.APIError):
        await storage.create(
            services,
            "default",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": first_ip,
                    "type": "ClusterIP",
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443, "protocol": "TCP"}],
                },
            },
        )


async def compact_forever(client: etcd.EtcdClient, interval: float) -> None:
    """Every ``interval``: compact etcd to the revision seen one interval ago."""
    previous = 0
    while True:
        await asyncio.sleep(interval)
        try:
            if previous:
                await client.compact(previous)
                log.info("compacted etcd history up to revision %d", previous)
            previous = await client.current_revision()
        except etcd.EtcdError as e:
            log.warning("compaction failed: %s", e)


def build_app(args: argparse.Namespace) -> APIServer:
    registry = Registry()
    service_strategy = next(rt.strategy for rt in registry if rt.kind == "Service")
    assert isinstance(service_strategy, ServiceStrategy)
    service_strategy.allocator = ServiceAllocator(
        args.service_cluster_ip_range, _port_range(args.service_node_port_range)
    )
    auth = TokenAuthenticator.from_file(args.token_auth_file) if args.token_auth_file else None
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # gRPC's asyncio channel must be created inside the running loop.
        client = etcd.EtcdClient(args.etcd_servers.split(","))
        await client.wait_ready(timeout=60)
        cache = WatchCache(
            client, registry, capacity=args.watch_cache_size, bookmark_interval=args.watch_bookmark_interval
        )
        await cache.start()
        server: APIServer = holder["server"]
        server.storage.etcd, server.storage.cache = client, cache
        await bootstrap(server.storage, registry, args.service_cluster_ip_range)
        tasks = []
        if args.etcd_compaction_interval > 0:
            tasks.append(asyncio.create_task(compact_forever(client, args.etcd_compaction_interval)))
        # Upstream's schemas (OpenAPI, field validation, apply) load once, off the loop.
        await asyncio.to_thread(schemas.warm_up, [(r.group, r.version, r.kind) for r in registry])
        server.ready.set()
        log.info("minik-apiserver ready")
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await cache.stop()
            await client.close()

    storage = Storage(None, None, registry)  # type: ignore[arg-type]  # connected in lifespan
    server = APIServer(
        storage,
        registry,
        auth,
        max_body_bytes=args.max_request_body_bytes,
        min_watch_timeout=args.min_request_timeout,
        request_timeout=args.request_timeout,
    )
    deadlines.set_header_timeout(args.request_timeout)
    holder["server"] = server
    server.app.router.lifespan_context = lifespan
    return server


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process whose heap is mostly its caches.

    The watch cache keeps every object as Python dicts: with 10,000 pods that is millions
    of long-lived containers, and each full (generation 2) collection walks all of them —
    a pause of a few hundred milliseconds in the middle of some request. Freezing what
    exists at start-up and collecting the young generation less often keeps request latency
    flat; the objects are freed by reference counting anyway (they have no cycles).
    Overridable with MINIK_GC_THRESHOLD="g0,g1,g2" (Python's defaults are 700,10,10).
    """
    gc.collect()
    gc.freeze()
    raw = os.environ.get("MINIK_GC_THRESHOLD", "50000,20,100")
    g0, g1, g2 = (int(x) for x in raw.split(","))
    gc.set_threshold(g0, g1, g2)


#: How ``--workers`` hands the command line to the processes uvicorn spawns.
_WORKER_ARGV = "MINIK_APISERVER_ARGV"


def _configure_logging(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )


def _server_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "host": args.bind_address,
        "port": args.secure_port,
        "ssl_certfile": args.tls_cert_file or None,
        "ssl_keyfile": args.tls_private_key_file or None,
        "log_level": "warning",
        "access_log": False,
        "loop": "uvloop",
        "http": deadlines.DeadlineHttpToolsProtocol,
        "timeout_graceful_shutdown": 3,
        "timeout_keep_alive": 30,
    }


def worker_app() -> APIServer:
    """The app of one ``--workers`` process (uvicorn calls this in every process it starts).

    Several apiserver processes on one port are what upstream does with several apiserver
    replicas: each keeps its own watch cache fed by its own etcd watch, and every write is
    an etcd transaction, so they never disagree for longer than a watch event's trip —
    and a consistent LIST waits for that (see ``watchcache.py``).
    """
    args = parse_args(json.loads(os.environ[_WORKER_ARGV]))
    _configure_logging(args)
    app = build_app(args)
    tune_gc()
    return app


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _configure_logging(args)
    if args.workers > 1:
        os.environ[_WORKER_ARGV] = json.dumps(sys.argv[1:] if argv is None else argv)
        uvicorn.run(
            "minik.apiserver.main:worker_app", factory=True, workers=args.workers, **_server_options(args)
        )
        return
    app = build_app(args)
    tune_gc()
    uvicorn.run(app, **_server_options(args))


if __name__ == "__main__":
    main()
