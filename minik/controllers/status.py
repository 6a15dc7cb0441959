"""Writing a controller's status: the status subresource and conditions.

A controller computes the whole ``status`` of its object from its cache and
writes it only when it differs from what is stored. :func:`write_status` is
that write, robust against the two normal races (someone changed the spec
meanwhile; the object went away). :func:`set_condition` updates one condition
in a list the way upstream does: the transition time moves only when the
status changes.
"""

from __future__ import annotations

from typing import Any

from minik.client.errors import ConflictError, NotFoundError
from minik.client.kinds import ResourceRef
from minik.client.objects import Obj, deepcopy, name_of, namespace_of, uid_of
from minik.client.rest import APIClient


async def write_status(client: APIClient, resource: ResourceRef, obj: Obj, status: dict[str, Any]) -> Obj:
    """PUT ``status`` to ``obj``'s status subresource; on a conflict re-read once and retry.

    ``obj`` is the cached object (not mutated). An object that is gone (or was
    replaced by a new one of the same name) is not an error: ``obj`` is returned. The retry matters because a
    status write races with spec writes by people: losing that race is normal
    and the status we computed is still right for the same generation.
    """
    body = deepcopy(obj)
    body["status"] = status
    try:
        try:
            return await client.update_status(resource, body)
        except ConflictError:
            fresh = await client.get(resource, name_of(obj), namespace=namespace_of(obj))
            if uid_of(fresh) != uid_of(obj):
                return obj  # deleted and re-created meanwhile: its own reconcile will write
            fresh["status"] = status
            return await client.update_status(resource, fresh)
    except NotFoundError:
        return obj  # deleted meanwhile: nobody needs its status any more


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
) -> bool:
    """Set condition ``kind`` in place; returns whether anything changed.

    The transition time only moves when the status changes; a condition
    already in the same status with the same reason and message is left alone.
    (Deployments follow upstream's own ``SetDeploymentCondition``, which also
    keeps ``lastUpdateTime`` and ignores the message: see
    :func:`minik.controllers.deployment.set_deployment_condition`.)
    """
    for i, cond in enumerate(conditions):
        if cond.get("type") != kind:
            continue
        if cond.get("status") == status and cond.get("reason") == reason and cond.get("message") == message:
            return False
        new: dict[str, Any] = {"type": kind, "status": status, "reason": reason, "message": message}
        new["lastTransitionTime"] = cond.get("lastTransitionTime") if cond.get("status") == status else now
        conditions[i] = new
        return True
    conditions.append(
        {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": now}
    )
    return True


__all__ = ["set_condition", "write_status"]
