"""Server-side apply and field ownership (``metadata.managedFields``).

With client-side apply (``kubectl apply``) the *client* computes a patch from three
versions of the object. Server-side apply (``kubectl apply --server-side``, Content-Type
``application/apply-patch+yaml``) moves that to the server, and makes ownership
explicit: every field of an object has zero or more *managers*, recorded in
``metadata.managedFields``::

    managedFields:
    - manager: kubectl            # the ?fieldManager= of the request
      operation: Apply            # Apply (a configuration) or Update (any other write)
      apiVersion: apps/v1
      time: "2026-01-01T00:00:00Z"
      fieldsType: FieldsV1
      fieldsV1:                   # a trie of the fields this manager set
        f:spec:
          f:replicas: {}
          f:template:
            f:spec:
              f:containers:
                k:{"name":"web"}: # the item of a keyed list whose name is "web"
                  .: {}           # ... the item itself
                  f:image: {}

Path elements are ``f:<field>`` (a struct field or map key), ``k:<json>`` (an item of
a list keyed by some fields, e.g. containers by ``name``), ``v:<json>`` (an item of a
set, e.g. a finalizer) and ``.`` (the node itself, when it also has children).

**Apply** of a configuration by manager M:

1. *conflicts*: a field the configuration sets to a value different from the live
   one, and that another manager owns, is a conflict: 409 naming each field and its
   owner, unless ``force=true``, which takes the field away from them;
2. *merge*: the configuration is merged into the live object: structs and maps
   field by field, keyed lists item by item, sets by value, everything else
   (``x-kubernetes-list-type: atomic`` lists, scalars) replaced;
3. *removal*: a field M applied last time, leaves out now, and nobody else owns is
   removed from the object;
4. M's entry becomes exactly the fields of the configuration.

**Update** (create, update, patch) by manager M: the fields the write changed or
added become M's and stop being anyone else's; removed fields stop being anyone's.
An update whose object carries ``managedFields`` (other than on a subresource)
replaces the recorded ones, as upstream: that is how a client rewrites ownership.

An apply that changes nothing (same fields, same values) keeps its entry's ``time``:
the object stays byte-for-byte the same and nothing is written, as upstream ignores a
change of the time alone. ``managedFields`` a client sends that do not parse (an
unknown operation, a ``k:`` key that is not a JSON object, ...) never fail a write:
as upstream, an update keeps the stored entries instead and a create drops them.

**From client-side to server-side apply** (upstream's upgrade path): an object made
with ``kubectl apply`` is owned by ``kubectl-client-side-apply`` (an Update manager)
and carries the ``kubectl.kubernetes.io/last-applied-configuration`` annotation. The
first ``kubectl apply --server-side`` (manager ``kubectl``) of a changed manifest
would conflict with that manager on every changed field. Upstream lets it through:
when every conflict is on a field the annotation holds *with the live value* (so the
field is still the user's own last client-side apply, not someone else's change),
the apply is forced. While the annotation exists, an apply by ``kubectl`` also
rewrites it to the new configuration, so a later client-side apply still computes
the right patch. kubectl then moves the client-side manager's fields into its own
entry with a JSON patch of ``managedFields`` (the Update rule above).

Where minik simplifies upstream (``structured-merge-diff``): field sets are computed
on JSON with the kind's schema (see ``schemas.Node``), there is no version
conversion, and Update ownership is tracked only for objects that already have
``managedFields`` or writes that name a ``fieldManager`` — the controllers' hot write
path (no ``fieldManager``, objects never applied) pays nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from minik.api import errors
from minik.apiserver.schemas import ANY, LIST, MAP, STRUCT, Node

Obj = dict[str, Any]
Path = tuple[str, ...]

#: The annotation client-side apply keeps its last configuration in.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: The manager of ``kubectl apply --server-side``, the only one the upgrade path serves
#: (another ``--field-manager`` opts out of it, as upstream).
UPGRADING_MANAGER = "kubectl"

#: The leaf value recorded for "this keyed-list item / set item exists".
_PRESENT = object()

#: Metadata fields the server owns; never part of anyone's field set.
_SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    }
)
_ANY_NODE = Node(ANY)


# -- field sets ----------------------------------------------------------------------------------


def _key_element(item: Obj, keys: tuple[str, ...]) -> str:
    """``k:{"name":"web"}``: the path element of a keyed list's item."""
    values = {k: _key_value(item, k) for k in keys}
    return (
        "k:"
        + orjson.dumps(
            {k: v for k, v in values.items() if v is not None}, option=orjson.OPT_SORT_KEYS
        ).decode()
    )


