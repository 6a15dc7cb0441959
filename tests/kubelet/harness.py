"""Run a kubelet for a test: in-process (fast, inspectable) or as a process (kill/restart).

Both use the real API server of ``tests.conftest`` and set everything a test session owns
(owner label, pod network, state directory), so cleanup by label finds all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import CONFIGMAPS, SECRETS, SERVICES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.rest import APIClient
from minik.cluster.pki import ensure_serving_certificate
from minik.kubelet.kubelet import InformerSource, Kubelet
from minik.kubelet.main import parser, start_node


def kubelet_args(
    *,
    node: str,
    kubeconfig: Path,
    root: Path,
    runtime: str = "docker",
    network: str = "",
    cidr: str = "",
    port: int = 0,
    owner: str = "",
    extra: list[str] | None = None,
) -> list[str]:
    args = [
        "--node-name",
        node,
        "--kubeconfig",
        str(kubeconfig),
        "--runtime",
        runtime,
        "--root-dir",
        str(root),
        "--node-ip-loopback",
        "--lease-interval",
        "2",
        "--relist-period",
        "2",
        "--crashloop-backoff-base",
        "1",
        "--crashloop-backoff-max",
        "4",
        "--no-build-images",
    ]
    if network:
        args += ["--pod-network-name", network, "--cluster-cidr", cidr, "--pod-cidr", cidr]
    elif cidr:
        args += ["--pod-cidr", cidr]
    if port:
        args += ["--port", str(port)]
    if owner:
        args += ["--owner-label", owner]
    return args + (extra or [])


def kubelet_tls_args(pki: Path, node: str) -> list[str]:
    """A serving certificate from the test cluster's CA (for 127.0.0.1, where ``--node-ip-loopback``
    registers the node) and the CA for client certificates: the flags the cluster tooling passes."""
    crt, key = ensure_serving_certificate(pki, f"kubelet-{node}", node, ("127.0.0.1",), (node,))
    return [
        "--tls-cert-file",
        str(crt),
        "--tls-private-key-file",
        str(key),
        "--client-ca-file",
        str(pki / "ca.crt"),
    ]


@dataclass
class InProcess:
    kubelet: Kubelet
    client: APIClient
    runtime: Any


@asynccontextmanager
async def in_process_kubelet(argv: list[str]) -> AsyncIterator[InProcess]:
    args: argparse.Namespace = parser().parse_args(argv)
    client = APIClient(load_kubeconfig(args.kubeconfig))
    factory = SharedInformerFactory(client)
    cms, secrets, services = (
        factory.informer(CONFIGMAPS),
        factory.informer(SECRETS),
        factory.informer(SERVICES),
    )
    factory.start()
    await factory.wait_for_sync(30)
    recorder = EventRecorder(client, "kubelet", args.node_name)
    kubelet, agent, runtime = await start_node(
        args, args.node_name, args.pod_cidr, client, factory, InformerSource(cms, secrets), services, recorder
    )
    for inf in (cms, secrets):
        inf.add_event_handler(on_update=lambda _o, n: kubelet.on_object_changed(n))
    heartbeat = asyncio.create_task(agent.run())
    try:
        yield InProcess(kubelet, client, runtime)
    finally:
        heartbeat.cancel()
        await kubelet.stop()
        await recorder.close()
        await factory.shutdown()
        await runtime.close()
        await client.aclose()


class KubeletProcess:
    """``python -m minik.kubelet.main`` in its own process group."""

    def __init__(self, argv: list[str], log_file: Path, port: int) -> None:
        self.argv, self.log_file, self.port = argv, log_file, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "minik.kubelet.main", *self.argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubelet exited early:\n{self.log()}")
            try:
                # /healthz needs no credential; the certificate may be self-signed (no --tls-cert-file).
                healthz = f"https://127.0.0.1:{self.port}/healthz"
                if httpx.get(healthz, timeout=1, verify=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kubelet did not serve /healthz:\n{self.log()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(15)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
