"""``minikctl describe``: one object as a readable summary, then its Events.

The summary is the object's metadata, a few kind-specific lines (a pod's node,
IP and containers; a deployment's replicas and strategy; a service's ports and
endpoints) and the rest of ``spec``/``status`` as indented YAML. Events come
from the ``events`` collection filtered on the server by
``involvedObject.name``, ``involvedObject.namespace`` and ``involvedObject.uid``
— the same field selectors kubectl uses.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

from minik.cli.errors import not_found
from minik.cli.printers import print_rows, to_yaml
from minik.cli.session import Session
from minik.cli.targets import ns_for, parse_targets
from minik.client.errors import NotFoundError
from minik.client.kinds import EVENTS, ResourceRef

Obj = dict[str, Any]


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("describe", parents=[parent], help="show an object's details and events")
    p.add_argument("targets", nargs="+", metavar="TYPE[/NAME] [NAME...]")
    p.add_argument("-l", "--selector", help="describe every object matching this label selector")
    p.set_defaults(func=run)


async def run(session: Session, args: argparse.Namespace) -> int:
    first = True
    for ref, names in await parse_targets(session, args.targets, verb="describe"):
        ns = ns_for(ref, session)
        if names:
            objs = []
            for name in names:
                try:
                    objs.append(await session.client.get(ref, name, namespace=ns))
                except NotFoundError:
                    raise not_found(ref.plural, name, ns) from None
        else:
            objs = (await session.client.list(ref, namespace=ns, label_selector=args.selector)).get(
                "items"
            ) or []
        for obj in objs:
            if not first:
                session.console.out("")
            first = False
            await describe_one(session, ref, obj)
    return 0


def age(timestamp: Any) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        seconds = time.time() - datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _kv(mapping: Any) -> str:
    if not mapping:
        return "<none>"
    return "\n".join(f"{' ' * 16 if i else ''}{k}={v}" for i, (k, v) in enumerate(sorted(mapping.items())))


def _field(session: Session, label: str, value: Any) -> None:
    session.console.out(f"{label + ':':<16}{value if value not in (None, '') else '<none>'}", highlight=False)


async def describe_one(session: Session, ref: ResourceRef, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _field(session, "Name", meta.get("name"))
    if ref.namespaced:
        _field(session, "Namespace", meta.get("namespace"))
    _field(session, "Kind", f"{ref.kind} ({ref.api_version})")
    _field(session, "Labels", _kv(meta.get("labels")))
    _field(
        session,
        "Annotations",
        _kv(
            {
                k: v
                for k, v in (meta.get("annotations") or {}).items()
                if k != "kubectl.kubernetes.io/last-applied-configuration"
            }
        ),
    )
    _field(session, "Created", f"{meta.get('creationTimestamp')} ({age(meta.get('creationTimestamp'))} ago)")
    for owner in meta.get("ownerReferences") or []:
        _field(session, "Controlled By", f"{owner.get('kind')}/{owner.get('name')}")
    if meta.get("deletionTimestamp"):
        _field(session, "Deleting since", meta["deletionTimestamp"])
    if ref.kind == "Pod":
        _pod(session, spec, status)
    elif ref.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        _workload(session, spec, status)
    elif ref.kind == "Service":
        await _service(session, obj)
    else:
        for section in ("spec", "status", "data"):
            if obj.get(section):
                session.console.out(f"{section.capitalize()}:", highlight=False)
                session.console.out(_indent(to_yaml(obj[section])), highlight=False)
    await _events(session, obj)


def _indent(text: str, by: int = 2) -> str:
    return "\n".join(" " * by + line for line in text.rstrip("\n").splitlines())


def _pod(session: Session, spec: Obj, status: Obj) -> None:
    _field(session, "Node", spec.get("nodeName"))
    _field(session, "Status", status.get("phase"))
    _field(session, "IP", status.get("podIP"))
    states = {c.get("name"): c for c in status.get("containerStatuses") or []}
    session.console.out("Containers:", highlight=False)
    for c in spec.get("containers") or []:
        st = states.get(c.get("name")) or {}
        state = next(iter((st.get("state") or {}).keys()), "unknown")
        session.console.out(f"  {c.get('name')}:", highlight=False)
        session.console.out(f"    Image:     {c.get('image')}", highlight=False)
        ports = ", ".join(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or []
        )
        session.console.out(f"    Ports:     {ports or '<none>'}", highlight=False)
        session.console.out(f"    State:     {state}", highlight=False)
        session.console.out(f"    Ready:     {st.get('ready', False)}", highlight=False)
        session.console.out(f"    Restarts:  {st.get('restartCount', 0)}", highlight=False)
    conditions = status.get("conditions") or []
    if conditions:
        session.console.out("Conditions:", highlight=False)
        print_rows(
            session.console,
            ["  TYPE", "STATUS"],
            [[f"  {c.get('type')}", str(c.get("status"))] for c in conditions],
            status_columns=[1],
        )


def _workload(session: Session, spec: Obj, status: Obj) -> None:
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    _field(session, "Selector", ",".join(f"{k}={v}" for k, v in selector.items()))
    _field(
        session,
        "Replicas",
        f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
        f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available",
    )
    if spec.get("strategy"):
        _field(session, "Strategy", (spec["strategy"] or {}).get("type"))
    template = spec.get("template") or {}
    session.console.out("Pod Template:", highlight=False)
    session.console.out(_indent(to_yaml(template)), highlight=False)


async def _service(session: Session, svc: Obj) -> None:
    spec = svc.get("spec") or {}
    meta = svc.get("metadata") or {}
    _field(session, "Type", spec.get("type", "ClusterIP"))
    _field(session, "Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()))
    _field(session, "ClusterIP", spec.get("clusterIP"))
    for port in spec.get("ports") or []:
        node_port = f" NodePort {port['nodePort']}" if port.get("nodePort") else ""
        _field(
            session,
            "Port",
            f"{port.get('name') or '<unset>'} {port.get('port')}/{port.get('protocol', 'TCP')} "
            f"-> {port.get('targetPort', port.get('port'))}{node_port}",
        )
    try:
        ep = await session.client.get("endpoints", meta.get("name", ""), namespace=meta.get("namespace"))
        addrs = [
            f"{a.get('ip')}:{p.get('port')}"
            for s in ep.get("subsets") or []
            for a in s.get("addresses") or []
            for p in s.get("ports") or []
        ]
        _field(session, "Endpoints", ",".join(addrs))
    except NotFoundError:
        _field(session, "Endpoints", "<none>")


async def _events(session: Session, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    selector = [f"involvedObject.name={meta.get('name')}"]
    ns = meta.get("namespace")
    if ns:
        selector.append(f"involvedObject.namespace={ns}")
    if meta.get("uid"):
        selector.append(f"involvedObject.uid={meta['uid']}")
    events_ns = ns or "default"
    try:
        events = await session.client.list(EVENTS, namespace=events_ns, field_selector=",".join(selector))
    except NotFoundError:
        events = {}
    items = sorted(
        events.get("items") or [], key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or "")
    )
    if not items:
        session.console.out("Events:         <none>", highlight=False)
        return
    session.console.out("Events:", highlight=False)
    rows = [
        [
            f"  {e.get('type', '')}",
            str(e.get("reason", "")),
            age(
                e.get("lastTimestamp")
                or e.get("eventTime")
                or (e.get("metadata") or {}).get("creationTimestamp")
            ),
            str((e.get("source") or {}).get("component") or e.get("reportingComponent") or ""),
            str(e.get("message", "")).strip(),
        ]
        for e in items
    ]
    print_rows(session.console, ["  TYPE", "REASON", "AGE", "FROM", "MESSAGE"], rows, status_columns=[0])
