"""``minikctl apply -f`` (server-side apply) and ``minikctl create -f``.

Manifests come from files, directories (every ``.yaml``/``.yml``/``.json`` in
them, sorted) or ``-`` for stdin; a file may hold several YAML documents and
``kind: List`` documents are unpacked.

``apply`` sends each object as an ``application/apply-patch+yaml`` PATCH with
``fieldManager=minikctl``: the server creates it when absent and otherwise
merges it, remembering which fields minikctl owns (``metadata.managedFields``)
so a field removed from the manifest is removed from the object. The verb
reports ``created`` when the object did not exist, ``configured`` when its
``resourceVersion`` changed and ``unchanged`` otherwise. A conflict with
another manager's fields fails unless ``--force-conflicts`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from minik.cli.errors import CLIError, explain_error
from minik.cli.printers import object_name
from minik.cli.session import Session
from minik.client.errors import NotFoundError
from minik.client.kinds import ResourceRef
from minik.client.rest import PatchType

Obj = dict[str, Any]
FIELD_MANAGER = "minikctl"
SUFFIXES = (".yaml", ".yml", ".json")


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "apply", parents=[parent], help="create or update objects from manifests (server-side apply)"
    )
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        help="file, directory or - (stdin); may be repeated",
    )
    p.add_argument("--force-conflicts", action="store_true", help="take over fields other managers own")
    p.add_argument("--dry-run", choices=["server", "none"], default="none", help="server: validate only")
    p.set_defaults(func=run_apply)
    c = sub.add_parser("create", parents=[parent], help="create objects from manifests")
    c.add_argument("-f", "--filename", action="append", required=True, help="file, directory or - (stdin)")
    c.add_argument("--dry-run", choices=["server", "none"], default="none", help="server: validate only")
    c.set_defaults(func=run_create)


def load_manifests(paths: list[str]) -> list[Obj]:
    """Every object in the given files/directories/stdin, in order."""
    docs: list[Obj] = []
    for path in paths:
        if path == "-":
            docs.extend(_parse(sys.stdin.read(), "<stdin>"))
            continue
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix in SUFFIXES and f.is_file())
        elif p.is_file():
            files = [p]
        else:
            raise CLIError(
                f'the path "{path}" does not exist', hint="pass a file, a directory or - for stdin"
            )
        for file in files:
            docs.extend(_parse(file.read_text(), str(file)))
    if not docs:
        raise CLIError("no objects passed to apply", hint="the manifests are empty")
    return docs


def _parse(text: str, source: str) -> list[Obj]:
    try:
        raw = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise CLIError(f"{source} is not valid YAML: {exc}") from exc
    out: list[Obj] = []
    for doc in raw:
        if not isinstance(doc, dict):
            raise CLIError(
                f"{source}: every document must be a mapping (an object), got {type(doc).__name__}"
            )
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out.extend(doc["items"])
            continue
        if not doc.get("apiVersion") or not doc.get("kind"):
            raise CLIError(
                f"{source}: an object is missing apiVersion or kind",
                hint="every manifest needs apiVersion, kind and metadata.name",
            )
        if not (doc.get("metadata") or {}).get("name") and not (doc.get("metadata") or {}).get(
            "generateName"
        ):
            raise CLIError(f"{source}: a {doc['kind']} has no metadata.name")
        out.append(doc)
    return out


async def _place(session: Session, obj: Obj) -> tuple[ResourceRef, str | None]:
    ref = await session.resolve_kind(str(obj["apiVersion"]), str(obj["kind"]))
    meta = obj.setdefault("metadata", {})
    if not ref.namespaced:
        return ref, None
    ns = meta.get("namespace") or session.namespace
    if session.namespace_flag and meta.get("namespace") and meta["namespace"] != session.namespace_flag:
        raise CLIError(
            f'the namespace of {obj["kind"]} "{meta.get("name")}" ({meta["namespace"]}) does not match '
            f"the namespace from -n ({session.namespace_flag})"
        )
    meta["namespace"] = ns
    return ref, str(ns)


async def _each(session: Session, docs: list[Obj], action: Any) -> int:
    failures = 0
    for obj in docs:
        try:
            message = await action(obj)
            session.console.out(message, highlight=False)
        except Exception as exc:  # one bad object must not stop the others
            failures += 1
            msg, hint = explain_error(exc, server=session.known_server())
            name = (obj.get("metadata") or {}).get("name")
            session.err.print(f'error: {obj.get("kind")} "{name}": {msg}', markup=False, highlight=False)
            if hint:
                session.err.print(f"  try: {hint}", markup=False, highlight=False)
    return 1 if failures else 0


async def run_apply(session: Session, args: argparse.Namespace) -> int:
    docs = load_manifests(args.filename)
    dry = args.dry_run == "server"

    async def apply_one(obj: Obj) -> str:
        ref, ns = await _place(session, obj)
        name = str(obj["metadata"]["name"])
        try:
            before: Obj | None = await session.client.get(ref, name, namespace=ns)
        except NotFoundError:
            before = None
        after = await session.client.patch(
            ref,
            name,
            obj,
            namespace=ns,
            type=PatchType.APPLY,
            field_manager=FIELD_MANAGER,
            force=True if args.force_conflicts else None,
            dry_run=dry,
        )
        if before is None:
            verb = "created"
        elif (before.get("metadata") or {}).get("resourceVersion") == (after.get("metadata") or {}).get(
            "resourceVersion"
        ):
            verb = "unchanged"
        else:
            verb = "configured"
        return f"{object_name(ref, after)} {verb}{' (server dry run)' if dry else ''}"

    return await _each(session, docs, apply_one)


async def run_create(session: Session, args: argparse.Namespace) -> int:
    docs = load_manifests(args.filename)

    async def create_one(obj: Obj) -> str:
        ref, ns = await _place(session, obj)
        created = await session.client.create(
            ref, obj, namespace=ns, field_manager=FIELD_MANAGER, dry_run=args.dry_run == "server"
        )
        return f"{object_name(ref, created)} created"

    return await _each(session, docs, create_one)
