"""From a pod object to runtime configs: hostname, DNS, /etc/hosts, resources, security.

The runtime (:mod:`.runtime.base`) never reads pod objects; this module is where the pod's
spec is translated, once, into :class:`PodSandboxConfig` and :class:`ContainerConfig`:

- **Hostname** — ``spec.hostname`` or the pod name (cut to 63 characters, a DNS label);
  with ``spec.subdomain`` the pod also gets the FQDN
  ``<hostname>.<subdomain>.<namespace>.svc.<cluster domain>`` in its /etc/hosts.
- **resolv.conf** per ``dnsPolicy``: ``ClusterFirst`` (the default) points at the
  cluster DNS with the search path ``<ns>.svc.<domain> svc.<domain> <domain>`` and
  ``ndots:5``; host-network pods fall back to the node's file unless the policy is
  ``ClusterFirstWithHostNet``; ``Default`` copies the node's file; ``None`` uses only
  ``dnsConfig``, which is merged into the others too.
- **/etc/hosts** — localhost entries, the pod IP with its name(s), ``hostAliases``.
  Both files live in the pod's directory and are bind-mounted into every container.
- **Resources** — ``limits.memory`` → memory limit (no swap), ``limits.cpu`` →
  ``nano_cpus`` (a CFS quota), ``requests.cpu`` → CPU shares (1 CPU = 1024, clamped to
  2..262144 as upstream). Quantities are exact fractions (``1e400`` is a valid one the
  API server accepts); a limit the runtime cannot hold (over an int64) makes the
  container fail with ``CreateContainerConfigError`` instead of crashing the kubelet.
- **securityContext** — runAsUser/runAsGroup (container over pod), supplementalGroups and
  fsGroup as extra groups, capabilities, readOnlyRootFilesystem, privileged,
  allowPrivilegeEscalation=false → no-new-privileges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from minik.api.quantity import QuantityError, parse_quantity
from minik.kubelet.envvars import expand
from minik.kubelet.runtime.base import ContainerConfig, Mount, PodSandboxConfig, PortMapping

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")


class PodConfigError(ValueError):
    """The pod cannot be turned into containers as specified."""


def hostnames(pod: Mapping[str, Any], cluster_domain: str = "cluster.local") -> tuple[str, str | None]:
    """(hostname, FQDN or None) of a pod."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname = str(spec.get("hostname") or meta.get("name", ""))[:63].rstrip("-.")
    subdomain = spec.get("subdomain")
    fqdn = (
        f"{hostname}.{subdomain}.{meta.get('namespace', 'default')}.svc.{cluster_domain}"
        if subdomain
        else None
    )
    return hostname, fqdn


def _host_resolv(path: Path) -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return servers, searches, options
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, searches, options


def resolv_conf(
    pod: Mapping[str, Any],
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str = "cluster.local",
    host_resolv: Path = HOST_RESOLV_CONF,
) -> str:
    """The content of the pod's /etc/resolv.conf (see the module docstring)."""
    spec = pod.get("spec") or {}
    namespace = str((pod.get("metadata") or {}).get("namespace", "default"))
    policy = str(spec.get("dnsPolicy") or "ClusterFirst")
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        if not cluster_dns:
            policy = "Default"  # upstream does the same when the kubelet has no --cluster-dns
        else:
            servers = list(cluster_dns)
            searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
            options = ["ndots:5"]
    if policy == "Default":
        servers, searches, options = _host_resolv(host_resolv)
    elif policy not in ("ClusterFirst", "ClusterFirstWithHostNet", "None"):
        raise PodConfigError(f"spec.dnsPolicy: unsupported value {policy!r}")
    extra = spec.get("dnsConfig") or {}
    servers += [s for s in extra.get("nameservers") or [] if s not in servers]
    searches += [s for s in extra.get("searches") or [] if s not in searches]
    merged = {o.split(":", 1)[0]: o for o in options}
    for opt in extra.get("options") or []:
        merged[str(opt["name"])] = (
            f"{opt['name']}:{opt['value']}" if opt.get("value") is not None else str(opt["name"])
        )
    lines = [f"nameserver {s}" for s in servers[:3]]
    if searches:
        lines.append("search " + " ".join(searches))
    if merged:
        lines.append("options " + " ".join(merged.values()))
    return "\n".join(lines) + "\n"


def hosts_file(
    pod: Mapping[str, Any],
    ip: str | None,
    *,
    cluster_domain: str = "cluster.local",
    host_hosts: Path = HOST_HOSTS,
) -> str:
    """The content of the pod's /etc/hosts (the node's own for host-network pods)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        try:
            base = host_hosts.read_text()
        except OSError:
            base = "127.0.0.1\tlocalhost\n"
    else:
        hostname, fqdn = hostnames(pod, cluster_domain)
        base = (
            "# Kubernetes-managed hosts file.\n"
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        )
        if ip:
            base += f"{ip}\t{fqdn}\t{hostname}\n" if fqdn else f"{ip}\t{hostname}\n"
    aliases = spec.get("hostAliases") or []
    if aliases:
        base += "\n# Entries added by HostAliases.\n"
        for alias in aliases:
            base += f"{alias['ip']}\t" + "\t".join(alias.get("hostnames") or []) + "\n"
    return base


def write_pod_files(
    pod: Mapping[str, Any],
    ip: str | None,
    pod_dir: Path,
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str = "cluster.local",
) -> tuple[Path, Path]:
    """Write the pod's resolv.conf and etc-hosts into ``pod_dir``; returns their paths."""
    pod_dir.mkdir(parents=True, exist_ok=True)
    resolv = pod_dir / "resolv.conf"
    hosts = pod_dir / "etc-hosts"
    resolv.write_text(resolv_conf(pod, cluster_dns=cluster_dns, cluster_domain=cluster_domain))
    hosts.write_text(hosts_file(pod, ip, cluster_domain=cluster_domain))
    resolv.chmod(0o644)
    hosts.chmod(0o644)
    return resolv, hosts


