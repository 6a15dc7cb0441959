"""Decoding of Kubernetes protobuf request bodies into JSON-shaped objects.

Why minik needs this
--------------------
Since Kubernetes 1.32, client-go's typed clients encode request bodies of built-in
types as ``application/vnd.kubernetes.protobuf`` (with ``Accept:
application/vnd.kubernetes.protobuf,application/json``) and there is no opt-out.  Real
``kubectl create configmap|secret|namespace|deployment|service|job|...`` therefore POSTs
protobuf.  minik's API server only stores and serves JSON, so it turns such a body into
the JSON dict the same object would have had on the wire and carries on as for JSON.
Responses stay JSON: client-go decodes a response by its ``Content-Type`` and accepts
``application/json`` (verified against kubectl 1.37).

The envelope
------------
A body is the 4-byte magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message::

    message Unknown {
      optional TypeMeta typeMeta = 1;        // {apiVersion = 1, kind = 2}
      optional bytes raw = 2;                // the object's own protobuf encoding
      optional string contentEncoding = 3;   // always "" from client-go
      optional string contentType = 4;       // "" (or the protobuf media type)
    }

``raw`` is decoded with the message definition of ``apiVersion``/``kind`` from the
table in :mod:`minik.api.protobuf_schema` (field numbers, JSON names, which fields are
repeated/maps/inlined/omitted-when-zero), giving exactly the JSON shape:

* fields are named and ordered as in Go's JSON, unset fields are omitted, and so are
  zero values of non-pointer ``omitempty`` fields (Go's protobuf marshaller writes
  those even when zero, its JSON encoder does not), while pointer fields keep an
  explicit zero (``replicas: 0``, ``gracePeriodSeconds: 0``); a slice or map without
  ``omitempty`` that is absent is ``null``, as Go's JSON renders a nil one;
* ``map<string, T>`` becomes a dict, repeated fields lists (packed or not);
* ``int32``/``int64`` are two's-complement varints (no zigzag in Kubernetes);
* ``[]byte`` (e.g. ``Secret.data``) becomes base64 text, as in JSON;
* ``metav1.Time`` is ``{seconds, nanos}`` and becomes RFC 3339 in seconds (Go drops
  the nanos too), ``MicroTime`` RFC 3339 with microseconds, ``Duration`` Go's
  duration string (``"1h0m0s"``), ``resource.Quantity`` its string,
  ``intstr.IntOrString`` an int or a string, ``runtime.RawExtension`` and
  ``FieldsV1`` the embedded JSON, and named ``[]string`` map values (``ExtraValue``,
  a message ``{repeated string items = 1}``) a list.

Fields this table does not know (from a newer client) are skipped, as protobuf
intends.  Anything malformed raises :class:`ProtobufError`, shown to the client in a
400 Status.  The wire-format reader is written here on purpose: it is small and minik
does not depend on generated ``*_pb2`` code.
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from minik.api import protobuf_schema

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types.
VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5

_MAX_DEPTH = 100  # nesting limit, so a hostile body cannot exhaust the Python stack
_GO_ZERO_TIME = -62135596800  # time.Time{}.Unix(): 0001-01-01T00:00:00Z


class ProtobufError(ValueError):
    """A protobuf body that cannot be decoded; the message is shown in a 400 Status."""


# --------------------------------------------------------------------------- wire format


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; return (unsigned value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result >> 64:
                raise ProtobufError("varint overflows 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def _skip_group(buf: bytes, pos: int, number: int, depth: int) -> int:
    """Skip a (deprecated) group started by field ``number``; return the position after it."""
    if depth > _MAX_DEPTH:
        raise ProtobufError("protobuf nesting too deep")
    while True:
        key, pos = read_varint(buf, pos)
        wt, num = key & 7, key >> 3
        if wt == EGROUP:
            if num != number:
                raise ProtobufError("mismatched end of group")
            return pos
        _, pos = _read_value(buf, pos, wt, num, depth + 1)


def _read_value(buf: bytes, pos: int, wt: int, number: int, depth: int = 0) -> tuple[int | bytes, int]:
    if wt == VARINT:
        return read_varint(buf, pos)
    if wt == LEN:
        n, pos = read_varint(buf, pos)
        end = pos + n
        if end > len(buf):
            raise ProtobufError("truncated length-delimited field")
        return buf[pos:end], end
    if wt in (I64, I32):
        end = pos + (8 if wt == I64 else 4)
        if end > len(buf):
            raise ProtobufError("truncated fixed-width field")
        return buf[pos:end], end
    if wt == SGROUP:
        return b"", _skip_group(buf, pos, number, depth)
    raise ProtobufError(f"invalid wire type {wt} for field {number}")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field number, wire type, value)`` for each field of a message.

    The value is an int for varints and bytes otherwise (fixed-width fields as their
    raw little-endian bytes).  Groups are skipped.
    """
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        wt, number = key & 7, key >> 3
        if number == 0:
            raise ProtobufError("invalid field number 0")
        if wt == EGROUP:
            raise ProtobufError("unexpected end of group")
        value, pos = _read_value(buf, pos, wt, number)
        if wt != SGROUP:
            yield number, wt, value


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# ------------------------------------------------------------------------------ schema