def _key_value(item: Obj, key: str) -> Any:
    value = item.get(key)
    if value is None and key == "protocol":
        return "TCP"  # the only defaulted key field among the built-in kinds
    return value


def _value_element(value: Any) -> str:
    return "v:" + orjson.dumps(value).decode()


def leaves(value: Any, node: Node, prefix: Path = ()) -> dict[Path, Any]:
    """Every owned path of ``value`` mapped to its value (``_PRESENT`` for list items)."""
    out: dict[Path, Any] = {}
    _leaves(value, node, prefix, out)
    return out


def _leaves(value: Any, node: Node, prefix: Path, out: dict[Path, Any]) -> None:
    kind = node.kind
    if kind in (STRUCT, MAP) and not node.atomic and isinstance(value, dict) and value:
        for k, v in value.items():
            child = node.fields.get(k) if kind == STRUCT else node.elem
            _leaves(v, child or _ANY_NODE, (*prefix, f"f:{k}"), out)
    elif kind == LIST and node.list_type == "map" and isinstance(value, list):
        elem = node.elem or _ANY_NODE
        for item in value:
            if not isinstance(item, dict):
                continue
            path = (*prefix, _key_element(item, node.keys))
            out[path] = _PRESENT
            _leaves(item, elem, path, out)
    elif kind == LIST and node.list_type == "set" and isinstance(value, list):
        for item in value:
            out[(*prefix, _value_element(item))] = _PRESENT
    elif prefix:
        out[prefix] = value


def object_leaves(obj: Obj, node: Node, subresource: str | None, has_status: bool) -> dict[Path, Any]:
    """The paths of ``obj`` that can be owned by a write to ``subresource``."""
    trimmed: Obj = {}
    if subresource == "status":
        if "status" in obj:
            trimmed["status"] = obj["status"]
    else:
        for k, v in obj.items():
            if k in ("apiVersion", "kind") or (k == "status" and has_status):
                continue
            if k == "metadata" and isinstance(v, dict):
                v = {mk: mv for mk, mv in v.items() if mk not in _SERVER_META}
                if not v:
                    continue
            trimmed[k] = v
    return leaves(trimmed, node)


def to_fields_v1(paths: Iterable[Path]) -> Obj:
    """A set of paths → the FieldsV1 trie (``.`` marks a member that has children)."""
    root: Obj = {}
    members = set(paths)
    for path in sorted(members):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = root
        for element in path:
            node = node[element]
        if node:
            node["."] = {}
    return root


class InvalidManagedFields(ValueError):
    """``managedFields`` that do not parse (a client wrote them by hand).

    Upstream never fails a write for them: an update whose managedFields are invalid
    keeps the stored ones, and a create drops them (``TestErrorsDontFail`` upstream).
    """


def from_fields_v1(trie: Any, prefix: Path = ()) -> set[Path]:
    """The paths of a FieldsV1 trie; :class:`InvalidManagedFields` when it is not one."""
    if not isinstance(trie, dict):
        raise InvalidManagedFields(f"fieldsV1 must be an object, got {type(trie).__name__}")
    out: set[Path] = set()
    for element, child in trie.items():
        if not isinstance(child, dict):
            raise InvalidManagedFields(f"fieldsV1 member {element!r} must be an object")
        if element == ".":
            out.add(prefix)
            continue
        _check_element(element)
        path = (*prefix, element)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def _check_element(element: str) -> None:
    """A path element as upstream's ``fieldpath`` reads it: ``f:``, ``k:{...}``, ``v:<json>``, ``i:<n>``."""
    kind, colon, rest = element.partition(":")
    if not colon or kind not in ("f", "k", "v", "i"):
        raise InvalidManagedFields(f"unknown path element {element!r}")
    if kind == "f":
        return
    if kind == "i":
        if not rest.lstrip("-").isdigit():
            raise InvalidManagedFields(f"path element {element!r}: the index must be an integer")
        return
    try:
        value = orjson.loads(rest)
    except orjson.JSONDecodeError:
        raise InvalidManagedFields(f"path element {element!r} does not hold JSON") from None
    if kind == "k" and not (isinstance(value, dict) and value):
        raise InvalidManagedFields(f"path element {element!r}: a key must be a non-empty JSON object")


