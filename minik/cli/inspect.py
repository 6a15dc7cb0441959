"""Teaching views no other client has: ``inspect pod`` and ``inspect service``.

``inspect pod NAME`` shows what a pod *is* on its node: Docker containers
labelled ``io.kubernetes.pod.uid=<uid>``, the pause ("sandbox") container first
(its ``io.kubernetes.container.name`` label is ``POD``), then the app
containers. For each it reads ``/proc/<pid>/ns/{net,ipc,pid,uts}`` — the
namespace inode numbers — and marks which ones are the pause container's: the
pod's containers join the pause container's network and IPC namespaces, which is
why they share one IP and ``localhost``. (Docker gives each its own UTS namespace
but copies the sandbox's hostname in, so ``hostname`` still prints the pod name.) Docker must be reachable
from this machine (the node's Docker); reading other processes' namespaces
usually needs root.

``inspect service NAME`` shows the Service (ClusterIP, ports), its
EndpointSlices with ready / not-ready endpoints, and the node's rules that
implement it: the ``iptables-save -t nat`` lines of its ``KUBE-SVC-…``/
``KUBE-SEP-…`` chains (upstream's hashed names, computed with
:func:`minik.proxy.iptables.svc_chain`), or the lines of ``nft list table ip
minik-proxy`` that name it. Without root or the tools it says so and still
shows the API part.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from typing import Any

from minik.cli.errors import CLIError, not_found
from minik.cli.printers import print_rows
from minik.cli.session import Session
from minik.client.errors import NotFoundError
from minik.client.kinds import ENDPOINTSLICES, PODS, SERVICES

Obj = dict[str, Any]
NAMESPACES = ("net", "ipc", "pid", "uts")
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER = "io.kubernetes.container.name"
SANDBOX = "POD"
NFT_TABLE = ("ip", "minik-proxy")


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("inspect", parents=[parent], help="what a pod or service is made of on the node")
    ps = p.add_subparsers(dest="inspect_kind", required=True, metavar="pod|service")
    pod = ps.add_parser(
        "pod", parents=[parent], aliases=["po"], help="Docker containers and shared namespaces"
    )
    pod.add_argument("name")
    pod.set_defaults(func=run_pod)
    svc = ps.add_parser("service", parents=[parent], aliases=["svc"], help="endpoints and proxy rules")
    svc.add_argument("name")
    svc.set_defaults(func=run_service)


# -- pod ------------------------------------------------------------------------------------------


def namespace_ids(pid: int) -> dict[str, str]:
    """``{"net": "4026532281", ...}`` for a process; ``?`` where not readable."""
    out: dict[str, str] = {}
    for ns in NAMESPACES:
        try:
            link = os.readlink(f"/proc/{pid}/ns/{ns}")  # "net:[4026532281]"
            out[ns] = link.split("[", 1)[1].rstrip("]")
        except (OSError, IndexError):
            out[ns] = "?"
    return out


def docker_containers(uid: str) -> list[Obj]:
    """The pod's containers from the local Docker, pause first (raises CLIError when unreachable)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise CLIError("the docker SDK is not installed", hint="pip install docker") from exc
    try:
        client = docker.from_env(timeout=10)
        found = client.containers.list(all=True, filters={"label": f"{LABEL_POD_UID}={uid}"})
    except DockerException as exc:
        raise CLIError(
            f"cannot reach Docker on this machine: {exc}",
            hint="run inspect on the pod's node, with access to /var/run/docker.sock "
            "(root or the docker group); DOCKER_HOST selects another daemon",
        ) from exc
    rows = []
    for c in found:
        attrs = c.attrs
        labels = attrs.get("Config", {}).get("Labels") or {}
        state = attrs.get("State") or {}
        rows.append(
            {
                "id": c.id[:12],
                "docker_name": c.name,
                "container": labels.get(LABEL_CONTAINER, "?"),
                "image": (attrs.get("Config") or {}).get("Image", ""),
                "status": state.get("Status", "?"),
                "pid": int(state.get("Pid") or 0),
                "network_mode": (attrs.get("HostConfig") or {}).get("NetworkMode", ""),
            }
        )
    rows.sort(key=lambda r: (r["container"] != SANDBOX, r["container"]))
    return rows