class Field(NamedTuple):
    number: int
    name: str  # JSON name ("-" for an inlined embedded struct)
    type: str  # scalar, special type or message name
    repeated: bool
    map: bool  # map<string, type>
    inline: bool  # Go embedded struct: its fields go into the parent object
    omit_zero: bool  # non-pointer omitempty field: a zero value means "unset"
    omit_zero_struct: bool  # Go omitzero: omitted when zero (None / {})
    null_if_absent: bool  # slice/map without omitempty: Go's JSON says null for a nil one


class Message(NamedTuple):
    name: str
    fields: tuple[Field, ...]  # in Go struct order, which is the JSON order
    by_number: dict[int, Field]


def _parse_schema(text: str) -> dict[str, Message]:
    messages: dict[str, Message] = {}
    name = ""
    fields: list[Field] = []

    def close() -> None:
        if name:
            messages[name] = Message(name, tuple(fields), {f.number: f for f in fields})

    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "message":
            close()
            name, fields = parts[1], []
            continue
        flags = parts[3] if len(parts) > 3 else ""
        fields.append(Field(int(parts[0]), parts[1], parts[2], *(flag in flags for flag in "rmiozn")))
    close()
    return messages


def _parse_kinds(text: str) -> dict[tuple[str, str], str]:
    kinds: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        if line.strip():
            api_version, kind, message = line.split()
            kinds[(api_version, kind)] = message
    return kinds


MESSAGES = _parse_schema(protobuf_schema.SCHEMA)
KINDS = _parse_kinds(protobuf_schema.KINDS)
# meta.k8s.io/v1 option kinds are registered in every group version (client-go sends
# e.g. "apps/v1" DeleteOptions), so they are found by kind alone.
_META_KINDS = {kind: msg for (av, kind), msg in KINDS.items() if av == "meta.k8s.io/v1"}

_SCALARS = frozenset({"string", "bool", "int", "uint", "double", "float", "bytes"})
_NUMERIC = frozenset({"bool", "int", "uint", "double", "float"})


def message_for(api_version: str, kind: str) -> str | None:
    """The schema message name for a top-level kind, or None if minik has no table for it."""
    return KINDS.get((api_version, kind)) or _META_KINDS.get(kind)


# ---------------------------------------------------------------------------- decoding


def _wire_type_error(field: Field, wt: int) -> ProtobufError:
    return ProtobufError(f"field {field.name!r} ({field.number}): unexpected wire type {wt} for {field.type}")


def _scalar(field: Field, wt: int, value: int | bytes) -> Any:
    t = field.type
    if t in ("string", "bytes"):
        if not isinstance(value, bytes) or wt != LEN:
            raise _wire_type_error(field, wt)
        if t == "bytes":
            return base64.b64encode(value).decode("ascii")
        # Go's JSON encoder replaces invalid UTF-8 with U+FFFD, as does this.
        return value.decode("utf-8", errors="replace")
    if t in ("bool", "int", "uint"):
        if not isinstance(value, int) or wt != VARINT:
            raise _wire_type_error(field, wt)
        if t == "bool":
            return value != 0
        return _signed(value) if t == "int" else value
    if t == "double" and wt == I64 and isinstance(value, bytes):
        return struct.unpack("<d", value)[0]
    if t == "float" and wt == I32 and isinstance(value, bytes):
        return struct.unpack("<f", value)[0]
    raise _wire_type_error(field, wt)