def host_ports(pod: Mapping[str, Any]) -> tuple[PortMapping, ...]:
    """Every ``hostPort`` of every container (they are bound on the sandbox, which owns the IP)."""
    out = []
    spec = pod.get("spec") or {}
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for port in container.get("ports") or []:
            if port.get("hostPort") and not spec.get("hostNetwork"):
                out.append(
                    PortMapping(
                        int(port["containerPort"]),
                        int(port["hostPort"]),
                        port.get("protocol", "TCP"),
                        str(port.get("hostIP", "")),
                    )
                )
    return tuple(out)


def sandbox_config(
    pod: Mapping[str, Any],
    *,
    ip: str | None,
    resolv_conf_path: Path | None,
    hosts_path: Path | None,
    cluster_domain: str = "cluster.local",
    mounts: Sequence[Mount] = (),
) -> PodSandboxConfig:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname, _ = hostnames(pod, cluster_domain)
    return PodSandboxConfig(
        uid=str(meta["uid"]),
        name=str(meta["name"]),
        namespace=str(meta.get("namespace", "default")),
        hostname=hostname,
        ip=None if spec.get("hostNetwork") else ip,
        host_network=bool(spec.get("hostNetwork")),
        share_process_namespace=bool(spec.get("shareProcessNamespace")),
        resolv_conf=str(resolv_conf_path) if resolv_conf_path else None,
        hosts_file=str(hosts_path) if hosts_path else None,
        ports=host_ports(pod),
        mounts=tuple(mounts),
    )


#: The runtime's limits are int64 (bytes, nano-CPUs); upstream clamps CPU shares to these.
INT64_MAX = (1 << 63) - 1
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144


def _quantity(container: Mapping[str, Any], what: str, value: Any) -> Fraction | None:
    """The exact value of a resource quantity (``None`` when unset or zero)."""
    if value is None:
        return None
    try:
        amount = parse_quantity(value)
    except (QuantityError, TypeError) as exc:
        raise PodConfigError(f'container "{container.get("name")}": {what} {value!r}: {exc}') from None
    return amount if amount > 0 else None


def _runtime_int(container: Mapping[str, Any], what: str, raw: Any, amount: Fraction) -> int:
    """``amount`` rounded up, or :class:`PodConfigError` when the runtime cannot hold it."""
    result = math.ceil(amount)
    if result > INT64_MAX:
        raise PodConfigError(
            f'container "{container.get("name")}": {what} {raw!r} is larger than the container runtime '
            f"can enforce (at most {INT64_MAX})"
        )
    return result


def _cpu_shares(cpu_request: Fraction) -> int:
    """Upstream's MilliCPUToShares: 1 CPU = 1024 shares, clamped to what cgroups accept."""
    return max(MIN_CPU_SHARES, min(MAX_CPU_SHARES, math.floor(cpu_request * 1024)))


def container_config(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    mounts: Sequence[Mount] = (),
    restart_count: int = 0,
) -> ContainerConfig:
    """The runtime config of one container; ``env`` and ``mounts`` are already resolved."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}

    memory = _quantity(container, "limits.memory", limits.get("memory"))
    cpu_limit = _quantity(container, "limits.cpu", limits.get("cpu"))
    cpu_request = _quantity(container, "requests.cpu", requests.get("cpu", limits.get("cpu")))
    memory_bytes = _runtime_int(container, "limits.memory", limits.get("memory"), memory) if memory else None
    nano_cpus = (
        _runtime_int(container, "limits.cpu", limits.get("cpu"), cpu_limit * 10**9) if cpu_limit else None
    )

    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")) and uid == 0:
        raise PodConfigError(f'container "{container["name"]}": runAsNonRoot and runAsUser is 0')
    user = None
    if uid is not None:
        user = f"{uid}:{gid}" if gid is not None else str(uid)
    groups = [str(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None:
        groups.append(str(pod_sc["fsGroup"]))
    caps = sc.get("capabilities") or {}

    command = tuple(expand(str(c), env) for c in container.get("command") or []) or None
    args = tuple(expand(str(a), env) for a in container.get("args") or []) or None
    return ContainerConfig(
        name=str(container["name"]),
        image=str(container["image"]),
        command=command,
        args=args,
        working_dir=container.get("workingDir") or None,
        env=dict(env),
        mounts=tuple(mounts),
        memory_limit_bytes=memory_bytes,
        nano_cpus=nano_cpus,
        cpu_shares=_cpu_shares(cpu_request) if cpu_request else None,
        user=user,
        supplemental_groups=tuple(groups),
        cap_add=tuple(str(c) for c in caps.get("add") or []),
        cap_drop=tuple(str(c) for c in caps.get("drop") or []),
        read_only_root_filesystem=bool(sc.get("readOnlyRootFilesystem")),
        privileged=bool(sc.get("privileged")),
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
        tty=bool(container.get("tty")),
        stdin=bool(container.get("stdin")),
        restart_count=restart_count,
    )