def _keys(rest: str) -> dict[str, Any] | None:
    """The fields of a ``k:`` element, or ``None`` when it does not hold a JSON object."""
    try:
        keys = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    return keys if isinstance(keys, dict) else None


def describe_path(path: Path) -> str:
    """``.spec.template.spec.containers[name="web"].image``, as upstream words conflicts."""
    text = ""
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            text += "." + rest
        elif kind == "k":
            keys = _keys(rest)
            if keys is None:
                text += f"[{rest}]"
            else:
                text += "[" + ",".join(f"{k}={orjson.dumps(v).decode()}" for k, v in keys.items()) + "]"
        elif kind == "v":
            text += f"[={rest}]"
        else:
            text += f"[{rest}]"
    return text


# -- managedFields entries -----------------------------------------------------------------------


@dataclass
class Manager:
    manager: str
    operation: str  # "Apply" | "Update"
    api_version: str
    subresource: str
    time: str
    fields: set[Path]

    @classmethod
    def from_entry(cls, entry: Any) -> Manager:
        """One ``managedFields`` entry; :class:`InvalidManagedFields` when it is not one."""
        if not isinstance(entry, dict):
            raise InvalidManagedFields("a managedFields entry must be an object")
        texts = {k: entry.get(k, "") for k in ("manager", "apiVersion", "subresource", "time")}
        if not all(isinstance(v, str) for v in texts.values()):
            raise InvalidManagedFields("manager, apiVersion, subresource and time must be strings")
        if entry.get("operation") not in ("Apply", "Update"):
            raise InvalidManagedFields("operation must be Apply or Update")
        if entry.get("fieldsType") != "FieldsV1":
            raise InvalidManagedFields("fieldsType must be FieldsV1")
        return cls(
            manager=texts["manager"],
            operation=entry["operation"],
            api_version=texts["apiVersion"],
            subresource=texts["subresource"],
            time=texts["time"],
            fields=from_fields_v1(entry.get("fieldsV1", {})),
        )

    def to_entry(self) -> Obj:
        entry: Obj = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    def same(self, manager: str, operation: str, subresource: str) -> bool:
        return (self.manager, self.operation, self.subresource) == (manager, operation, subresource)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_managers(obj: Obj) -> list[Manager]:
    """The managers recorded in ``obj``; :class:`InvalidManagedFields` when they do not parse."""
    meta = obj.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidManagedFields("managedFields must be a list")
    return [Manager.from_entry(e) for e in entries]


def valid_managers(obj: Obj | None) -> list[Manager] | None:
    """The managers recorded in ``obj``, or ``None`` when there is none or they do not parse."""
    if obj is None:
        return None
    try:
        return read_managers(obj) or None
    except InvalidManagedFields:
        return None


def reset_invalid_managed_fields(new: Obj, old: Obj | None) -> None:
    """Replace managedFields a client sent that do not parse by the stored ones (or none).

    Upstream's field manager does this on every create, update and patch instead of
    failing the write; the writes minik does not track (no ``fieldManager``, nothing
    recorded yet) call this so that what is stored always parses.
    """
    try:
        read_managers(new)
    except InvalidManagedFields:
        write_managers(new, valid_managers(old) or [])