def _packed(field: Field, buf: bytes) -> list[Any]:
    """Elements of a packed repeated numeric field."""
    out: list[Any] = []
    pos = 0
    if field.type in ("double", "float"):
        size, wt = (8, I64) if field.type == "double" else (4, I32)
        if len(buf) % size:
            raise ProtobufError(f"field {field.name!r}: truncated packed {field.type}s")
        for i in range(0, len(buf), size):
            out.append(_scalar(field, wt, buf[i : i + size]))
        return out
    while pos < len(buf):
        v, pos = read_varint(buf, pos)
        out.append(_scalar(field, VARINT, v))
    return out


def _submessage(field: Field, wt: int, value: int | bytes) -> bytes:
    if wt != LEN or not isinstance(value, bytes):
        raise _wire_type_error(field, wt)
    return value


def _format_time(seconds: int, nanos: int, micro: bool) -> str | None:
    if seconds == _GO_ZERO_TIME and (nanos == 0 or not micro):
        return None
    try:
        t = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ProtobufError(f"timestamp out of range: {seconds}") from exc
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _frac(v: int, digits: int) -> str:
    whole, frac = divmod(v, 10**digits)
    return str(whole) + (("." + f"{frac:0{digits}d}".rstrip("0")) if frac else "")


def go_duration(ns: int) -> str:
    """Format nanoseconds as Go's ``time.Duration.String()`` does (``1h2m3.5s``)."""
    if ns == 0:
        return "0s"
    u = abs(ns)
    if u < 1000:
        text = f"{u}ns"
    elif u < 10**6:
        text = _frac(u, 3) + "\u00b5s"
    elif u < 10**9:
        text = _frac(u, 6) + "ms"
    else:
        secs, frac = divmod(u, 10**9)
        text = str(secs % 60) + (("." + f"{frac:09d}".rstrip("0")) if frac else "") + "s"
        minutes = secs // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            if minutes // 60:
                text = f"{minutes // 60}h{text}"
    return ("-" if ns < 0 else "") + text


def _embedded_json(raw: bytes, what: str, depth: int) -> Any:
    if raw.startswith(MAGIC):
        return _decode_envelope(raw, depth + 1)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtobufError(f"{what} does not hold JSON: {exc}") from exc


def _special(field: Field, buf: bytes, depth: int) -> Any:
    """Decode one of the apimachinery types whose JSON form is not a plain object."""
    t = field.type
    if t == "StringList":  # a named []string, e.g. UserInfo.extra values: {repeated string items = 1}
        item = field._replace(type="string")
        return [_scalar(item, wt, v) for n, wt, v in iter_fields(buf) if n == 1]
    values: dict[int, int | bytes] = {}
    for number, _wt, value in iter_fields(buf):
        values[number] = value

    def num(n: int) -> int:
        v = values.get(n, 0)
        if not isinstance(v, int):
            raise ProtobufError(f"field {field.name!r}: {t} field {n} is not a varint")
        return _signed(v)

    def raw(n: int) -> bytes | None:
        v = values.get(n)
        if v is not None and not isinstance(v, bytes):
            raise ProtobufError(f"field {field.name!r}: {t} field {n} is not length-delimited")
        return v

    if t in ("Time", "MicroTime"):
        if not buf:
            return None  # zero time; Go writes it as an empty message
        return _format_time(num(1), num(2), micro=t == "MicroTime")
    if t == "Duration":
        return go_duration(num(1))
    if t == "Quantity":
        return (raw(1) or b"").decode("utf-8", errors="replace")
    if t == "IntOrString":
        if num(1) == 1:
            return (raw(3) or b"").decode("utf-8", errors="replace")
        return num(2)
    if t in ("RawExtension", "FieldsV1"):
        data = raw(1)
        return None if data is None else _embedded_json(data, t, depth)
    raise ProtobufError(f"no schema for type {t!r}")  # pragma: no cover - table is generated


