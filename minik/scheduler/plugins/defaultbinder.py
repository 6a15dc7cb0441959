"""DefaultBinder: bind through the API — ``POST pods/<name>/binding``.

The API server sets ``spec.nodeName`` (once: a second binding is a 409) and
the ``PodScheduled=True`` condition in one write; the kubelet on that node
then sees the pod in its watch. The pod's uid goes along, so a pod deleted
and re-created under the same name is never bound by mistake. Errors come
back as an ERROR status carrying the API exception, which the scheduler uses
to tell "someone else bound it" (409) and "it is gone" (404) from failures
worth a retry.
"""

from __future__ import annotations

from minik.client.errors import APIConnectionError, APIError
from minik.scheduler.framework.interface import BindPlugin
from minik.scheduler.framework.types import Code, CycleState, PodInfo, Status


class DefaultBinder(BindPlugin):
    name = "DefaultBinder"

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        client = self.handle.client
        if client is None:
            return Status(Code.ERROR, ("DefaultBinder has no API client",))
        try:
            await client.create_binding(pod.pod, node_name)
        except (APIError, APIConnectionError) as exc:
            return Status(Code.ERROR, (f"binding rejected: {exc}",), cause=exc)
        return None