def write_managers(obj: Obj, managers: list[Manager]) -> None:
    entries = [m.to_entry() for m in managers if m.fields]
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def default_manager(user_agent: str) -> str:
    """Upstream names a manager that did not name itself after its User-Agent's program."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


# -- Update: ownership follows the write -----------------------------------------------------------


def track_update(
    new: Obj,
    old: Obj | None,
    node: Node,
    manager: str,
    api_version: str,
    subresource: str | None,
    has_status: bool,
) -> None:
    """Record in ``new``'s managedFields that ``manager`` made the change old → new.

    The managers start from those ``new`` carries when it carries any (a client
    rewriting ownership, e.g. kubectl's upgrade to server-side apply), else from
    ``old``'s; a subresource write always starts from ``old``'s.
    """
    managers = (valid_managers(new) if subresource is None else None) or valid_managers(old) or []
    new_leaves = object_leaves(new, node, subresource, has_status)
    old_leaves = object_leaves(old, node, subresource, has_status) if old is not None else {}
    changed = {p for p, v in new_leaves.items() if p not in old_leaves or old_leaves[p] != v}
    removed = set(old_leaves) - set(new_leaves)
    if not changed and not removed:
        write_managers(new, managers)  # keep the entries as they were (the client may have sent others)
        return
    sub = subresource or ""
    mine = None
    for m in managers:
        if m.same(manager, "Update", sub):
            mine = m
        else:
            m.fields -= changed | removed
    if mine is None:
        mine = Manager(manager, "Update", api_version, sub, _now(), set())
        managers.append(mine)
    mine.fields = (mine.fields - removed) | changed
    mine.time = _now()
    write_managers(new, managers)


# -- Apply ------------------------------------------------------------------------------------------


def _merge(live: Any, config: Any, node: Node) -> Any:
    """``config`` merged into ``live`` per the schema's merge semantics (a new value)."""
    kind = node.kind
    if kind in (STRUCT, MAP) and not node.atomic and isinstance(live, dict) and isinstance(config, dict):
        out = dict(live)
        for k, v in config.items():
            child = (node.fields.get(k) if kind == STRUCT else node.elem) or _ANY_NODE
            out[k] = _merge(live[k], v, child) if k in live else copy.deepcopy(v)
        return out
    if kind == LIST and isinstance(live, list) and isinstance(config, list):
        if node.list_type == "map":
            elem = node.elem or _ANY_NODE
            index = {_key_element(i, node.keys): n for n, i in enumerate(live) if isinstance(i, dict)}
            out_list = list(live)
            for item in config:
                if not isinstance(item, dict):
                    continue
                at = index.get(_key_element(item, node.keys))
                if at is None:
                    out_list.append(copy.deepcopy(item))
                else:
                    out_list[at] = _merge(out_list[at], item, elem)
            return out_list
        if node.list_type == "set":
            out_list = list(live)
            for item in config:
                if item not in out_list:
                    out_list.append(copy.deepcopy(item))
            return out_list
    return copy.deepcopy(config)


def _remove(obj: Any, path: Path) -> None:
    """Remove the member at ``path`` from ``obj`` (if it is there)."""
    if not path:
        return
    parent: Any = obj
    for element in path[:-1]:
        parent = _step(parent, element)
        if parent is None:
            return
    last = path[-1]
    kind, _, rest = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        parent[:] = [i for i in parent if not (isinstance(i, dict) and _matches_key(i, rest))]
    elif kind == "v" and isinstance(parent, list):
        try:
            value = orjson.loads(rest)
        except orjson.JSONDecodeError:
            return
        parent[:] = [i for i in parent if i != value]


def _matches_key(item: Obj, rest: str) -> bool:
    keys = _keys(rest)
    return keys is not None and all(_key_value(item, k) == v for k, v in keys.items())


def _step(value: Any, element: str) -> Any:
    kind, _, rest = element.partition(":")
    if kind == "f" and isinstance(value, dict):
        return value.get(rest)
    if kind == "k" and isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and _matches_key(item, rest):
                return item
    return None


def conflict_error(
    rt_plural: str, name: str, group: str, found: dict[str, list[tuple[Path, Manager]]]
) -> errors.APIError:
    """409 Conflict worded like upstream: which fields, owned by whom."""
    causes = []
    lines = []
    count = 0
    for who, items in found.items():
        paths = sorted(describe_path(p) for p, _ in items)
        count += len(paths)
        for p in paths:
            causes.append({"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": p})
        if len(paths) == 1:
            lines.append(f"conflict with {who}: {paths[0]}")
        else:
            lines.append(f"conflicts with {who}:\n" + "\n".join(f"- {p}" for p in paths))
    message = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: " + "\n".join(lines)
    details: Obj = {"name": name, "kind": rt_plural, "causes": causes}
    if group:
        details["group"] = group
    return errors.APIError(409, "Conflict", message, details=details)


def _who(m: Manager) -> str:
    who = orjson.dumps(m.manager).decode()
    if m.operation == "Update":
        who += f" using {m.api_version}"
    return who


def apply(
    live: Obj,
    config: Obj,
    node: Node,
    manager: str,
    api_version: str,
    *,
    subresource: str | None,
    has_status: bool,
    force: bool,
    rt_plural: str,
    name: str,
    group: str,
) -> Obj:
    """The object after ``manager`` applies ``config`` to ``live`` (raises 409 on conflicts)."""
    sub = subresource or ""
    managers = valid_managers(live) or []  # stored ones that do not parse are reset, as on update
    cfg_leaves = object_leaves(config, node, subresource, has_status)
    live_leaves = object_leaves(live, node, subresource, has_status)
    applied = set(cfg_leaves)

    conflicts: dict[str, list[tuple[Path, Manager]]] = {}
    mine: Manager | None = None
    for m in managers:
        if m.same(manager, "Apply", sub):
            mine = m
            continue
        if m.subresource != sub:
            continue
        for p in applied & m.fields:
            if p not in live_leaves or live_leaves[p] != cfg_leaves[p]:
                conflicts.setdefault(_who(m), []).append((p, m))
    if conflicts and not force and not _upgrade_allowed(live, conflicts, node, manager, api_version, sub):
        raise conflict_error(rt_plural, name, group, conflicts)
    for items in conflicts.values():
        for p, m in items:
            m.fields.discard(p)

    # The configuration's own metadata (labels, annotations) and spec merge into the
    # live object; what the server owns in metadata stays as it is.
    merged = _merge(
        live, {k: v for k, v in config.items() if k not in ("status",) or subresource == "status"}, node
    )
    if isinstance(config.get("metadata"), dict):
        meta = dict(merged.get("metadata") or {})
        for k in _SERVER_META:
            if k in (live.get("metadata") or {}):
                meta[k] = live["metadata"][k]
            else:
                meta.pop(k, None)
        merged["metadata"] = meta

    if mine is not None:
        # A path someone else owns, or owns something inside of, stays.
        kept: set[Path] = set()
        for m in managers:
            if m is not mine:
                for q in m.fields:
                    kept.update(q[:i] for i in range(1, len(q) + 1))
        for p in sorted(mine.fields - applied - kept, key=len, reverse=True):
            _remove(merged, p)
    if mine is None:
        mine = Manager(manager, "Apply", api_version, sub, _now(), set())
        managers.append(mine)
    elif (
        conflicts
        or (mine.fields, mine.api_version) != (applied, api_version)
        or _content(merged) != _content(live)
    ):
        mine.time = _now()
    # else: a no-op apply keeps its time, so the object is unchanged and nothing is written (as upstream)
    mine.fields = applied
    mine.api_version = api_version
    write_managers(merged, managers)
    if manager == UPGRADING_MANAGER and not sub:
        _sync_last_applied(merged, config)
    result: Obj = merged
    return result


def _content(obj: Obj) -> Obj:
    """``obj`` without its managedFields: what an apply changed, apart from the bookkeeping."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _last_applied(obj: Obj) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations")
    value = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else ""


def _upgrade_allowed(
    live: Obj,
    conflicts: dict[str, list[tuple[Path, Manager]]],
    node: Node,
    manager: str,
    api_version: str,
    sub: str,
) -> bool:
    """True when ``kubectl`` may take these fields over from client-side apply.

    Each conflicting field must be in the last-applied configuration with the value
    it has live; a field someone changed since (or that the annotation lacks) stays
    a conflict.
    """
    if manager != UPGRADING_MANAGER or sub:
        return False
    text = _last_applied(live)
    if not text:
        return False
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return False
    last_leaves = object_leaves(last, node, None, has_status=True)
    live_leaves = object_leaves(live, node, None, has_status=True)
    return all(
        p in last_leaves and p in live_leaves and last_leaves[p] == live_leaves[p]
        for items in conflicts.values()
        for p, _ in items
    )


def _sync_last_applied(merged: Obj, config: Obj) -> None:
    """Keep an existing last-applied annotation equal to what ``kubectl`` applied now."""
    if not _last_applied(merged):
        return
    applied = copy.deepcopy(config)
    annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            applied["metadata"].pop("annotations")
    text = orjson.dumps(applied, option=orjson.OPT_SORT_KEYS).decode() + "\n"
    meta = merged["metadata"]
    meta["annotations"] = {**meta["annotations"], LAST_APPLIED: text}  # a copy: never write into live


def apply_create(config: Obj, node: Node, manager: str, api_version: str, has_status: bool) -> Obj:
    """The object to create when an apply finds nothing: the configuration, owned by its manager."""
    obj = copy.deepcopy(config)
    fields = set(object_leaves(obj, node, None, has_status))
    write_managers(obj, [Manager(manager, "Apply", api_version, "", _now(), fields)])
    return obj
