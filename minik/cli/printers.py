"""Output: aligned tables from the server's ``Table``, YAML/JSON/name, status colours.

``minikctl get`` does not know how to print a Deployment: like kubectl it asks
the server for a ``meta.k8s.io/v1`` ``Table`` (see
``minik/apiserver/tables.py``) and aligns its cells, priority-0 columns by
default and every column with ``-o wide``. Columns are separated by three
spaces, as kubectl does, so scripts that ``awk`` kubectl output work here.

Colour is for people only: a ``STATUS`` cell is green when healthy
(``Running``, ``Ready``, ``Completed``), yellow while on its way (``Pending``,
``ContainerCreating``, ``Terminating``), red when broken (``CrashLoopBackOff``,
``Error``, ``NotReady``). :class:`rich.console.Console` emits no escape codes
when stdout is not a terminal, so piped output is plain text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import yaml
from rich.console import Console
from rich.text import Text

from minik.client.kinds import ResourceRef

Obj = dict[str, Any]

GOOD = {"running", "ready", "completed", "succeeded", "active", "bound", "true", "available", "normal"}
BAD_WORDS = (
    "error",
    "backoff",
    "fail",
    "notready",
    "oomkilled",
    "evicted",
    "invalid",
    "unknown",
    "lost",
    "warning",
    "false",
)
PENDING_WORDS = ("pending", "creating", "terminating", "init:", "podinitializing", "waiting", "progressing")
STATUS_COLUMNS = {"status", "type"}


def status_style(value: str) -> str | None:
    """The rich style for a status-like cell, or None to leave it plain."""
    v = value.lower().replace(" ", "")
    if not v:
        return None
    if any(w in v for w in BAD_WORDS):
        return "red"
    if any(w in v for w in PENDING_WORDS):
        return "yellow"
    if v in GOOD or v.split(",")[0] in GOOD:
        return "green"
    return None


def cell_text(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)


def print_rows(
    console: Console,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    status_columns: Iterable[int] = (),
    show_header: bool = True,
    widths: list[int] | None = None,
) -> list[int]:
    """Print aligned columns; colour the cells in ``status_columns``. Returns the widths used."""
    all_rows = [list(r) for r in rows]
    if widths is None:
        widths = [len(h) for h in header]
        for row in all_rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
    coloured = set(status_columns)
    lines = ([list(header)] if show_header else []) + all_rows
    for row in lines:
        text = Text()
        last = len(row) - 1
        for i, cell in enumerate(row):
            padded = cell if i == last else cell.ljust(widths[i] if i < len(widths) else len(cell)) + "   "
            is_header = show_header and row is lines[0]
            style = status_style(cell) if i in coloured and not is_header else None
            text.append(padded, style=style)
        console.print(text, soft_wrap=True)
    return widths


def table_layout(
    table: Obj, *, wide: bool, namespace_column: bool, kind_prefix: str = "", show_labels: bool = False
) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, status column indexes) for a server ``Table``."""
    columns = [c for c in table.get("columnDefinitions") or [] if wide or int(c.get("priority", 0)) == 0]
    keep = [
        i
        for i, c in enumerate(table.get("columnDefinitions") or [])
        if wide or int(c.get("priority", 0)) == 0
    ]
    header = [str(c["name"]).upper() for c in columns]
    rows: list[list[str]] = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        values = [cell_text(cells[i]) if i < len(cells) else "" for i in keep]
        meta = ((row.get("object") or {}).get("metadata")) or {}
        if kind_prefix and values:
            values[0] = f"{kind_prefix}/{values[0]}"
        if namespace_column:
            values.insert(0, str(meta.get("namespace", "")))
        if show_labels:
            labels = meta.get("labels") or {}
            values.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        rows.append(values)
    if namespace_column:
        header.insert(0, "NAMESPACE")
    if show_labels:
        header.append("LABELS")
    status_idx = [i for i, h in enumerate(header) if h.lower() in STATUS_COLUMNS]
    return header, rows, status_idx


def clean(obj: Obj) -> Obj:
    """The object as users want to read it: without ``managedFields``."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()


def object_name(ref: ResourceRef, obj: Obj) -> str:
    """``pod/web-1``, ``deployment.apps/web`` (what ``-o name`` prints)."""
    kind = f"{ref.kind.lower()}.{ref.group}" if ref.group else ref.kind.lower()
    return f"{kind}/{(obj.get('metadata') or {}).get('name', '')}"


def print_objects(
    console: Console, output: str, objs: list[tuple[ResourceRef, Obj]], *, single: bool
) -> None:
    """``-o yaml|json|name``: one object as itself, several as a ``v1`` ``List``."""
    if output == "name":
        for ref, obj in objs:
            console.out(object_name(ref, obj), highlight=False)
        return
    items = [clean(obj) for _, obj in objs]
    doc: Any = (
        items[0]
        if single and len(items) == 1
        else {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": items,
        }
    )
    text = to_yaml(doc) if output == "yaml" else to_json(doc)
    console.out(text.rstrip("\n"), highlight=False)
