"""PATCH: JSON patch, merge patch, strategic merge patch and server-side apply.

The ``Content-Type`` of a PATCH names its kind. The first three are applied to the
live object inside :meth:`Storage.guaranteed_update` (so a conflicting writer makes
the patch re-apply to the newer object, as upstream does); ``application/apply-patch+yaml``
is server-side apply, which creates the object when it is absent and otherwise merges
by field ownership (``apply.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from minik.api import errors
from minik.api.patch import (
    PatchError,
    PatchNotApplicable,
    PatchTooLarge,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from minik.apiserver import apply, decoding, fieldvalidation, ownership, schemas
from minik.apiserver.bodies import check_kind, validate_fields
from minik.apiserver.params import flag
from minik.apiserver.registry import ResourceType
from minik.apiserver.responses import JSON
from minik.apiserver.rest import Storage

Obj = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"


def _patch_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip()


async def patch(
    storage: Storage,
    request: Request,
    rt: ResourceType,
    ns: str | None,
    name: str,
    sub: str | None,
    query: dict[str, str],
    raw: bytes,
    *,
    dry_run: bool,
) -> tuple[Obj, int]:
    """The patched object and the status code (201 when an apply created it).

    ``dry_run`` is the request's ``dryRun``, already checked by ``routing.prepare``.
    """
    if _patch_type(request) == APPLY_PATCH:
        return await server_side_apply(storage, request, rt, ns, name, sub, raw, query, dry_run=dry_run)
    mode, explicit = fieldvalidation.directive(query)
    decoded = decoding.decode(raw, JSON, duplicates=explicit and mode != fieldvalidation.IGNORE)

    def mutate(current: Obj) -> Obj:
        patched = apply_patch(request, current, decoded.value, rt.type_key)
        validate_fields(request, rt, patched, query, decoded.duplicates)
        return patched

    patched = await storage.guaranteed_update(
        rt,
        ns,
        name,
        mutate,
        subresource=sub,
        dry_run=dry_run,
        finish=ownership.updater(request, rt, sub, query),
    )
    return patched, 200


async def server_side_apply(
    storage: Storage,
    request: Request,
    rt: ResourceType,
    ns: str | None,
    name: str,
    sub: str | None,
    raw: bytes,
    query: dict[str, str],
    *,
    dry_run: bool,
) -> tuple[Obj, int]:
    """Server-side apply: create when absent (201), else merge and record ownership (``apply.py``)."""
    manager = query.get("fieldManager")
    if not manager:
        raise errors.bad_request("PATCH with application/apply-patch+yaml requires fieldManager")
    mode, explicit = fieldvalidation.directive(query)
    want_duplicates = explicit and mode != fieldvalidation.IGNORE
    decoded = decoding.decode(raw, "application/yaml", duplicates=want_duplicates)
    config = decoded.value
    if not isinstance(config, dict):
        raise errors.bad_request("an apply patch must be an object")
    duplicates = decoded.duplicates if want_duplicates else []
    check_kind(rt, config, required=True)
    meta = config.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    if meta and meta.get("managedFields"):
        raise errors.bad_request("metadata.managedFields must be nil in an apply configuration")
    if meta and meta.get("name") not in (None, name):
        raise errors.bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
        )
    if meta and rt.namespaced and meta.get("namespace") not in (None, "", ns):
        raise errors.bad_request(
            f"the namespace of the object ({meta.get('namespace')}) does not match the namespace "
            f"on the request ({ns})"
        )
    validate_fields(request, rt, config, query, duplicates)
    force = flag(query.get("force"))
    node = schemas.node_for(rt.group, rt.version, rt.kind)
    has_status = rt.strategy.has_status
    for _attempt in range(3):
        try:
            await storage.get(rt, ns, name)
        except errors.APIError as e:
            if e.code != 404 or sub is not None:
                raise
            obj = apply.apply_create(config, node, manager, rt.api_version, has_status)
            obj.setdefault("metadata", {})["name"] = name
            try:
                return await storage.create(rt, ns, obj, dry_run=dry_run), 201
            except errors.APIError as e2:
                if e2.reason != "AlreadyExists":
                    raise
                continue  # someone created it meanwhile: apply to theirs

        def merge(live: Obj) -> Obj:
            return apply.apply(
                live,
                config,
                node,
                manager,
                rt.api_version,
                subresource=sub,
                has_status=has_status,
                force=force,
                rt_plural=rt.plural,
                name=name,
                group=rt.group,
            )

        updated = await storage.guaranteed_update(rt, ns, name, merge, subresource=sub, dry_run=dry_run)
        return updated, 200
    raise errors.conflict(rt.plural, name, "the object keeps being created and deleted; try again", rt.group)


def apply_patch(request: Request, current: Obj, patch: Any, type_key: str) -> Obj:
    """``current`` with a JSON, merge or strategic merge ``patch`` applied (per the Content-Type)."""
    content_type = _patch_type(request)
    try:
        if content_type == "application/json-patch+json":
            result = apply_json_patch(current, patch)
            # Operations can put a deep value at a deep path: the result must fit the bound
            # too. (A merge is never deeper than the deeper of its two inputs.)
            decoding.check_depth(result, "the patched object")
        elif content_type == "application/merge-patch+json":
            result = apply_merge_patch(current, patch)
        elif content_type == "application/strategic-merge-patch+json":
            if not isinstance(patch, dict):
                raise PatchError("a strategic merge patch must be a JSON object")
            result = apply_strategic_merge_patch(current, patch, type_key)
        else:
            raise errors.unsupported_media_type(content_type)
    except PatchTooLarge as e:
        raise errors.APIError(413, "RequestEntityTooLarge", str(e)) from None
    except PatchNotApplicable as e:  # the patch parsed but does not fit the object: 422, as upstream
        raise errors.APIError(422, "Invalid", str(e)) from None
    except PatchError as e:
        raise errors.bad_request(str(e)) from None
    except RecursionError:  # a safety net: decoding already bounds the depth of both sides
        raise decoding.too_deep("the patched object") from None
    if not isinstance(result, dict):
        raise errors.bad_request("the patched result is not an object")
    return result
