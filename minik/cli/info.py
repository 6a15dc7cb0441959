"""Verbs about the server and the client: ``explain``, ``api-resources``,
``cluster-info``, ``version``, ``config view``.

``explain TYPE[.field.path]`` reads the OpenAPI v3 documents the server
publishes: ``GET /openapi/v3`` names one document per group/version, the
document's ``components.schemas`` holds every type, and the kind's schema is
the one whose ``x-kubernetes-group-version-kind`` matches. The field path is
followed through ``$ref``/``allOf``, array ``items`` and map
``additionalProperties``.

``config view`` prints the kubeconfig with secrets hidden (tokens become
``REDACTED``, certificate data ``DATA+OMITTED``) unless ``--raw``.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

import yaml

from minik import KUBERNETES_VERSION, __version__
from minik.cli.errors import CLIError
from minik.cli.printers import print_rows, to_json, to_yaml
from minik.cli.session import Session
from minik.client.errors import APIConnectionError, NotFoundError
from minik.client.kubeconfig import KubeconfigError, default_kubeconfig_path

Obj = dict[str, Any]
SECRET_KEYS = {
    "token": "REDACTED",
    "password": "REDACTED",
    "client-key-data": "DATA+OMITTED",
    "client-certificate-data": "DATA+OMITTED",
    "certificate-authority-data": "DATA+OMITTED",
}


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    e = sub.add_parser(
        "explain", parents=[parent], help="document a kind or one of its fields (from OpenAPI)"
    )
    e.add_argument("path", metavar="TYPE[.FIELD...]", help="e.g. deployment.spec.strategy")
    e.add_argument("--recursive", action="store_true", help="list every nested field")
    e.set_defaults(func=run_explain)
    a = sub.add_parser("api-resources", parents=[parent], help="list the resource types the server serves")
    a.add_argument("-o", "--output", choices=["wide", "name"], help="wide adds verbs and categories")
    a.add_argument("--namespaced", choices=["true", "false"], help="only namespaced (true) or cluster-scoped")
    a.add_argument("--api-group", help="only this API group ('' for the core group)")
    a.set_defaults(func=run_api_resources)
    c = sub.add_parser("cluster-info", parents=[parent], help="where the control plane and DNS are")
    c.set_defaults(func=run_cluster_info)
    v = sub.add_parser("version", parents=[parent], help="client and server versions")
    v.add_argument("--client", action="store_true", help="the client version only")
    v.add_argument("-o", "--output", choices=["yaml", "json"], help="print as data")
    v.set_defaults(func=run_version)
    cfg = sub.add_parser("config", parents=[parent], help="kubeconfig: view")
    cs = cfg.add_subparsers(dest="config_verb", required=True, metavar="view")
    view = cs.add_parser("view", parents=[parent], help="print the kubeconfig (secrets redacted)")
    view.add_argument("--raw", action="store_true", help="do not redact tokens and certificate data")
    view.add_argument("--minify", action="store_true", help="only what the current context uses")
    view.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    view.set_defaults(func=run_config_view)


# -- explain --------------------------------------------------------------------------------------


async def run_explain(session: Session, args: argparse.Namespace) -> int:
    type_name, *fields = args.path.split(".")
    ref = await session.resolve(type_name)
    key = f"apis/{ref.group}/{ref.version}" if ref.group else f"api/{ref.version}"
    index = await session.get_json("/openapi/v3")
    entry = (index.get("paths") or {}).get(key)
    if not entry:
        raise CLIError(f"the server publishes no OpenAPI document for {key}")
    doc = await session.get_json(entry["serverRelativeURL"])
    schemas: dict[str, Obj] = (doc.get("components") or {}).get("schemas") or {}
    kind_schema = next(
        (
            s
            for s in schemas.values()
            if any(
                g.get("group", "") == ref.group
                and g.get("version") == ref.version
                and g.get("kind") == ref.kind
                for g in s.get("x-kubernetes-group-version-kind") or []
            )
        ),
        None,
    )
    if kind_schema is None:
        raise CLIError(f"no schema for {ref.kind} in {key}")
    schema, type_label = kind_schema, ref.kind
    walked: list[str] = []
    for field in fields:
        props = _resolve(schema, schemas).get("properties") or {}
        if field not in props:
            where = ".".join([type_name, *walked]) or type_name
            raise CLIError(
                f'field "{field}" does not exist in {where}',
                hint=f"minikctl explain {where} lists its fields",
            )
        walked.append(field)
        schema = props[field]
        type_label = _type_name(schema, schemas)
    out = session.console
    out.out(f"GROUP:      {ref.group}\nKIND:       {ref.kind}\nVERSION:    {ref.version}\n", highlight=False)
    if fields:
        out.out(f"FIELD: {fields[-1]} <{type_label}>\n", highlight=False)
    resolved = _resolve(schema, schemas)
    description = schema.get("description") or resolved.get("description") or "<empty>"
    out.out("DESCRIPTION:", highlight=False)
    out.out(_wrap(description, 4), highlight=False)
    props = resolved.get("properties") or {}
    if props:
        out.out("\nFIELDS:", highlight=False)
        _fields(session, props, schemas, set(resolved.get("required") or []), 2, args.recursive, set())
    return 0


def _wrap(text: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(
        textwrap.fill(p, width=80, initial_indent=pad, subsequent_indent=pad) if p else ""
        for p in text.split("\n")
    )


def _resolve(schema: Obj, schemas: dict[str, Obj]) -> Obj:
    seen = 0
    while seen < 20:
        seen += 1
        if "$ref" in schema:
            schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
        elif schema.get("allOf") and len(schema["allOf"]) == 1:
            schema = {**{k: v for k, v in schema.items() if k != "allOf"}, **schema["allOf"][0]}
        elif schema.get("type") == "array" and "items" in schema and "properties" not in schema:
            schema = schema["items"]
        elif (
            schema.get("type") == "object"
            and isinstance(schema.get("additionalProperties"), dict)
            and "properties" not in schema
        ):
            schema = schema["additionalProperties"]
        else:
            break
    return schema


def _type_name(schema: Obj, schemas: dict[str, Obj]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1].rsplit(".", 1)[-1])
    if schema.get("allOf") and len(schema["allOf"]) == 1:
        return _type_name(schema["allOf"][0], schemas)
    kind = schema.get("type")
    if kind == "array":
        return "[]" + _type_name(schema.get("items") or {}, schemas)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map[string]" + _type_name(schema["additionalProperties"], schemas)
    if (kind == "string" and schema.get("format") == "int-or-string") or schema.get(
        "x-kubernetes-int-or-string"
    ):
        return "IntOrString"
    return str(kind or "Object")


def _fields(
    session: Session,
    props: dict[str, Obj],
    schemas: dict[str, Obj],
    required: set[str],
    indent: int,
    recursive: bool,
    seen: set[str],
) -> None:
    for name in sorted(props):
        schema = props[name]
        label = _type_name(schema, schemas)
        req = " -required-" if name in required else ""
        session.console.out(f"{' ' * indent}{name}\t<{label}>{req}", highlight=False)
        resolved = _resolve(schema, schemas)
        if recursive:
            sub = resolved.get("properties") or {}
            if sub and label not in seen:
                _fields(
                    session,
                    sub,
                    schemas,
                    set(resolved.get("required") or []),
                    indent + 2,
                    True,
                    seen | {label},
                )
            continue
        desc = (schema.get("description") or resolved.get("description") or "").split("\n")[0]
        if desc:
            session.console.out(_wrap(desc, indent + 2), highlight=False)
        session.console.out("", highlight=False)


# -- api-resources, cluster-info, version -----------------------------------------------------------


async def run_api_resources(session: Session, args: argparse.Namespace) -> int:
    rows = []
    for res in sorted(await session.discovery(), key=lambda r: (r.ref.group, r.ref.plural)):
        ref = res.ref
        if args.namespaced and (ref.namespaced != (args.namespaced == "true")):
            continue
        if args.api_group is not None and ref.group != args.api_group:
            continue
        if args.output == "name":
            session.console.out(ref.group_resource, highlight=False)
            continue
        row = [ref.plural, ",".join(ref.short_names), ref.api_version, str(ref.namespaced).lower(), ref.kind]
        if args.output == "wide":
            row += [",".join(res.verbs), ",".join(res.categories)]
        rows.append(row)
    if args.output != "name":
        header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if args.output == "wide":
            header += ["VERBS", "CATEGORIES"]
        print_rows(session.console, header, rows)
    return 0


async def run_cluster_info(session: Session, args: argparse.Namespace) -> int:
    server = session.config.server
    ready = await session.raw("GET", "/readyz", accept="text/plain")
    session.console.out(
        f"Kubernetes control plane is running at {server} (readyz: {ready.text.strip() or 'ok'})",
        highlight=False,
    )
    try:
        dns = await session.client.get("services", "kube-dns", namespace="kube-system")
        ports = ",".join(
            f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in dns["spec"].get("ports") or []
        )
        session.console.out(
            f"Cluster DNS (kube-system/kube-dns) is at {dns['spec'].get('clusterIP')} {ports}",
            highlight=False,
        )
    except NotFoundError:
        session.console.out("Cluster DNS: no kube-dns Service in kube-system", highlight=False)
    nodes = (await session.client.list("nodes")).get("items") or []
    session.console.out(
        f"Nodes: {len(nodes)} ({', '.join(n['metadata']['name'] for n in nodes) or 'none yet'})",
        highlight=False,
    )
    return 0


async def run_version(session: Session, args: argparse.Namespace) -> int:
    client = {"minikctl": __version__, "kubernetes": KUBERNETES_VERSION}
    server: Obj | None = None
    error: BaseException | None = None
    if not args.client:
        try:
            server = await session.get_json("/version")
        except (APIConnectionError, KubeconfigError) as exc:
            error = exc
    if args.output:
        doc: Obj = {"clientVersion": client}
        if server is not None:
            doc["serverVersion"] = server
        session.console.out(
            (to_yaml(doc) if args.output == "yaml" else to_json(doc)).rstrip(), highlight=False
        )
    else:
        session.console.out(
            f"Client Version: minikctl {__version__} (speaks Kubernetes {KUBERNETES_VERSION})",
            highlight=False,
        )
        if server is not None:
            session.console.out(f"Server Version: {server.get('gitVersion', '<unknown>')}", highlight=False)
    if error is not None:
        raise error
    return 0


# -- config view ----------------------------------------------------------------------------------


def redact(value: Any) -> Any:
    """A copy of a kubeconfig document with secrets replaced (see module docs)."""
    if isinstance(value, dict):
        return {k: (SECRET_KEYS[k] if k in SECRET_KEYS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


async def run_config_view(session: Session, args: argparse.Namespace) -> int:
    path = Path(session.kubeconfig) if session.kubeconfig else default_kubeconfig_path()
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from exc
    if args.minify:
        current = session.context or doc.get("current-context")
        ctx = next((c for c in doc.get("contexts") or [] if c.get("name") == current), None)
        if ctx is None:
            raise CLIError(f"no context named {current!r} in {path}")
        body = ctx.get("context") or {}
        doc = {
            **doc,
            "current-context": current,
            "contexts": [ctx],
            "clusters": [c for c in doc.get("clusters") or [] if c.get("name") == body.get("cluster")],
            "users": [u for u in doc.get("users") or [] if u.get("name") == body.get("user")],
        }
    if not args.raw:
        doc = redact(doc)
    text = to_yaml(doc) if args.output == "yaml" else to_json(doc)
    session.console.out(text.rstrip(), highlight=False)
    return 0
