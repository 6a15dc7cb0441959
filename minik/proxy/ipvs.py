"""ipvs mode: kernel support detection, the iptables fallback, and virtual-server rendering.

In ipvs mode a Service is a *virtual server* of the kernel's IPVS load balancer rather than
a chain of DNAT rules: every ClusterIP is bound to a dummy interface (``kube-ipvs0``) so the
host accepts packets for it, and IPVS, sitting in the INPUT path, picks a *real server*
(an endpoint) with the configured scheduler (rr, lc, dh, sh, sed, nq — see
``schedulers.py``) and forwards in masquerade (NAT) mode::

    packet to 10.96.0.10:80 ─▶ local (dummy kube-ipvs0 owns it) ─▶ IPVS virtual server
        TCP 10.96.0.10:80 rr [persistent 10800 for ClientIP affinity]
          -> 10.244.1.5:8080 Masq weight 1
          -> 10.244.2.7:8080 Masq weight 0   (terminating: drains, no new connections)

NodePorts are one virtual server per node address; externalTrafficPolicy Local keeps only
this node's endpoints there.  :func:`render_ipvsadm` produces ``ipvsadm-restore`` input and
:func:`render_addresses` the dummy-interface addresses; both are unit-tested only.

This kernel (and many minimal ones) is built without IPVS.  Upstream kube-proxy then logs
that it cannot use the IPVS proxier and runs the iptables proxier instead; so does
:func:`choose_mode`, once, with a warning that says why.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from minik.proxy.model import EndpointInfo, ServicePortInfo, ServicePortName, categorize_endpoints
from minik.proxy.schedulers import SCHEDULERS

log = logging.getLogger(__name__)

MODES = ("iptables", "nftables", "userspace", "ipvs")
DUMMY_INTERFACE = "kube-ipvs0"


def ipvs_support(proc_root: Path = Path("/proc")) -> str | None:
    """None when the kernel has IPVS, else why not.

    ``/proc/net/ip_vs`` exists as soon as the ip_vs module is loaded or built in; if it is
    missing we try ``modprobe ip_vs`` once (there may be a loadable module)."""
    if (proc_root / "net" / "ip_vs").exists():
        return None
    if shutil.which("modprobe") is None:
        return f"{proc_root}/net/ip_vs does not exist and modprobe is not available (no loadable modules)"
    proc = subprocess.run(["modprobe", "ip_vs"], capture_output=True, text=True, check=False)
    if proc.returncode == 0 and (proc_root / "net" / "ip_vs").exists():
        return None
    return f"{proc_root}/net/ip_vs does not exist and 'modprobe ip_vs' failed: {proc.stderr.strip() or proc.returncode}"


def choose_mode(requested: str, *, ipvs_missing_reason: str | None = None, check_ipvs: bool = True) -> str:
    """The mode to run: ``requested``, except ipvs without kernel support -> iptables.

    ``ipvs_missing_reason`` overrides detection (tests); with ``check_ipvs=False`` and no
    reason given, IPVS is assumed present."""
    if requested not in MODES:
        raise ValueError(f"unknown proxy mode {requested!r}: choose one of {', '.join(MODES)}")
    if requested != "ipvs":
        return requested
    reason = (
        ipvs_missing_reason if ipvs_missing_reason is not None else (ipvs_support() if check_ipvs else None)
    )
    if reason is None:
        return "ipvs"
    log.warning("can't use the IPVS proxier: %s; falling back to the iptables proxier", reason)
    return "iptables"


@dataclass(frozen=True)
class RealServer:
    ip: str
    port: int
    weight: int = 1


@dataclass(frozen=True)
class VirtualServer:
    ip: str
    port: int
    protocol: str
    scheduler: str
    persistence: int | None
    real_servers: tuple[RealServer, ...]

    def flag(self) -> str:
        return {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}[self.protocol]


def virtual_servers(
    info: ServicePortInfo, node_ips: Iterable[str], default_scheduler: str = "rr"
) -> list[VirtualServer]:
    """The virtual servers of one service port (ClusterIP, externalIPs, LB IPs, NodePorts)."""
    scheduler = info.scheduler if info.scheduler in SCHEDULERS else default_scheduler
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
    eps = categorize_endpoints(info)

    def reals(chosen: Iterable[EndpointInfo]) -> tuple[RealServer, ...]:
        picked = {e.endpoint for e in chosen}
        out = [RealServer(e.ip, e.port, 1) for e in info.endpoints if e.endpoint in picked]
        # Terminating endpoints stay with weight 0: established connections drain.
        out += [RealServer(e.ip, e.port, 0) for e in info.endpoints if e.endpoint not in picked and e.serving]
        return tuple(out)

    internal = reals(eps.local if info.internal_policy_local else eps.cluster)
    external = reals(eps.local if info.external_policy_local else eps.cluster)

    def vs(ip: str, port: int, rs: tuple[RealServer, ...]) -> VirtualServer:
        return VirtualServer(ip, port, info.protocol, scheduler, info.affinity_timeout, rs)

    result = [vs(info.cluster_ip, info.port, internal)]
    result += [vs(ip, info.port, external) for ip in (*info.external_ips, *info.load_balancer_ips)]
    if info.node_port:
        result += [vs(ip, info.node_port, external) for ip in node_ips]
    return result


def render_ipvsadm(
    model: Mapping[ServicePortName, ServicePortInfo], node_ips: Iterable[str], default_scheduler: str = "rr"
) -> str:
    """``ipvsadm-restore`` input for the whole model (``-A`` virtual, ``-a`` real servers)."""
    ips = list(node_ips)
    lines: list[str] = []
    for name in sorted(model):
        for v in virtual_servers(model[name], ips, default_scheduler):
            service = f"{v.flag()} {v.ip}:{v.port}"
            persistence = f" -p {v.persistence}" if v.persistence is not None else ""
            lines.append(f"-A {service} -s {v.scheduler}{persistence}")
            lines += [f"-a {service} -r {r.ip}:{r.port} -m -w {r.weight}" for r in v.real_servers]
    return "\n".join(lines) + ("\n" if lines else "")


def render_addresses(
    model: Mapping[ServicePortName, ServicePortInfo], interface: str = DUMMY_INTERFACE
) -> list[str]:
    """``ip addr add`` commands binding every ClusterIP/external/LB IP to the dummy interface."""
    addrs = sorted(
        {ip for i in model.values() for ip in (i.cluster_ip, *i.external_ips, *i.load_balancer_ips)}
    )
    return [f"ip addr add {ip}/32 dev {interface}" for ip in addrs]
