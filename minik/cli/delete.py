"""``minikctl delete``: by name, by ``-l`` selector, ``--all``, or what ``-f`` manifests name.

Deletion in Kubernetes is often not immediate: a pod on a node is first marked
(``deletionTimestamp``) and removed when its kubelet has stopped it; an object
with finalizers waits for whoever owns them; ``--cascade=foreground`` waits for
the dependents. So, like kubectl, ``delete`` sends every DELETE first, then
waits (with a spinner) until each object is gone — gone meaning a GET answers
404 *or* returns an object with another uid (it was re-created under the same
name). ``--wait=false`` returns right after the DELETEs.

``--cascade`` maps to ``propagationPolicy``: ``background`` (the default: the
garbage collector deletes dependents afterwards), ``foreground`` (dependents
first) or ``orphan`` (dependents stay). ``--grace-period`` sets
``gracePeriodSeconds`` (0 with ``--force`` for an immediate delete).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from minik.cli.apply import load_manifests
from minik.cli.errors import CLIError, not_found
from minik.cli.session import Session, kind_name
from minik.cli.targets import ns_for, parse_targets
from minik.client.errors import NotFoundError
from minik.client.kinds import ResourceRef

CASCADE = {
    "background": "Background",
    "foreground": "Foreground",
    "orphan": "Orphan",
    "true": "Background",
    "false": "Orphan",
}


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("delete", parents=[parent], help="delete objects and wait until they are gone")
    p.add_argument("targets", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    p.add_argument("-f", "--filename", action="append", help="delete what these manifests name")
    p.add_argument("-l", "--selector", help="delete every object matching this label selector")
    p.add_argument("--all", action="store_true", help="delete every object of the type in the namespace")
    p.add_argument("--grace-period", type=int, help="seconds the pod gets to stop (0 with --force: now)")
    p.add_argument("--force", action="store_true", help="with --grace-period=0: do not wait for the kubelet")
    p.add_argument(
        "--cascade",
        default="background",
        choices=sorted(CASCADE),
        help="what happens to dependents (background, foreground, orphan)",
    )
    p.add_argument(
        "--wait", default="true", choices=["true", "false"], help="wait until the objects are gone"
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    p.add_argument("--ignore-not-found", action="store_true", help="a missing object is not an error")
    p.set_defaults(func=run)


async def _collect(session: Session, args: argparse.Namespace) -> list[tuple[ResourceRef, str | None, str]]:
    found: list[tuple[ResourceRef, str | None, str]] = []
    if args.filename:
        for obj in load_manifests(args.filename):
            ref = await session.resolve_kind(str(obj["apiVersion"]), str(obj["kind"]))
            ns = (obj.get("metadata") or {}).get("namespace") or session.namespace if ref.namespaced else None
            found.append((ref, ns, str(obj["metadata"]["name"])))
        return found
    for ref, names in await parse_targets(session, args.targets, verb="delete"):
        ns = ns_for(ref, session)
        if names:
            found.extend((ref, ns, n) for n in names)
        elif args.selector or args.all:
            items = (await session.client.list(ref, namespace=ns, label_selector=args.selector)).get(
                "items"
            ) or []
            found.extend((ref, ns, str(i["metadata"]["name"])) for i in items)
        else:
            raise CLIError(
                "resource(s) were provided, but no name was specified",
                hint=f"minikctl delete {ref.plural} NAME, or -l SELECTOR, or --all",
            )
    return found


async def run(session: Session, args: argparse.Namespace) -> int:
    targets = await _collect(session, args)
    if not targets:
        session.err.print("No resources found", highlight=False)
        return 0
    grace = args.grace_period
    if args.force and grace is None:
        grace = 0
    waiting: list[tuple[ResourceRef, str | None, str, str]] = []
    for ref, ns, name in targets:
        try:
            obj = await session.client.get(ref, name, namespace=ns)
            await session.client.delete(
                ref,
                name,
                namespace=ns,
                grace_period_seconds=grace,
                propagation_policy=CASCADE[args.cascade],
                preconditions={"uid": obj["metadata"]["uid"]},
            )
        except NotFoundError:
            if args.ignore_not_found:
                continue
            raise not_found(ref.plural, name, ns) from None
        session.console.out(f'{kind_name(ref)} "{name}" deleted', highlight=False)
        waiting.append((ref, ns, name, str(obj["metadata"]["uid"])))
    if args.wait == "true" and waiting:
        await wait_gone(session, waiting, args.timeout)
    return 0


async def wait_gone(
    session: Session, objs: list[tuple[ResourceRef, str | None, str, str]], timeout: float
) -> None:
    """Poll until every object is gone (404 or a new uid); a spinner shows what is left."""
    deadline = time.monotonic() + timeout
    left = list(objs)
    with session.err.status(f"waiting for {len(left)} object(s) to be deleted...", spinner="dots") as status:
        while left:
            still = []
            for ref, ns, name, uid in left:
                try:
                    obj = await session.client.get(ref, name, namespace=ns)
                except NotFoundError:
                    continue
                if obj["metadata"].get("uid") == uid:
                    still.append((ref, ns, name, uid))
            left = still
            if not left:
                break
            if time.monotonic() > deadline:
                names = ", ".join(f"{kind_name(r)}/{n}" for r, _, n, _ in left)
                raise CLIError(
                    f"timed out after {timeout:g}s waiting for {names} to be deleted",
                    hint="finalizers or a missing kubelet/controller may hold it: minikctl get "
                    "-o yaml shows metadata.finalizers; --wait=false does not wait",
                )
            status.update(
                f"waiting for {kind_name(left[0][0])}/{left[0][2]}"
                + (f" and {len(left) - 1} more" if len(left) > 1 else "")
                + " to be deleted..."
            )
            await asyncio.sleep(0.25)