def _zero(type_: str) -> Any:
    return {
        "string": "",
        "bytes": "",
        "bool": False,
        "int": 0,
        "uint": 0,
        "double": 0.0,
        "float": 0.0,
        "Quantity": "0",
        "IntOrString": 0,
        "Duration": "0s",
        "StringList": [],
    }.get(type_, {})


def _decode_value(field: Field, wt: int, value: int | bytes, depth: int) -> Any:
    if field.type in _SCALARS:
        return _scalar(field, wt, value)
    buf = _submessage(field, wt, value)
    if field.type in MESSAGES:
        return _decode_message(buf, MESSAGES[field.type], depth + 1)
    return _special(field, buf, depth + 1)


def _map_entry(field: Field, buf: bytes, depth: int) -> tuple[str, Any]:
    key, val, seen = "", _zero(field.type), False
    key_field = field._replace(name=field.name + ".key", type="string")
    for number, wt, value in iter_fields(buf):
        if number == 1:
            key = _scalar(key_field, wt, value)
        elif number == 2:
            val, seen = _decode_value(field, wt, value, depth), True
    if not seen and field.type in ("Time", "MicroTime", "RawExtension", "FieldsV1"):
        val = None
    return key, val


def _decode_message(buf: bytes, message: Message, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ProtobufError("protobuf nesting too deep")
    values: dict[int, Any] = {}
    for number, wt, value in iter_fields(buf):
        field = message.by_number.get(number)
        if field is None:
            continue  # a field this table does not know: skip it, as protobuf intends
        if field.map:
            entries = values.setdefault(number, {})
            k, v = _map_entry(field, _submessage(field, wt, value), depth + 1)
            entries[k] = v
        elif field.repeated:
            items = values.setdefault(number, [])
            if wt == LEN and field.type in _NUMERIC:
                items.extend(_packed(field, _submessage(field, wt, value)))
            else:
                items.append(_decode_value(field, wt, value, depth))
        else:
            values[number] = _decode_value(field, wt, value, depth)
    out: dict[str, Any] = {}
    for field in message.fields:
        if field.number not in values:
            if field.null_if_absent:
                out[field.name] = None
            continue
        v = values[field.number]
        if field.inline:
            out.update(v)
        elif not ((field.omit_zero and v in ("", 0, False)) or (field.omit_zero_struct and v in (None, {}))):
            out[field.name] = v
    return out


def _decode_envelope(body: bytes, depth: int) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body (missing k8s\\x00 prefix)")
    api_version = kind = content_encoding = content_type = ""
    raw = b""
    for number, wt, value in iter_fields(body[len(MAGIC) :]):
        if number == 1 and wt == LEN and isinstance(value, bytes):
            for n, w, v in iter_fields(value):
                if w == LEN and isinstance(v, bytes) and n in (1, 2):
                    text = v.decode("utf-8", errors="replace")
                    api_version, kind = (text, kind) if n == 1 else (api_version, text)
        elif number == 2 and wt == LEN and isinstance(value, bytes):
            raw = value
        elif number == 3 and wt == LEN and isinstance(value, bytes):
            content_encoding = value.decode("utf-8", errors="replace")
        elif number == 4 and wt == LEN and isinstance(value, bytes):
            content_type = value.decode("utf-8", errors="replace")
    if not kind or not api_version:
        raise ProtobufError("protobuf body has no apiVersion/kind")
    if content_encoding:
        raise ProtobufError(f"unsupported protobuf contentEncoding {content_encoding!r}")
    media = content_type.split(";")[0].strip()
    if media == "application/json":
        obj = _embedded_json(raw, "the object", depth)
        if not isinstance(obj, dict):
            raise ProtobufError("the object is not a JSON object")
        return obj
    if media not in ("", CONTENT_TYPE):
        raise ProtobufError(f"unsupported protobuf contentType {content_type!r}")
    name = message_for(api_version, kind)
    if name is None:
        raise ProtobufError(f"protobuf is not supported for {api_version} {kind}; send JSON")
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    out.update(_decode_message(raw, MESSAGES[name], depth))
    return out


def is_protobuf(content_type: str | None) -> bool:
    """Whether a request's Content-Type is the Kubernetes protobuf media type."""
    return (content_type or "").split(";")[0].strip().lower() == CONTENT_TYPE


def decode_body(raw: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into its JSON-shaped object dict."""
    return _decode_envelope(raw, 0)
