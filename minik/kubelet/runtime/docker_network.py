"""The pod network on Docker: one bridge for the whole pod CIDR, plus hairpin mode.

Kubernetes wants a flat network: every pod reaches every pod by its IP, without NAT. On
one Docker host the simplest thing that gives exactly that is a single user-defined bridge
network whose subnet is the *whole* cluster pod CIDR (10.244.0.0/16 by default). Every
node's kubelet allocates from its own slice (``spec.podCIDR``, a /24) with its IPAM and
hands Docker a fixed ``ipv4_address`` on this shared network. Separate bridges per node
would need extra forwarding rules, because Docker isolates bridges from each other (see
host-facts), and their subnets could not overlap one that covers the whole CIDR anyway.

Hairpin: when a pod calls a Service and kube-proxy picks that same pod as the backend, the
packet leaves the pod's veth and must come back out of the same bridge port. Linux
bridges refuse that unless the port is in hairpin mode, so the kubelet turns it on for
each sandbox's host-side veth. That veth is found from the container's side: its eth0's
``iflink`` is the ifindex of the peer on the host.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors

log = logging.getLogger(__name__)

SYS_CLASS_NET = Path("/sys/class/net")


class PodNetworkError(RuntimeError):
    """The pod network cannot be created or does not match what was asked for."""


def _subnets(network: Mapping[str, Any]) -> list[str]:
    configs = ((network.get("IPAM") or {}).get("Config")) or []
    return [str(c.get("Subnet")) for c in configs if c.get("Subnet")]


def find_network(api: docker.APIClient, name: str) -> dict[str, Any] | None:
    """The network called exactly ``name`` (Docker's filter also matches prefixes)."""
    for network in api.networks(names=[name]):
        if network.get("Name") == name:
            return dict(api.inspect_network(network["Id"]))
    return None


def ensure_pod_network(
    api: docker.APIClient, name: str, cidr: str, *, labels: Mapping[str, str] | None = None
) -> str:
    """Create the bridge network ``name`` for ``cidr`` unless it exists; returns its id.

    Idempotent and safe against a concurrent creator. An existing network with the same
    name but another subnet is an error (never silently reused).
    """
    subnet = ipaddress.IPv4Network(cidr)
    gateway = str(subnet.network_address + 1)
    existing = find_network(api, name)
    if existing is None:
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
        )
        try:
            created = api.create_network(
                name, driver="bridge", ipam=ipam, check_duplicate=True, labels=dict(labels or {})
            )
            log.info("created pod network %s (%s, gateway %s)", name, subnet, gateway)
            return str(created["Id"])
        except docker.errors.APIError as exc:
            # Lost a race with another kubelet? Docker reserves the address pool before the
            # other creator's network is listed, so look again for a few seconds.
            existing = find_network(api, name)
            deadline = time.monotonic() + 5
            while existing is None and time.monotonic() < deadline:
                time.sleep(0.2)
                existing = find_network(api, name)
            if existing is None:
                raise PodNetworkError(
                    f"cannot create Docker network {name} for pod CIDR {subnet}: {exc.explanation or exc}. "
                    "Another Docker network may overlap this range (docker network ls / inspect)."
                ) from exc
    if str(subnet) not in _subnets(existing):
        raise PodNetworkError(
            f"Docker network {name} exists with subnet(s) {_subnets(existing)}, not {subnet}: "
            f"remove it (docker network rm {name}) or choose another network name or pod CIDR"
        )
    return str(existing["Id"])


def remove_pod_network(api: docker.APIClient, name: str) -> None:
    """Remove the network if it exists (fails while containers are attached)."""
    network = find_network(api, name)
    if network is not None:
        api.remove_network(network["Id"])


def host_veth_of(pid: int) -> str | None:
    """The host-side veth of the container whose process is ``pid``, or None.

    ``/proc/<pid>/root`` shows the container's own mounts, including its /sys, in which
    ``class/net/eth0/iflink`` is the ifindex of eth0's peer — an interface on the host.
    """
    try:
        peer = int((Path(f"/proc/{pid}/root") / "sys/class/net/eth0/iflink").read_text())
    except (OSError, ValueError):
        return None
    for iface in SYS_CLASS_NET.iterdir():
        try:
            if int((iface / "ifindex").read_text()) == peer:
                return iface.name
        except (OSError, ValueError):
            continue
    return None


def enable_hairpin(pid: int) -> str | None:
    """Put the bridge port of the container ``pid`` in hairpin mode; returns the veth name."""
    veth = host_veth_of(pid)
    if veth is None:
        log.warning("hairpin: no host veth found for pid %d", pid)
        return None
    knob = SYS_CLASS_NET / veth / "brport" / "hairpin_mode"
    try:
        if knob.read_text().strip() != "1":
            knob.write_text("1")
        return veth
    except OSError:
        pass
    bridge = shutil.which("bridge")  # a read-only /sys (kubelet in a container): use iproute2
    if bridge is not None:
        done = subprocess.run(
            [bridge, "link", "set", "dev", veth, "hairpin", "on"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return veth
        log.warning("hairpin: bridge link set dev %s hairpin on: %s", veth, done.stderr.strip())
    return None
