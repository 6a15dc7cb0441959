"""Request bodies: read within a size bound, decode, and check against the URL's kind.

``decoding.py`` turns bytes of any accepted media type into JSON values (within bounds
on nesting and YAML aliases); this module is the request-facing side of it: how much a
client may send (413 beyond ``max_body_bytes``), which media type it says it sent, what
happens to fields the kind's schema does not know (``?fieldValidation=``, warnings), and
whether the body's ``kind``/``apiVersion`` match the resource of the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from minik.api import errors
from minik.api.validation.warnings import warnings_for
from minik.apiserver import decoding, fieldvalidation, schemas
from minik.apiserver.registry import ResourceType
from minik.apiserver.responses import JSON

Obj = dict[str, Any]


def content_type(request: Request) -> str:
    """The body's media type, without parameters (JSON when the client names none)."""
    return request.headers.get("content-type", JSON).split(";")[0].strip().lower() or JSON


class Bodies:
    """Reads request bodies, refusing any larger than ``max_bytes`` (413) before decoding."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def raw(self, request: Request) -> bytes:
        """The body's bytes; a declared or streamed length over the bound stops the read."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise errors.request_entity_too_large(self.max_bytes)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise errors.request_entity_too_large(self.max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    async def object(self, request: Request) -> Obj:
        """A body that must be an object (JSON, YAML or protobuf; ``decoding.py`` bounds it)."""
        decoded = decoding.decode_object(await self.raw(request), content_type(request))
        body: Obj = decoded.value
        return body

    async def optional(self, request: Request) -> Obj | None:
        """An object body that may be left out (DeleteOptions)."""
        raw = await self.raw(request)
        if not raw.strip():
            return None
        body: Obj = decoding.decode_object(raw, content_type(request)).value
        return body

    async def for_write(self, request: Request, rt: ResourceType, query: dict[str, str]) -> Obj:
        """The body of a create or update, decoded, with unknown fields dealt with per fieldValidation."""
        media_type = content_type(request)
        raw = await self.raw(request)
        mode, explicit = fieldvalidation.directive(query)
        want_duplicates = explicit and mode != fieldvalidation.IGNORE
        decoded = decoding.decode_object(raw, media_type, duplicates=want_duplicates)
        body: Obj = decoded.value
        validate_fields(request, rt, body, query, decoded.duplicates if want_duplicates else [])
        return body


def warn(request: Request, messages: list[str]) -> None:
    """Queue warnings for the answer's ``Warning`` headers (``warning.py`` writes them)."""
    if messages:
        if not hasattr(request.state, "warnings"):
            request.state.warnings = []
        request.state.warnings.extend(messages)


def validate_fields(
    request: Request,
    rt: ResourceType,
    obj: Obj,
    query: dict[str, str],
    duplicates: Sequence[str] = (),
) -> None:
    """Drop the fields the kind's schema does not know; Strict → 400, Warn → warnings."""
    mode, _ = fieldvalidation.directive(query)
    node = schemas.type_node(rt.group, rt.version, rt.kind)
    unknown = fieldvalidation.prune_unknown(obj, node)
    if unknown or duplicates:
        found = fieldvalidation.problems(unknown, list(duplicates))
        warn(request, fieldvalidation.enforce(rt.kind, rt.version, mode, found))
    warn(request, warnings_for(rt.kind, obj))


def check_kind(rt: ResourceType, body: Obj, *, required: bool = False) -> None:
    """The body's kind/apiVersion must name the resource of the URL (or be left out)."""
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if required and (not kind or not api_version):
        raise errors.bad_request("the body must set both apiVersion and kind")
    if kind and kind != rt.kind:
        raise errors.bad_request(
            f'the kind in the body ("{kind}") does not match the resource of the request '
            f'({rt.plural}, kind "{rt.kind}")'
        )
    if api_version and api_version != rt.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({rt.api_version})"
        )
    body["kind"], body["apiVersion"] = rt.kind, rt.api_version
