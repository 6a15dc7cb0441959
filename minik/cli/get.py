"""``minikctl get``: list or fetch objects, printed by the server (``Table``) or as data.

The table view asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and aligns what comes back (:mod:`minik.cli.printers`); ``-o yaml|json|name``
asks for the objects themselves. ``-w`` prints the list, then opens a watch
from the list's ``resourceVersion`` with the same Accept header: each event's
object is a one-row ``Table``, printed as a new line under the first ones.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import orjson

from minik.cli.errors import CLIError, not_found
from minik.cli.printers import print_objects, print_rows, table_layout
from minik.cli.session import TABLE_ACCEPT, Session, error_response
from minik.cli.targets import ns_for, parse_targets
from minik.client.errors import APIConnectionError, NotFoundError
from minik.client.kinds import ResourceRef
from minik.client.rest import split_lines

Obj = dict[str, Any]


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "get",
        parents=[parent],
        help="list objects or show some by name",
        description="List objects (TYPE) or show named ones (TYPE NAME..., TYPE/NAME...).",
    )
    p.add_argument("targets", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    p.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"], help="output format")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, print changes as they happen")
    p.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.set_defaults(func=run)


async def run(session: Session, args: argparse.Namespace) -> int:
    targets = await parse_targets(session, args.targets, verb="get")
    table_mode = args.output in (None, "wide")
    multi = len(targets) > 1
    found_any = False
    collected: list[tuple[ResourceRef, Obj]] = []
    single = len(targets) == 1 and len(targets[0][1]) == 1
    tables_printed = 0
    for ref, names in targets:
        ns = ns_for(ref, session, args.all_namespaces)
        params = _params(args)
        if table_mode:
            table = await _fetch(session, ref, ns, names, params, accept=TABLE_ACCEPT)
            if not table.get("rows"):
                continue
            found_any = True
            header, rows, status = table_layout(
                table,
                wide=args.output == "wide",
                namespace_column=args.all_namespaces and ref.namespaced,
                kind_prefix=_kind(ref) if multi else "",
                show_labels=args.show_labels,
            )
            if tables_printed:
                session.console.out("")
            tables_printed += 1
            widths = print_rows(session.console, header, rows, status_columns=status)
            if args.watch:
                rv = str((table.get("metadata") or {}).get("resourceVersion") or "")
                await _watch_table(session, ref, ns, params, rv, args, widths, names)
        else:
            doc = await _fetch(session, ref, ns, names, params, accept="application/json")
            items = doc.get("items") if doc.get("kind", "").endswith("List") and "items" in doc else [doc]
            collected.extend((ref, item) for item in items or [])
            found_any = found_any or bool(items)
            if args.watch:
                print_objects(session.console, args.output, collected, single=False)
                collected = []
                rv = str((doc.get("metadata") or {}).get("resourceVersion") or "")
                async with session.client.watch(
                    ref,
                    namespace=ns,
                    label_selector=args.selector,
                    field_selector=args.field_selector,
                    resource_version=rv,
                    allow_watch_bookmarks=False,
                    timeout_seconds=_watch_timeout(session),
                ) as events:
                    async for _, obj in events:
                        print_objects(session.console, args.output, [(ref, obj)], single=True)
    if not table_mode and collected:
        print_objects(session.console, args.output, collected, single=single)
    if not found_any and not args.watch:
        where = (
            ""
            if args.all_namespaces or not any(r.namespaced for r, _ in targets)
            else f" in {session.namespace} namespace"
        )
        session.err.print(f"No resources found{where}.")
    return 0


def _kind(ref: ResourceRef) -> str:
    return f"{ref.kind.lower()}.{ref.group}" if ref.group else ref.kind.lower()


def _params(args: argparse.Namespace) -> dict[str, str]:
    params: dict[str, str] = {}
    if args.selector:
        params["labelSelector"] = args.selector
    if args.field_selector:
        params["fieldSelector"] = args.field_selector
    return params


async def _fetch(
    session: Session,
    ref: ResourceRef,
    ns: str | None,
    names: list[str],
    params: dict[str, str],
    *,
    accept: str,
) -> Obj:
    """The collection (or the named objects merged into one) as a Table or a List."""
    if not names:
        result: Obj = await session.get_json(ref.path(namespace=ns), params=params, accept=accept)
        return result
    merged: Obj | None = None
    for name in names:
        try:
            one: Obj = await session.get_json(ref.path(namespace=ns, name=name), accept=accept)
        except NotFoundError:
            raise not_found(ref.plural, name, ns) from None
        if one.get("kind") == "Table":
            if merged is None:
                merged = one
            else:
                merged["rows"].extend(one.get("rows") or [])
        else:
            if merged is None:
                merged = {"kind": "List", "items": []}
            merged["items"].append(one)
    assert merged is not None
    return merged


def _watch_timeout(session: Session) -> int | None:
    return int(session.watch_timeout) if session.watch_timeout else None


async def _watch_table(
    session: Session,
    ref: ResourceRef,
    ns: str | None,
    params: dict[str, str],
    rv: str,
    args: argparse.Namespace,
    widths: list[int],
    names: list[str],
) -> None:
    query = {**params, "watch": "true", "resourceVersion": rv}
    if names:
        query["fieldSelector"] = ",".join(f"metadata.name={n}" for n in names[:1])
    timeout = _watch_timeout(session)
    if timeout:
        query["timeoutSeconds"] = str(timeout)
    try:
        async with session.http.stream(
            "GET",
            ref.path(namespace=ns),
            params=query,
            headers={"Accept": TABLE_ACCEPT},
            timeout=httpx.Timeout(30.0, read=None),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_response(response)
            async for line in split_lines(response.aiter_bytes()):
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    raise CLIError(str((event.get("object") or {}).get("message", "watch failed")))
                if event.get("type") == "BOOKMARK":
                    continue
                table = event.get("object") or {}
                if table.get("kind") != "Table":
                    continue
                _, rows, status = table_layout(
                    table,
                    wide=args.output == "wide",
                    namespace_column=args.all_namespaces and ref.namespaced,
                    show_labels=args.show_labels,
                )
                print_rows(session.console, [], rows, status_columns=status, show_header=False, widths=widths)
    except httpx.TransportError as exc:
        raise APIConnectionError(f"watch {ref}: {exc}") from exc
