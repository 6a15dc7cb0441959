"""Request bodies to JSON values, with bounds so that no body costs more than its size.

Every body the API server reads — an object to create or update, a patch of any
type, an apply configuration, ``DeleteOptions``, a ``Scale`` or a ``Binding`` —
comes through here, as JSON, YAML or Kubernetes protobuf, and leaves as what JSON
can hold: dicts with string keys, lists, strings, numbers, booleans and null.

Two kinds of body are small on the wire and huge in memory:

* **YAML aliases** (the "billion laughs"): ``&a [x, x]`` names a node and ``*a``
  repeats it, so nine lines that each repeat the previous one nine times
  describe 9**9 strings. Upstream's YAML library refuses such a document ("yaml:
  document contains excessive aliasing", CVE-2019-11253). Here every alias is
  expanded into its own copy — a stored object is a tree, never a graph — and
  the nodes those copies add are counted: beyond :data:`MAX_ALIAS_NODES` the body
  is refused before anything big is built.
* **Deep nesting**: ``[[[[...]]]]``. Upstream stops at 10,000 levels. Python
  walks objects recursively (patches, validation, field ownership) and orjson
  refuses to encode more than 254 levels, so minik stops at :data:`MAX_DEPTH` —
  far deeper than any real object (a Pod is about 10 levels, a large CRD schema
  about 40) and well inside both of those limits.

YAML is read event by event (libyaml's parser when present) and built directly
into JSON values, as upstream's ``sigs.k8s.io/yaml`` converts YAML to JSON: a
timestamp such as ``2001-12-14`` stays the string it was written as, an integer
or boolean map key becomes its text (``1: x`` → ``"1"``), and what JSON cannot
hold — a list or map as a key, ``.inf``, ``!!set``, language-specific tags —
is a 400 naming the line. The same pass notes keys that appear twice in one map,
which ``fieldValidation`` reports.

Every failure is an :class:`~minik.api.errors.APIError` 400 ``BadRequest``
(415 for a media type nobody decodes), raised before anything is written.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from minik.api import errors, protobuf

Obj = dict[str, Any]

#: The deepest a body may nest lists and maps (``{"a": 1}`` has depth 1).
MAX_DEPTH = 100
#: How many nodes all the aliases of one YAML document may add when expanded.
MAX_ALIAS_NODES = 100_000

JSON = "application/json"
#: The media types a create/update/delete body may use besides protobuf.
BODY_TYPES = (JSON, "application/yaml", "application/x-yaml", "text/yaml", "*/*")

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _BINARY, _MERGE = _TAG + "timestamp", _TAG + "binary", _TAG + "merge"
_MAP_TAGS = (None, "!", _TAG + "map")
_SEQ_TAGS = (None, "!", _TAG + "seq")
_INT64_MIN, _UINT64_END = -(2**63), 2**64


@dataclass
class Decoded:
    """A decoded body and the keys found twice in one of its maps (when asked for)."""

    value: Any
    duplicates: list[str] = field(default_factory=list)


def is_yaml(content_type: str) -> bool:
    return "yaml" in content_type


# -- the entry points --------------------------------------------------------------------------


def decode(raw: bytes, content_type: str, *, duplicates: bool = False) -> Decoded:
    """A JSON or YAML body (of any value type), bounded in depth and alias expansion.

    A YAML body that is JSON (what kubectl and most clients send for server-side
    apply) is read as JSON: faster, and numbers such as ``1e5`` are numbers, as
    upstream reads them (YAML 1.1 would see a string).
    """
    stripped = raw.strip()
    if not stripped:
        raise errors.bad_request("the request body is empty")
    what = "YAML" if is_yaml(content_type) else "JSON"
    if what == "YAML" and not stripped.startswith((b"{", b"[")):
        return decode_yaml(raw)
    try:
        value = orjson.loads(raw)  # orjson itself stops at 1024 levels
    except orjson.JSONDecodeError as e:
        if what == "YAML":
            return decode_yaml(raw)  # flow-style YAML such as {a: 1}
        raise errors.bad_request(f"error decoding JSON: {e}") from None
    # A body with fewer brackets than the limit cannot nest past it: most bodies skip the walk.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        check_depth(value, f"error decoding {what}")
    return Decoded(value, _json_duplicates(raw) if duplicates else [])


def decode_object(raw: bytes, content_type: str, *, duplicates: bool = False) -> Decoded:
    """A create/update/delete body, which must be an object: JSON, YAML or Kubernetes protobuf.

    kubectl's typed commands (``create namespace|configmap|deployment``) send
    ``application/vnd.kubernetes.protobuf``; it becomes the same dict the JSON
    would have given (``minik.api.protobuf``). Protobuf cannot repeat a field, so
    it has no duplicates to report.
    """
    if protobuf.is_protobuf(content_type):
        try:
            decoded = Decoded(protobuf.decode_body(raw))
        except (protobuf.ProtobufError, RecursionError) as e:
            raise errors.bad_request(f"error decoding protobuf: {e}") from None
        check_depth(decoded.value, "error decoding protobuf")
    elif content_type in BODY_TYPES:
        decoded = decode(raw, content_type, duplicates=duplicates)
    else:
        raise errors.unsupported_media_type(content_type)
    if not isinstance(decoded.value, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return decoded


# -- JSON --------------------------------------------------------------------------------------


def check_depth(value: Any, what: str) -> None:
    """Raise 400 if ``value`` nests lists and maps deeper than :data:`MAX_DEPTH`.

    Iterative on purpose: the point is to refuse what would exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > MAX_DEPTH:
            raise too_deep(what)
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))


