"""``minik-kubelet``: one node agent per process (or many fake ones for scale tests).

Start-up order matters, and is the same for every node this process runs:

1. connect to the API server (kubeconfig), start the shared informers for ConfigMaps,
   Secrets and Services (env vars, projected volumes);
2. register the Node (capacity from ``docker info``), find the pod CIDR (flag, or wait for
   the node IPAM controller with ``--wait-for-pod-cidr``);
3. make sure the shared pod bridge network exists (Docker) and open the node's IPAM state;
4. start the pod informer (``spec.nodeName=<node>``; one shared informer on every bound
   pod when the process runs many fake nodes, see :mod:`.nodepods`), adopt what already
   runs, then start the workers, the event stream and the relist;
5. serve the kubelet API (HTTPS on ``--port``, see :mod:`minik.kubelet.server`) and
   heartbeat the Lease.

SIGTERM/SIGINT stop the kubelet *without* touching the containers: like upstream, a
kubelet restart must not restart pods.

``--runtime fake`` runs pods without containers (kwok-style): every pod gets an IP from
the IPAM and goes Running; readiness follows the annotation ``minik.dev/ready``
(``"false"`` = not ready). ``--fake-nodes N --node-name-prefix fake-`` runs N such nodes
in one process, each with a /24 carved from ``--cluster-cidr``. A test/scale mode only;
``--node-labels`` and ``--register-with-taints`` tell such nodes apart. docs/scale.md says
how far one process goes (1,000 nodes) and what limits it.

Connections: one bounded pool for pod status, events and registration
(``--api-connections``) and a small one of its own for the heartbeats
(``--lease-connections``), so a burst of pod status writes cannot delay a Lease renewal
into a NotReady node. A request waits for a free connection instead of failing, and
every API error of a heartbeat or a registration is logged and retried with back-off:
no exception from a busy API server ends the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import uvicorn

from minik.client import tlsscope
from minik.client.certauth import ClientCertAuthenticator
from minik.client.certs import ensure_self_signed_certificate
from minik.client.errors import APIError
from minik.client.events import EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import CONFIGMAPS, PODS, SECRETS, SERVICES
from minik.client.kubeconfig import KubeconfigError, load_kubeconfig, minik_home
from minik.client.pooled import PooledAPIClient
from minik.client.process import (
    Flag,
    Group,
    Shell,
    boolean,
    choice,
    cidr,
    duration,
    integer,
    ip_address,
    ip_list,
    key_value,
    port,
)
from minik.client.rest import APIClient
from minik.kubelet.auth import KubeletAuth
from minik.kubelet.ipam import IPAM
from minik.kubelet.kubelet import InformerSource, Kubelet, KubeletConfig
from minik.kubelet.node import (
    RETRY_INITIAL,
    RETRY_MAX,
    NodeAgent,
    NodeSettings,
    docker_host_info,
    local_host_info,
    primary_ip,
)
from minik.kubelet.nodepods import PodCache, SharedPodInformer
from minik.kubelet.pods import NodeConfig, PodRunner
from minik.kubelet.registration import node_labels, node_taints
from minik.kubelet.runtime.base import LABEL_CLUSTER
from minik.kubelet.server import KubeletServer

log = logging.getLogger("minik.kubelet")


FLAGS: tuple[Flag | Group, ...] = (
    Group(
        "node",
        (
            Flag("--node-name", "the Node's name (default: the host name)", env="MINIK_NODE_NAME"),
            Flag("--kubeconfig", "kubeconfig for the API server", env="KUBECONFIG"),
            Flag(
                "--runtime",
                "docker: real containers; fake: no containers (test/scale mode)",
                "docker",
                choice("docker", "fake"),
            ),
            Flag("--node-ip", "the Node's InternalIP (default: this host's primary IP)", type=ip_address),
            Flag("--node-ip-loopback", "advertise 127.0.0.1 as the InternalIP", False, boolean, switch=True),
            Flag("--root-dir", "kubelet state directory (default: $MINIK_HOME/kubelet/<node>)"),
            Flag(
                "--owner-label",
                "extra label on every container (e.g. a test session), repeatable; io.minik.node=<node> "
                "is always set",
                type=key_value,
                metavar="K=V",
                repeated=True,
            ),
            Flag(
                "--node-labels",
                "labels the Node registers with: key=value[,key=value...]",
                {},
                node_labels,
                metavar="K=V,...",
            ),
            Flag(
                "--register-with-taints",
                "taints the Node registers with: key[=value]:Effect[,...] (Effect: NoSchedule, "
                "PreferNoSchedule, NoExecute)",
                [],
                node_taints,
                metavar="K=V:EFFECT,...",
            ),
            Flag(
                "--no-build-images",
                "do not build minik's local images at start-up",
                False,
                boolean,
                switch=True,
            ),
        ),
    ),
    Group(
        "pod network",
        (
            Flag(
                "--pod-network-name",
                "the Docker bridge network shared by every node's pods",
                "minik-pods",
                env="MINIK_POD_NETWORK",
            ),
            Flag(
                "--cluster-cidr",
                "the whole pod CIDR: the subnet of the pod network",
                "10.244.0.0/16",
                cidr,
                env="MINIK_CLUSTER_CIDR",
            ),
            Flag(
                "--pod-cidr",
                "this node's pod CIDR (when not waiting for the IPAM controller)",
                type=cidr,
                env="MINIK_POD_CIDR",
            ),
            Flag(
                "--wait-for-pod-cidr",
                "wait for spec.podCIDR from the node IPAM controller",
                False,
                boolean,
                switch=True,
            ),
            Flag(
                "--cluster-dns",
                "comma-separated cluster DNS IPs for ClusterFirst pods",
                "10.96.0.10",
                ip_list,
            ),
            Flag("--cluster-domain", "the DNS domain of the cluster", "cluster.local"),
        ),
    ),
    Group(
        "kubelet API",
        (
            Flag("--address", "address the kubelet API binds to (default: the node's InternalIP)"),
            Flag("--port", "kubelet API port (HTTPS)", 10250, port()),
            Flag(
                "--tls-cert-file",
                "serving certificate (PEM) naming the node's addresses; default: a self-signed one "
                "in the state directory, which the API server does not trust",
            ),
            Flag("--tls-private-key-file", "the serving certificate's key (PEM)"),
            Flag(
                "--client-ca-file",
                "CA bundle: client certificates it signed authenticate (CN user, O groups)",
            ),
            Flag(
                "--anonymous-auth",
                "requests without a credential are system:anonymous (then authorized) instead of 401",
                False,
                boolean,
                switch=True,
            ),
            Flag(
                "--authorization-mode",
                "Webhook: ask the API server (SubjectAccessReview); AlwaysAllow: any authenticated caller",
                "Webhook",
                choice("Webhook", "AlwaysAllow"),
            ),
        ),
    ),
    Group(
        "timing",
        (
            Flag("--lease-interval", "seconds between Lease renewals", 10.0, duration),
            Flag(
                "--api-connections",
                "most connections to the API server for pod status, events and registration",
                16,
                integer(minimum=1),
            ),
            Flag(
                "--lease-connections",
                "connections reserved for Lease renewals and node status (never used by the rest)",
                4,
                integer(minimum=1),
            ),
            Flag("--relist-period", "seconds between full relists (drift repair)", 10.0, duration),
            Flag("--crashloop-backoff-base", "first CrashLoopBackOff delay (seconds)", 10.0, duration),
            Flag("--crashloop-backoff-max", "longest CrashLoopBackOff delay (seconds)", 300.0, duration),
        ),
    ),
    Group(
        "fake nodes (--runtime fake)",
        (
            Flag("--fake-nodes", "how many nodes this process runs", 1, integer(minimum=1)),
            Flag("--node-name-prefix", "node names are <prefix><i>", "fake-"),
            Flag("--fake-cidr-start", "index of the first /24 of --cluster-cidr", 128, integer(minimum=0)),
            Flag(
                "--fake-start-concurrency",
                "how many fake nodes register at the same time",
                32,
                integer(minimum=1),
            ),
        ),
    ),
)

SHELL = Shell(
    prog="minik-kubelet",
    description="minik's node agent: runs this node's pods on Docker.",
    env_prefix="MINIK_KUBELET_",
    flags=FLAGS,
)


def parser() -> argparse.ArgumentParser:
    return SHELL.parser()


async def start_node(
    args: argparse.Namespace,
    name: str,
    pod_cidr: str | None,
    client: APIClient,
    factory: SharedInformerFactory,
    source: InformerSource,
    services: Informer,
    recorder: EventRecorder,
    *,
    pods: PodCache | None = None,
    lease_client: APIClient | None = None,
) -> tuple[Kubelet, NodeAgent, Any]:
    """Register one node and start its kubelet (the heartbeat is the caller's to run).

    ``pods`` is the node's view of the process's shared pod informer; without one the
    node gets its own informer (``spec.nodeName=<name>``), as a lone kubelet does.
    """
    owner = {"io.minik.node": name, **dict(args.owner_label)}
    runtime: Any
    if args.runtime == "docker":
        from minik.kubelet.runtime.docker import DockerRuntime

        runtime = DockerRuntime(network=args.pod_network_name, owner_labels=owner)
        info = await runtime._call(runtime.api.info)
        host = docker_host_info(info, await runtime.version())
    else:
        from minik.kubelet.runtime.fake import FakeRuntime

        runtime = FakeRuntime(pullable=True)
        host = local_host_info(f"fake://{await runtime.version()}")
    address = node_address(args)
    settings = NodeSettings(
        name=name,
        address=address,
        port=args.port,
        pod_cidr=pod_cidr,
        wait_for_pod_cidr=args.wait_for_pod_cidr,
        lease_interval=args.lease_interval,
        labels=dict(getattr(args, "node_labels", None) or {}),
        taints=list(getattr(args, "register_with_taints", None) or []),
    )
    agent = NodeAgent(client, settings, host, lease_client=lease_client)
    await agent.register()
    cidr = await agent.pod_cidr()
    if args.runtime == "docker":
        await runtime.ensure_network(args.cluster_cidr)
    root = (
        Path(args.root_dir) / name
        if args.root_dir and args.fake_nodes > 1
        else Path(args.root_dir or minik_home() / "kubelet" / name)
    )
    root.mkdir(parents=True, exist_ok=True)
    # Fake pods die with the process: their addresses need no file (nor an fsync per pod).
    ipam = IPAM(cidr, None if args.runtime == "fake" else root / "ipam.json")
    node = NodeConfig(
        root=root,
        cluster_dns=tuple(args.cluster_dns.split(",")),
        cluster_domain=args.cluster_domain,
        # Every node of a cluster runs on this one Docker host, so a claim's volume is
        # named after the cluster, not the node: a StatefulSet pod rescheduled to another
        # node finds its data, as it would on network storage.
        volume_prefix=f"minik-{owner.get(LABEL_CLUSTER, name)}-",
    )
    runner = PodRunner(runtime, node=node, ipam=ipam, source=source, labels=owner)
    if pods is None:
        pods = Informer(client, PODS, field_selector=f"spec.nodeName={name}")
    kubelet = Kubelet(
        client=client,
        runner=runner,
        pods=pods,
        services=services,
        recorder=recorder,
        config=KubeletConfig(
            node_name=name,
            host_ip=address,
            crashloop_base=args.crashloop_backoff_base,
            crashloop_max=args.crashloop_backoff_max,
            relist_period=args.relist_period,
            fake=args.runtime == "fake",
        ),
    )
    try:
        await kubelet.start()
    except BaseException:
        await kubelet.stop()  # a retried start must not leave this one's handlers behind
        raise
    return kubelet, agent, runtime


def node_address(args: argparse.Namespace) -> str:
    """The node's InternalIP: where the API server dials this kubelet, and its default bind address."""
    return "127.0.0.1" if args.node_ip_loopback else str(args.node_ip or primary_ip())


def serving_certificate(args: argparse.Namespace) -> tuple[str, str]:
    """``--tls-cert-file``/``--tls-private-key-file``, or a self-signed pair (upstream's fallback)."""
    if args.tls_cert_file:
        return args.tls_cert_file, args.tls_private_key_file or args.tls_cert_file
    pki = Path(args.root_dir or minik_home() / "kubelet" / args.node_name) / "pki"
    ips = tuple(dict.fromkeys((node_address(args), "127.0.0.1")))
    crt, key = ensure_self_signed_certificate(pki, "kubelet", args.node_name, ips, (args.node_name,))
    log.warning(
        "no --tls-cert-file: serving a self-signed certificate (%s); the API server will not trust it", crt
    )
    return str(crt), str(key)


def serving_config(app: Any, args: argparse.Namespace) -> uvicorn.Config:
    """uvicorn over TLS; with ``--client-ca-file`` it asks for client certificates and hands
    the verified one to the app (the API server's protocol classes: ASGI's TLS extension)."""
    crt, key = serving_certificate(args)
    tls: dict[str, Any] = {"ssl_certfile": crt, "ssl_keyfile": key}
    if args.client_ca_file:
        tls |= {
            "ssl_ca_certs": args.client_ca_file,
            "ssl_cert_reqs": ssl.CERT_OPTIONAL,
            "http": tlsscope.HttpProtocol,
        }
    return uvicorn.Config(
        app,
        host=args.address or node_address(args),
        port=args.port,
        log_level="warning",
        log_config=None,  # uvicorn's records go through the shell's handler, in its format
        lifespan="off",
        **tls,
    )


def _changed(k: Kubelet) -> Any:
    def on_update(_old: Any, new: Any) -> None:
        k.on_object_changed(new)

    return on_update


async def start_with_retries(
    args: argparse.Namespace,
    name: str,
    pod_cidr: str | None,
    client: APIClient,
    factory: SharedInformerFactory,
    source: InformerSource,
    services: Informer,
    recorder: EventRecorder,
    *,
    pods: PodCache | None,
    lease_client: APIClient,
    slots: asyncio.Semaphore,
) -> tuple[Kubelet, NodeAgent, Any]:
    """:func:`start_node`, retried with back-off on API errors: a busy API server slows a
    fake node's registration down, it never ends the process."""
    delay = RETRY_INITIAL
    while True:
        async with slots:
            try:
                return await start_node(
                    args, name, pod_cidr, client, factory, source, services, recorder,
                    pods=pods, lease_client=lease_client,
                )  # fmt: skip
            except (APIError, OSError, TimeoutError) as exc:
                log.warning("node %s: registration failed (%s); retrying in %.1fs", name, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


def node_names(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(name, pod CIDR) of every node this process runs."""
    if args.runtime != "fake" or args.fake_nodes == 1:
        return [(args.node_name, args.pod_cidr)]
    subnets = ipaddress.ip_network(args.cluster_cidr).subnets(new_prefix=24)
    chosen = [
        str(s)
        for i, s in enumerate(subnets)
        if args.fake_cidr_start <= i < args.fake_cidr_start + args.fake_nodes
    ]
    if len(chosen) < args.fake_nodes:
        raise SystemExit(
            f"--cluster-cidr {args.cluster_cidr} has only {len(chosen)} /24s from --fake-cidr-start "
            f"{args.fake_cidr_start}; {args.fake_nodes} fake nodes need one each"
        )
    return [(f"{args.node_name_prefix}{i}", chosen[i]) for i in range(args.fake_nodes)]


async def run(args: argparse.Namespace, stop: asyncio.Event) -> None:
    if args.runtime == "docker" and not args.no_build_images:
        from minik.kubelet.images import ensure_images

        await asyncio.to_thread(ensure_images)
    args.node_name = args.node_name or os.uname().nodename
    config = load_kubeconfig(args.kubeconfig)
    # Two bounded pools (requests wait for a free connection; they never fail for lack of
    # one): the main one for pod status, events and registration, and a small one only
    # the heartbeats use. Watches stay on the client's own streaming connections.
    client = PooledAPIClient(config, max_connections=args.api_connections, user_agent="minik-kubelet")
    lease_client = PooledAPIClient(
        config, max_connections=args.lease_connections, timeout=10.0, user_agent="minik-kubelet"
    )
    factory = SharedInformerFactory(client)
    cms, secrets, services = (
        factory.informer(CONFIGMAPS),
        factory.informer(SECRETS),
        factory.informer(SERVICES),
    )
    factory.start()
    await factory.wait_for_sync(60)
    source = InformerSource(cms, secrets)
    recorder = EventRecorder(client, "kubelet", args.node_name)

    names = node_names(args)
    shared = SharedPodInformer(client, [n for n, _ in names])
    shared.informer.start()
    await shared.informer.wait_for_sync(60)
    slots = asyncio.Semaphore(args.fake_start_concurrency)
    spread = len(names) > 1
    heartbeats: list[asyncio.Task[None]] = []

    async def start_one(name: str, pod_cidr: str | None) -> tuple[Kubelet, NodeAgent, Any]:
        started = await start_with_retries(
            args, name, pod_cidr, client, factory, source, services, recorder,
            pods=shared.view(name), lease_client=lease_client, slots=slots,
        )  # fmt: skip
        heartbeats.append(asyncio.create_task(started[1].run(spread=spread), name=f"heartbeat-{name}"))
        return started

    started = await asyncio.gather(*(start_one(n, c) for n, c in names))
    kubelets = [k for k, _, _ in started]
    for k in kubelets:
        for inf in (cms, secrets):
            inf.add_event_handler(on_update=_changed(k))

    auth = KubeletAuth(
        client,
        client_ca=ClientCertAuthenticator.from_file(args.client_ca_file) if args.client_ca_file else None,
        anonymous=args.anonymous_auth,
        authorization_mode=args.authorization_mode,
    )
    server = KubeletServer(kubelets, auth=auth)
    uv = uvicorn.Server(serving_config(server.app(), args))
    uv.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # we own SIGTERM
    serving = asyncio.create_task(uv.serve())

    log.info(
        "kubelet for %s running (runtime %s, API on https://%s:%d)",
        ", ".join(n for n, _ in names)
        if len(names) <= 5
        else f"{len(names)} nodes ({names[0][0]} … {names[-1][0]})",
        args.runtime,
        args.address or node_address(args),
        args.port,
    )
    await stop.wait()
    log.info("shutting down; containers keep running")
    uv.should_exit = True
    for t in heartbeats:
        t.cancel()
    await asyncio.gather(*(k.stop() for k in kubelets), return_exceptions=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 5)
    await recorder.close()
    await shared.informer.stop()
    await factory.shutdown()
    for _, _, rt in started:
        with contextlib.suppress(Exception):
            await rt.close()
    await lease_client.aclose()
    await client.aclose()


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """:func:`run`, with a missing or unreadable kubeconfig told as one log line → exit status."""
    try:
        await run(args, stop)
    except KubeconfigError as exc:
        log.error("cannot reach the API server: %s (pass --kubeconfig)", exc)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    SHELL.main(argv, serve)


if __name__ == "__main__":
    main()