async def run_pod(session: Session, args: argparse.Namespace) -> int:
    ns = session.namespace
    try:
        pod = await session.client.get(PODS, args.name, namespace=ns)
    except NotFoundError:
        raise not_found("pods", args.name, ns) from None
    uid = pod["metadata"]["uid"]
    out = session.console
    out.out(f"Pod {ns}/{args.name}  uid {uid}", highlight=False)
    out.out(
        f"Node {pod.get('spec', {}).get('nodeName') or '<not scheduled>'}  "
        f"IP {pod.get('status', {}).get('podIP') or '<none>'}\n",
        highlight=False,
    )
    containers = docker_containers(uid)
    if not containers:
        raise CLIError(
            f"Docker on this machine has no containers for pod {ns}/{args.name} (uid {uid})",
            hint="run this on the pod's node; the pod may not be started yet (minikctl get pod -o wide)",
        )
    pause = next((c for c in containers if c["container"] == SANDBOX), None)
    pause_ns = namespace_ids(pause["pid"]) if pause and pause["pid"] else {}
    rows = []
    for c in containers:
        ids = namespace_ids(c["pid"]) if c["pid"] else dict.fromkeys(NAMESPACES, "-")
        cells = [
            ids[n]
            + (
                " ="
                if c is not pause and pause_ns.get(n) not in (None, "?") and ids[n] == pause_ns[n]
                else ""
            )
            for n in NAMESPACES
        ]
        role = "pause (sandbox)" if c is pause else "app"
        rows.append([c["container"], role, c["docker_name"], c["status"], str(c["pid"] or "-"), *cells])
    print_rows(
        out,
        ["CONTAINER", "ROLE", "DOCKER NAME", "STATE", "PID", "NET", "IPC", "PID-NS", "UTS"],
        rows,
        status_columns=[3],
    )
    out.out("", highlight=False)
    if pause is None:
        out.out("no pause container found: this pod was not started by a CRI-style runtime", highlight=False)
        return 0
    if any(v == "?" for v in pause_ns.values()):
        out.out(
            "namespace ids marked ? could not be read: run as root to compare /proc/<pid>/ns/*",
            highlight=False,
        )
    out.out(
        "'=' marks a namespace shared with the pause container: every container of the pod joins the "
        "pause container's network and IPC namespaces (Docker NetworkMode container:<pause>), so "
        "they share one IP and localhost; Docker gives each its own UTS namespace but copies the "
        "pod's hostname in; the PID namespace is shared only with shareProcessNamespace: true.",
        highlight=False,
    )
    for c in containers:
        if c is not pause:
            out.out(f"  {c['container']}: NetworkMode={c['network_mode']}", highlight=False)
    return 0


# -- service --------------------------------------------------------------------------------------


def _run(cmd: list[str]) -> tuple[str | None, str]:
    """(stdout, problem) of a local command; stdout None when it could not run."""
    if shutil.which(cmd[0]) is None:
        return None, f"{cmd[0]} is not installed here"
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{' '.join(cmd)}: {exc}"
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        hint = " (needs root / CAP_NET_ADMIN)" if os.geteuid() != 0 else ""
        return None, f"{' '.join(cmd)} failed: {why}{hint}"
    return done.stdout, ""


def iptables_lines(svc: Obj, dump: str) -> list[str]:
    """The nat-table lines that implement ``svc``: its chains and the endpoint chains they jump to."""
    from minik.proxy.iptables import ext_chain, fw_chain, svc_chain, svl_chain
    from minik.proxy.model import ServicePortName

    meta, spec = svc["metadata"], svc.get("spec") or {}
    chains: set[str] = set()
    for port in spec.get("ports") or []:
        name = ServicePortName(
            meta["namespace"], meta["name"], str(port.get("name") or ""), str(port.get("protocol") or "TCP")
        )
        chains |= {f(name) for f in (svc_chain, svl_chain, ext_chain, fw_chain)}
    lines = dump.splitlines()
    for line in lines:  # endpoint chains reached from the service chains
        parts = line.split()
        if len(parts) > 1 and parts[0] == "-A" and parts[1] in chains and "-j" in parts:
            target = parts[parts.index("-j") + 1]
            if target.startswith("KUBE-SEP-"):
                chains.add(target)

    def mentions(line: str) -> bool:
        tokens = line.split()
        return bool(tokens) and (tokens[0].lstrip(":") in chains or any(t in chains for t in tokens))

    return [line for line in lines if mentions(line)]


