"""``minik-apiserver``: the process. Flags, start-up, compaction, shutdown.

Start-up order matters: connect to etcd, fill the watch cache (so the first list
is already answered from memory), create the objects every cluster has
(``default``, ``kube-system``, ``kube-public``, ``kube-node-lease``, the
``kubernetes`` Service and upstream's default RBAC roles, ``authz/bootstrap.py``),
then report ready on ``/readyz``.

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
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from minik.api import errors
from minik.apiserver import deadlines, etcd, schemas, wiretypes, zerovalues
from minik.apiserver.allocator import ServiceAllocator
from minik.apiserver.app import APIServer
from minik.apiserver.authn import setup as authn_setup
from minik.apiserver.authn import tls as authn_tls
from minik.apiserver.authn.serviceaccount import DEFAULT_ISSUER
from minik.apiserver.authz import aggregation
from minik.apiserver.authz import bootstrap as rbac_bootstrap
from minik.apiserver.authz.authorizer import build_chain, parse_modes
from minik.apiserver.authz.escalation import RBACStrategy
from minik.apiserver.kubeletclient import KubeletClientConfig
from minik.apiserver.registry import Registry
from minik.apiserver.rest import Storage
from minik.apiserver.strategies import ServiceStrategy
from minik.apiserver.watchcache import DEFAULT_WATCH_BUFFER, WatchCache
from minik.client.process import (
    Flag,
    Group,
    Shell,
    cidr,
    configure_logging,
    duration,
    integer,
    number,
    port,
    port_range,
)

log = logging.getLogger("minik.apiserver")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def gc_thresholds(value: str) -> tuple[int, int, int]:
    """``--gc-threshold``: three non-negative whole numbers, ``g0,g1,g2``."""
    parts = str(value).split(",")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 3 or min(numbers) < 0:
        raise argparse.ArgumentTypeError(f"invalid thresholds {value!r}: use three numbers g0,g1,g2")
    return numbers[0], numbers[1], numbers[2]


def authorization_modes(value: str) -> list[str]:
    """``--authorization-mode``: known modes, comma-separated, each once."""
    try:
        return parse_modes(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


FLAGS: tuple[Flag | Group, ...] = (
    Group(
        "storage",
        (
            Flag(
                "--etcd-servers",
                "comma-separated etcd client URLs (one member or a whole cluster)",
                "http://127.0.0.1:2379",
                env="MINIK_ETCD_SERVERS",
            ),
            Flag(
                "--etcd-compaction-interval",
                "seconds between etcd compactions (each keeps one interval of history); 0 = never",
                300.0,
                duration,
            ),
            Flag(
                "--watch-cache-size",
                "changes kept per resource for watches to resume from (older → 410 Gone)",
                10_000,
                integer(minimum=1),
            ),
            Flag(
                "--watch-buffer-size",
                "events a watch may have waiting; a client that falls further behind is disconnected",
                DEFAULT_WATCH_BUFFER,
                integer(minimum=1),
            ),
            Flag(
                "--watch-bookmark-interval",
                "seconds between BOOKMARK events on watches that allow them",
                60.0,
                number(above=0),
            ),
        ),
    ),
    Group(
        "serving",
        (
            Flag(
                "--bind-address",
                "address to serve on (127.0.0.1: only this machine)",
                "127.0.0.1",
                env="MINIK_APISERVER_BIND",
            ),
            Flag("--secure-port", "HTTPS port", 6443, port(), env="MINIK_APISERVER_PORT"),
            Flag(
                "--tls-cert-file",
                "serving certificate (PEM); without it and the key, serve plain HTTP (tests only)",
                "",
                env="MINIK_TLS_CERT",
            ),
            Flag("--tls-private-key-file", "serving key (PEM)", "", env="MINIK_TLS_KEY"),
            Flag(
                "--token-auth-file",
                "CSV of token,user,uid[,groups]; without it, no authentication (tests only)",
                "",
                env="MINIK_TOKEN_FILE",
            ),
            Flag(
                "--authorization-mode",
                "comma list of authorizers, tried in order: AlwaysAllow, RBAC (AlwaysDeny for tests); "
                "members of system:masters are always allowed",
                "AlwaysAllow",
                authorization_modes,
                env="MINIK_AUTHORIZATION_MODE",
            ),
            Flag(
                "--max-request-body-bytes",
                "largest request body accepted (larger → 413)",
                3 * 1024 * 1024,
                integer(minimum=1),
            ),
            Flag(
                "--min-request-timeout",
                "a watch without timeoutSeconds lasts between this and twice this many seconds",
                1800,
                integer(minimum=1),
            ),
            Flag(
                "--request-timeout",
                "the longest a request other than a watch may take, reading its body included "
                "(e.g. 60s, 1m0s); after it the client gets 504 Timeout. Also bounds how long a "
                "request header may take to arrive (at most 32s)",
                deadlines.DEFAULT_REQUEST_TIMEOUT,
                deadlines.duration_flag,
            ),
            Flag(
                "--gc-threshold",
                "Python's garbage-collection thresholds g0,g1,g2: rarer collections keep request "
                "latency flat with big caches (0,0,0 turns collection off)",
                "50000,20,100",
                gc_thresholds,
                env="MINIK_GC_THRESHOLD",
            ),
            Flag(
                "--workers",
                "apiserver processes sharing the port, like apiserver replicas behind one address "
                "(each has its own watch cache; etcd keeps them consistent); 1 = one process, easiest to read",
                1,
                integer(minimum=1),
            ),
        ),
    ),
    Group(
        "authentication",
        (
            Flag(
                "--client-ca-file",
                "accept client certificates signed by this CA (PEM): CN = user, O = groups",
                "",
                env="MINIK_CLIENT_CA_FILE",
            ),
            Flag(
                "--service-account-signing-key-file",
                "private key (PEM, RSA or P-256) that signs ServiceAccount tokens (TokenRequest)",
                "",
                env="MINIK_SA_SIGNING_KEY",
            ),
            Flag(
                "--service-account-key-file",
                "comma-separated PEM keys that verify ServiceAccount tokens (default: the signing key)",
                "",
                env="MINIK_SA_KEY",
            ),
            Flag(
                "--service-account-issuer",
                "the issuer (iss) of the ServiceAccount tokens this server signs and accepts",
                DEFAULT_ISSUER,
            ),
            Flag(
                "--api-audiences",
                "comma-separated audiences a token must be meant for (default: the issuer)",
                "",
            ),
        ),
    ),
    Group(
        "kubelets (pods/log, pods/exec)",
        (
            Flag(
                "--kubelet-client-certificate",
                "client certificate (PEM) the API server presents to kubelets -- never a caller's token",
                "",
            ),
            Flag("--kubelet-client-key", "its key (PEM)", ""),
            Flag(
                "--kubelet-certificate-authority",
                "CA (PEM) kubelets' serving certificates must chain to (default: --client-ca-file)",
                "",
            ),
        ),
    ),
    Group(
        "services",
        (
            Flag(
                "--service-cluster-ip-range",
                "CIDR ClusterIPs are allocated from",
                "10.96.0.0/12",
                cidr,
                env="MINIK_SERVICE_CIDR",
            ),
            Flag(
                "--service-node-port-range",
                "range NodePorts are allocated from",
                "30000-32767",
                port_range,
                env="MINIK_NODE_PORTS",
            ),
        ),
    ),
)

SHELL = Shell(
    prog="minik-apiserver",
    description="The minik API server: the Kubernetes REST API, persisted in etcd.",
    env_prefix="MINIK_APISERVER_",
    flags=FLAGS,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return SHELL.parse(argv)


#: The PriorityClasses every cluster has, for the pods that keep the cluster itself running.
SYSTEM_PRIORITY_CLASSES = (
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node "
        "if necessary.",
    ),
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
)


async def bootstrap(storage: Storage, registry: Registry, service_cidr: str) -> None:
    """Create the namespaces, the ``kubernetes`` Service and the system PriorityClasses every
    cluster has."""
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
    priority_classes = registry.lookup("scheduling.k8s.io", "v1", "priorityclasses")
    assert priority_classes is not None
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        with contextlib.suppress(errors.APIError):
            await storage.create(
                priority_classes,
                None,
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": name},
                    "value": value,
                    "description": description,
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
    service_strategy.allocator = ServiceAllocator(args.service_cluster_ip_range, args.service_node_port_range)
    holder: dict[str, Any] = {}
    storage = Storage(None, None, registry)  # type: ignore[arg-type]  # connected in lifespan
    authorizer = build_chain(args.authorization_mode, lambda: storage.cache)
    for rt in registry:  # writes to the RBAC kinds check escalation against the same chain
        if isinstance(rt.strategy, RBACStrategy):
            rt.strategy.authority = authorizer
    lookup = authn_setup.watch_cache_lookup(registry, lambda: holder["server"].storage.cache)
    auth, token_issuer = authn_setup.build(args, lookup)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # gRPC's asyncio channel must be created inside the running loop.
        client = etcd.EtcdClient(args.etcd_servers.split(","))
        await client.wait_ready(timeout=60)
        cache = WatchCache(
            client,
            registry,
            capacity=args.watch_cache_size,
            bookmark_interval=args.watch_bookmark_interval,
            watch_buffer=args.watch_buffer_size,
        )
        await cache.start()
        server: APIServer = holder["server"]
        server.storage.etcd, server.storage.cache = client, cache
        # Upstream's schemas (OpenAPI, field validation, apply, zero values, wire types) load once, off
        # the loop, before the first write needs them.
        kinds = [(r.group, r.version, r.kind) for r in registry]
        await asyncio.to_thread(schemas.warm_up, kinds)
        await asyncio.to_thread(zerovalues.warm_up, kinds)
        await asyncio.to_thread(wiretypes.warm_up, kinds)
        await bootstrap(server.storage, registry, args.service_cluster_ip_range)
        await rbac_bootstrap.ensure(server.storage, registry)
        cluster_roles = registry.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
        assert cluster_roles is not None
        tasks = [asyncio.create_task(aggregation.run(server.storage, cluster_roles), name="rbac-aggregation")]
        if args.etcd_compaction_interval > 0:
            tasks.append(asyncio.create_task(compact_forever(client, args.etcd_compaction_interval)))
        server.ready.set()
        log.info("minik-apiserver ready")
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await cache.stop()
            await client.close()

    kubelet_client = KubeletClientConfig.from_args(args)
    if kubelet_client.authority:
        kubelet_client.ssl_context()  # unreadable files fail at start-up, not at kubectl logs
    server = APIServer(
        storage,
        registry,
        auth,
        max_body_bytes=args.max_request_body_bytes,
        min_watch_timeout=args.min_request_timeout,
        authorizer=authorizer,
        request_timeout=args.request_timeout,
        token_issuer=token_issuer,
        kubelet_client=kubelet_client,
    )
    deadlines.set_header_timeout(args.request_timeout)
    holder["server"] = server
    server.app.router.lifespan_context = lifespan
    return server


def tune_gc(thresholds: tuple[int, int, int]) -> None:
    """Fewer, cheaper garbage collections for a process whose heap is mostly its caches.

    The watch cache keeps every object as Python dicts: with 10,000 pods that is millions
    of long-lived containers, and each full (generation 2) collection walks all of them —
    a pause of a few hundred milliseconds in the middle of some request. Freezing what
    exists at start-up and collecting the young generation less often keeps request latency
    flat; the objects are freed by reference counting anyway (they have no cycles).
    The thresholds are ``--gc-threshold`` (``MINIK_GC_THRESHOLD``; Python's are 700,10,10).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


#: How ``--workers`` hands the command line to the processes uvicorn spawns.
_WORKER_ARGV = "MINIK_APISERVER_ARGV"


def _configure_logging(args: argparse.Namespace) -> None:
    configure_logging(args.log_level, args.log_format, show_pid=True)


def _server_options(args: argparse.Namespace) -> dict[str, Any]:
    client_certs: dict[str, Any] = {}
    if args.client_ca_file and args.tls_cert_file:
        # Ask every client for a certificate (optional: token users send none) and hand it
        # to the app in the request's scope (authn/tls.py).
        client_certs = {
            "ssl_ca_certs": args.client_ca_file,
            "ssl_cert_reqs": ssl.CERT_OPTIONAL,
            "ws": authn_tls.WebSocketProtocol,
        }
    return {
        "host": args.bind_address,
        "port": args.secure_port,
        "ssl_certfile": args.tls_cert_file or None,
        "ssl_keyfile": args.tls_private_key_file or None,
        "log_level": "warning",
        "log_config": None,  # uvicorn's records go through the shell's handler, in its format
        "access_log": False,
        "loop": "uvloop",
        # Connection deadlines (deadlines.py) and the client certificate in each request's
        # scope (authn/tls.py) come from one protocol class.
        "http": authn_tls.HttpProtocol,
        "timeout_graceful_shutdown": 3,
        "timeout_keep_alive": 30,
        **client_certs,
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
    tune_gc(args.gc_threshold)
    return app


def _stop_with_status_zero() -> None:
    """Make a graceful stop on SIGTERM/SIGINT end with exit status 0, as the other components' do.

    uvicorn shuts down gracefully on those signals, then raises the signal again for the
    handler that was installed before it: Python's default would kill the process (status
    -15) after the clean shutdown. This one lets ``uvicorn.run`` return instead. (uvicorn
    installs its own handlers at once, before it even starts listening.)
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: None)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _configure_logging(args)
    _stop_with_status_zero()
    if args.workers > 1:
        os.environ[_WORKER_ARGV] = json.dumps(sys.argv[1:] if argv is None else argv)
        uvicorn.run(
            "minik.apiserver.main:worker_app", factory=True, workers=args.workers, **_server_options(args)
        )
        return
    app = build_app(args)
    tune_gc(args.gc_threshold)
    uvicorn.run(app, **_server_options(args))


if __name__ == "__main__":
    main()
