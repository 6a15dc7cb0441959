"""Field validation: what happens to a field the schema does not know.

Upstream decodes every request body into Go structs, and a JSON key that matches
no struct field simply has nowhere to go. Since Kubernetes 1.27 the client chooses
what the server does about it with the ``fieldValidation`` query parameter of
create, update and patch:

=========  ===============================================================
``Strict``  400 BadRequest naming every problem:
            ``strict decoding error: unknown field "spec.replicaz"``
``Warn``    the write succeeds without the field, and the response carries
            one ``Warning: 299 - "unknown field \\"spec.replicaz\\""`` header
            per problem (kubectl prints them as ``Warning: ...``)
``Ignore``  the field is dropped silently (the behaviour before 1.25)
=========  ===============================================================

Without the parameter upstream uses ``Warn``; ``kubectl`` always sends ``Strict``
(unless told ``--validate=warn|false``). Besides unknown fields, a key given twice
in one JSON or YAML object (``duplicate field "replicas"``) is a problem too.

minik walks the body against the compiled schema of its kind (see
``schemas.Node``): a struct's keys must be among its fields, a map's values and a
list's items are walked with their element type, scalars and raw JSON are leaves.
Unknown fields are always removed from what is stored, exactly as upstream's
decoding into structs loses them. Duplicate keys are only looked for when the
client asked for ``Strict`` or ``Warn`` explicitly: finding them in JSON needs a
slower, key-by-key parse (upstream's default of Warn would make every request pay
it); ``decoding.py`` does that parse and YAML's. Warnings reach the client as
``Warning`` headers, encoded by ``warning.py``.
"""

from __future__ import annotations

from typing import Any

from minik.api import errors
from minik.apiserver.schemas import LIST, MAP, STRUCT, Node

Obj = dict[str, Any]

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
DIRECTIVES = (STRICT, WARN, IGNORE)


def directive(query: dict[str, str]) -> tuple[str, bool]:
    """The requested directive and whether the client named one (absent → Warn)."""
    value = query.get("fieldValidation")
    if not value:
        return WARN, False
    for d in DIRECTIVES:  # upstream accepts any capitalisation
        if value.lower() == d.lower():
            return d, True
    raise errors.bad_request(
        f'fieldValidation: Unsupported value: "{value}": supported values: "Ignore", "Strict", "Warn"'
    )


# -- unknown fields ----------------------------------------------------------------------------


def _walk(value: Any, node: Node, path: str, out: list[str]) -> None:
    kind = node.kind
    if kind == STRUCT:
        if not isinstance(value, dict):
            return
        fields = node.fields
        unknown = None
        for k, v in value.items():
            child = fields.get(k)
            if child is None:
                if unknown is None:
                    unknown = []
                unknown.append(k)
                out.append(f"{path}{k}")  # reported in document order...
            elif v is not None and child.kind in (STRUCT, MAP, LIST):
                _walk(v, child, f"{path}{k}.", out)
        if unknown:
            for k in unknown:  # ...and dropped once the walk over this object is done
                del value[k]
    elif kind == MAP:
        if isinstance(value, dict) and node.elem is not None and node.elem.kind in (STRUCT, MAP, LIST):
            for k, v in value.items():
                _walk(v, node.elem, f"{path}{k}.", out)
    elif (
        kind == LIST
        and isinstance(value, list)
        and node.elem is not None
        and node.elem.kind in (STRUCT, MAP, LIST)
    ):
        base = path[:-1]
        for i, v in enumerate(value):
            _walk(v, node.elem, f"{base}[{i}].", out)


def prune_unknown(obj: Obj, node: Node | None) -> list[str]:
    """Remove every field ``node`` does not know from ``obj``; return their paths."""
    if node is None:
        return []
    out: list[str] = []
    _walk(obj, node, "", out)
    return out


# -- the verdict -------------------------------------------------------------------------------


def problems(unknown: list[str], duplicates: list[str]) -> list[str]:
    return [f'duplicate field "{d}"' for d in duplicates] + [f'unknown field "{u}"' for u in unknown]


def enforce(kind: str, version: str, mode: str, found: list[str]) -> list[str]:
    """Raise for Strict; return the warnings to send for Warn; nothing for Ignore."""
    if not found:
        return []
    if mode == STRICT:
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: '
            f"strict decoding error: {', '.join(found)}"
        )
    if mode == WARN:
        return found
    return []