async def run_service(session: Session, args: argparse.Namespace) -> int:
    ns = session.namespace
    try:
        svc = await session.client.get(SERVICES, args.name, namespace=ns)
    except NotFoundError:
        raise not_found("services", args.name, ns) from None
    spec = svc.get("spec") or {}
    out = session.console
    out.out(
        f"Service {ns}/{args.name}  type {spec.get('type', 'ClusterIP')}  ClusterIP "
        f"{spec.get('clusterIP') or '<none>'}",
        highlight=False,
    )
    sel = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
    out.out(f"Selector {sel or '<none> (endpoints are managed by hand)'}", highlight=False)
    print_rows(
        out,
        ["PORT NAME", "PORT", "TARGET", "NODEPORT"],
        [
            [
                str(p.get("name") or "<unset>"),
                f"{p.get('port')}/{p.get('protocol', 'TCP')}",
                str(p.get("targetPort", p.get("port"))),
                str(p.get("nodePort") or "-"),
            ]
            for p in spec.get("ports") or []
        ],
    )
    slices = (
        await session.client.list(
            ENDPOINTSLICES, namespace=ns, label_selector=f"kubernetes.io/service-name={args.name}"
        )
    ).get("items") or []
    out.out(f"\nEndpointSlices ({len(slices)}):", highlight=False)
    rows = []
    for sl in slices:
        ports = ",".join(f"{p.get('name') or ''}:{p.get('port')}" for p in sl.get("ports") or [])
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = (
                "Ready"
                if cond.get("ready", True)
                else ("Terminating" if cond.get("terminating") else "NotReady")
            )
            target = ep.get("targetRef") or {}
            rows.append(
                [
                    sl["metadata"]["name"],
                    ",".join(ep.get("addresses") or []),
                    ports,
                    ready,
                    str(target.get("name") or "-"),
                    str(ep.get("nodeName") or "-"),
                ]
            )
    if rows:
        print_rows(
            out,
            ["  SLICE", "ADDRESS", "PORTS", "STATE", "POD", "NODE"],
            [[f"  {r[0]}", *r[1:]] for r in rows],
            status_columns=[3],
        )
    else:
        out.out(
            "  no endpoints: no ready pod matches the selector (minikctl get pods -l " + (sel or "...") + ")",
            highlight=False,
        )
    out.out("\nProxy rules on this node:", highlight=False)
    shown = False
    dump, problem = _run(["iptables-save", "-t", "nat"])
    if dump is not None:
        lines = iptables_lines(svc, dump)
        if lines:
            out.out("  iptables (nat table):", highlight=False)
            for line in lines:
                out.out(f"    {line}", highlight=False)
            shown = True
    problems = [problem] if problem else []
    nft, nft_problem = _run(["nft", "list", "table", *NFT_TABLE])
    if nft is not None:
        needle = f"{ns}/{args.name}/"
        lines = [
            ln.strip() for ln in nft.splitlines() if needle in ln or (spec.get("clusterIP") or "@@") in ln
        ]
        if lines:
            out.out(f"  nftables (table {' '.join(NFT_TABLE)}):", highlight=False)
            for line in lines:
                out.out(f"    {line}", highlight=False)
            shown = True
    elif nft_problem:
        problems.append(nft_problem)
    if not shown:
        out.out(
            "  none found here: kube-proxy may run elsewhere, in userspace/ipvs mode, or not at all",
            highlight=False,
        )
        for p in problems:
            out.out(f"  ({p})", highlight=False)
    return 0
