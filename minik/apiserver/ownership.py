"""Field ownership of writes: who changed which fields (``metadata.managedFields``).

A create records ownership only when the client names a ``?fieldManager=``; an update
or patch does so when the client names one or the object already tracks ownership —
so clients that use neither (the controllers) pay nothing for it. Server-side apply
(``patching.py``, ``apply.py``) records its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from minik.api import errors
from minik.apiserver import apply, schemas
from minik.apiserver.registry import ResourceType

Obj = dict[str, Any]


def manager(query: dict[str, str]) -> str | None:
    """The ``fieldManager`` the client named (1 to 128 characters), or None."""
    name = query.get("fieldManager")
    if name is not None and (not name or len(name) > 128):
        raise errors.bad_request("fieldManager must be between 1 and 128 characters long")
    return name


def creator(rt: ResourceType, query: dict[str, str]) -> Callable[[Obj], None] | None:
    """Field ownership for a create: recorded only when the client names a fieldManager."""
    named = manager(query)
    if named is None:  # a client's own managedFields are kept only when they parse (as upstream)
        return lambda obj: apply.reset_invalid_managed_fields(obj, None)
    node = schemas.node_for(rt.group, rt.version, rt.kind)
    has_status = rt.strategy.has_status

    def finish(obj: Obj) -> None:
        obj.get("metadata", {}).pop("managedFields", None)
        apply.track_update(obj, None, node, named, rt.api_version, None, has_status)

    return finish


def updater(
    request: Request, rt: ResourceType, sub: str | None, query: dict[str, str]
) -> Callable[[Obj, Obj], None]:
    """Field ownership for an update or patch of an object that tracks it (or names a manager)."""
    named = manager(query)
    node = schemas.node_for(rt.group, rt.version, rt.kind)
    has_status = rt.strategy.has_status
    user_agent = request.headers.get("user-agent", "")

    def finish(new: Obj, old: Obj) -> None:
        if named is None and not old.get("metadata", {}).get("managedFields"):
            apply.reset_invalid_managed_fields(new, old)
            return  # nobody tracks this object's fields: the hot path pays nothing
        apply.track_update(
            new, old, node, named or apply.default_manager(user_agent), rt.api_version, sub, has_status
        )

    return finish