def too_deep(what: str) -> errors.APIError:
    return errors.bad_request(f"{what}: exceeded max depth of {MAX_DEPTH} nested lists and maps")


def _json_duplicates(raw: bytes) -> list[str]:
    """Keys given twice in one object: only a key-by-key parse can see them (orjson keeps the last)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> Obj:
        obj: Obj = {}
        for k, v in items:
            if k in obj:
                found.append(k)
            obj[k] = v
        return obj

    try:  # the body already decoded once, within MAX_DEPTH, so this parse succeeds
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    return found


# -- YAML --------------------------------------------------------------------------------------


class _YAMLError(Exception):
    """A problem at a place in the document (its ``Mark``)."""

    def __init__(self, message: str, mark: Any = None) -> None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        super().__init__(f"{where}{message}")


class _MergeKey:
    """The ``<<`` key: its value's maps are merged into the map that holds it."""


_MERGE_KEY = _MergeKey()
_NO_KEY = object()


@dataclass
class _Frame:
    """A list or map being built, with the bookkeeping aliases and keys need."""

    value: Any
    anchor: str | None
    nodes: int = 1  # this node and everything under it, as expanded
    depth: int = 1  # levels of lists and maps, this one included
    key: Any = _NO_KEY  # in a map: the key waiting for its value
    merges: list[Any] = field(default_factory=list)


@dataclass
class _Anchored:
    value: Any
    nodes: int
    depth: int


class _Builder:
    """Builds JSON values from libyaml's events, one document, within the bounds."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchored] = {}
        self.alias_nodes = 0
        self.duplicates: list[str] = []
        self.documents = 0
        self.result: Any = None

    def run(self) -> Any:
        loader = self.loader
        handlers = {
            yaml.ScalarEvent: self.scalar_event,
            yaml.MappingStartEvent: self.mapping_start,
            yaml.SequenceStartEvent: self.sequence_start,
            yaml.MappingEndEvent: self.close,
            yaml.SequenceEndEvent: self.close,
            yaml.AliasEvent: self.alias,
            yaml.DocumentStartEvent: self.document_start,
        }
        while loader.check_event():
            event = loader.get_event()
            handler = handlers.get(type(event))
            if handler is not None:  # stream start/end and document end need nothing
                handler(event)
        return self.result

    def document_start(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise _YAMLError("expected a single document in the stream", event.start_mark)

    def scalar_event(self, event: Any) -> None:
        value = self.scalar(event)
        self.remember(event.anchor, value, 1, 0)
        self.add(value, 1, 0, event.start_mark)

    def mapping_start(self, event: Any) -> None:
        self.open(event, {}, _MAP_TAGS)

    def sequence_start(self, event: Any) -> None:
        self.open(event, [], _SEQ_TAGS)

    def open(self, event: Any, value: Any, tags: tuple[str | None, ...]) -> None:
        if event.tag not in tags:
            raise _YAMLError(
                f"unsupported YAML tag {_show(event.tag)} (JSON cannot hold it)", event.start_mark
            )
        if len(self.stack) >= MAX_DEPTH:
            raise _YAMLError(f"exceeded max depth of {MAX_DEPTH} nested lists and maps", event.start_mark)
        self.stack.append(_Frame(value, event.anchor))

    def close(self, event: Any) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict) and frame.merges:
            for merged in reversed(frame.merges):  # explicit keys win, then earlier merges
                for k, v in merged.items():
                    frame.value.setdefault(k, v)
        self.remember(frame.anchor, frame.value, frame.nodes, frame.depth)
        self.add(frame.value, frame.nodes, frame.depth, event.start_mark)

    def remember(self, anchor: str | None, value: Any, nodes: int, depth: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = _Anchored(value, nodes, depth)

    def alias(self, event: Any) -> None:
        name, mark = str(event.anchor), event.start_mark
        anchored = self.anchors.get(name)
        if anchored is None:
            if any(f.anchor == name for f in self.stack):
                raise _YAMLError(f"alias *{name} refers to a node that contains it", mark)
            raise _YAMLError(f"unknown anchor '{name}' referenced", mark)
        self.alias_nodes += anchored.nodes
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _YAMLError("document contains excessive aliasing", mark)
        if len(self.stack) + anchored.depth > MAX_DEPTH:
            raise _YAMLError(f"exceeded max depth of {MAX_DEPTH} nested lists and maps", mark)
        value = anchored.value
        if isinstance(value, (dict, list)):
            # A tree, so that changing one copy never changes another. Everything built here
            # is JSON already (and within orjson's depth), so a round trip is the fastest copy.
            value = orjson.loads(orjson.dumps(value))
        self.add(value, anchored.nodes, anchored.depth, mark)

    def add(self, value: Any, nodes: int, depth: int, mark: Any) -> None:
        """Put a finished node into the list or map being built (or make it the document)."""
        if not self.stack:
            self.result = None if value is _MERGE_KEY else value
            return
        frame = self.stack[-1]
        frame.nodes += nodes
        frame.depth = max(frame.depth, depth + 1)
        if isinstance(frame.value, list):
            frame.value.append("<<" if value is _MERGE_KEY else value)
        elif frame.key is _NO_KEY:
            frame.key = value if value is _MERGE_KEY else _key(value, mark)
        else:
            key, frame.key = frame.key, _NO_KEY
            if key is _MERGE_KEY:
                frame.merges.extend(_merge_sources(value, mark))
            else:
                if key in frame.value:
                    self.duplicates.append(key)
                frame.value[key] = "<<" if value is _MERGE_KEY else value

    def scalar(self, event: Any) -> Any:
        """A scalar as upstream's YAML-to-JSON conversion sees it."""
        text: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)
        mark = event.start_mark
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            return text  # upstream keeps the text of a timestamp, not a date
        if tag == _MERGE:
            return _MERGE_KEY
        if tag == _BINARY:
            try:
                return base64.b64decode(text.encode("ascii"), validate=False).decode("utf-8")
            except (binascii.Error, UnicodeError):
                raise _YAMLError("!!binary value is not base64 of UTF-8 text", mark) from None
        node = yaml.ScalarNode(tag, text)
        try:
            if tag == _BOOL:
                return self.loader.construct_yaml_bool(node)
            if tag == _INT:
                number = self.loader.construct_yaml_int(node)
                # Beyond 64 bits a JSON number is read as a float, as orjson (and Go) read it.
                return number if _INT64_MIN <= number < _UINT64_END else float(number)
            if tag == _FLOAT:
                number = self.loader.construct_yaml_float(node)
                if number != number or number in (float("inf"), float("-inf")):
                    raise _YAMLError(f"JSON cannot hold the number {text!r}", mark)
                return number
        except (ValueError, KeyError):
            raise _YAMLError(f"cannot decode {text!r} as {_show(tag)}", mark) from None
        raise _YAMLError(f"unsupported YAML tag {_show(tag)} (JSON cannot hold it)", mark)


def _show(tag: str) -> str:
    """A tag as it is written: ``!!set`` rather than ``tag:yaml.org,2002:set``."""
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _key(value: Any, mark: Any) -> str:
    """A map key as JSON needs it: a string (numbers and booleans become their text, as upstream)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    shown = "null" if value is None else type(value).__name__.replace("dict", "map")
    raise _YAMLError(f"a map key must be a string, not a {shown}", mark)


def _merge_sources(value: Any, mark: Any) -> list[Obj]:
    """The maps a ``<<`` key merges: one map or a list of maps (the first wins)."""
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(s, dict) for s in sources):
        raise _YAMLError("a << merge key needs a map or a list of maps", mark)
    return list(reversed(sources))


def decode_yaml(raw: bytes) -> Decoded:
    """One YAML document as a JSON value, with the keys it repeats."""
    loader = _Loader(raw)
    builder = _Builder(loader)
    try:
        value = builder.run()
    except _YAMLError as e:
        raise errors.bad_request(f"error decoding YAML: {e}") from None
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error decoding YAML: {e}") from None
    finally:
        loader.dispose()
    return Decoded(value, builder.duplicates)
