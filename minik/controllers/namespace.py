"""The namespace controller: emptying a deleted namespace, then letting it go.

Deleting a namespace is a promise to delete everything in it. The API server
cannot keep that promise in one request (a namespace may hold thousands of
objects of a dozen kinds, some of which terminate gracefully), so it only
marks the namespace: ``deletionTimestamp`` set, ``status.phase: Terminating``,
and the namespace stays because of the ``kubernetes`` entry in
``spec.finalizers`` that every namespace gets at creation. From then on the
API server refuses to create anything new in it. This controller does the
rest::

    Terminating namespace
      → for every namespaced resource the API server serves (discovery):
          DELETE the collection (or each object) in the namespace
      → list again: anything left? (pods terminating on their node, objects
        held by finalizers) → report it in conditions, look again soon
      → nothing left: PUT /api/v1/namespaces/<n>/finalize with "kubernetes"
        removed from spec.finalizers → the API server deletes the namespace

Deletion uses Background propagation, and everything in the namespace is a
target anyway, so the garbage collector and this controller never wait for
each other. A pod on a live node goes when its kubelet has stopped it; an
object with someone else's finalizer goes when that someone removes it — the
namespace waits for both, as upstream, and says so in its status:

* ``NamespaceDeletionDiscoveryFailure`` — the resource list could not be read;
* ``NamespaceDeletionContentFailure`` — some deletes failed;
* ``NamespaceContentRemaining`` — "Some resources are remaining: pods. has 2
  resource instances";
* ``NamespaceFinalizersRemaining`` — which finalizers hold remaining objects.

Re-checks back off from a quarter of a second to ``max_recheck`` seconds per
namespace, so a namespace full of slow pods costs a few lists a second at most.
The whole reconcile is idempotent: a restart in the middle starts it again and
converges to the same end.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from minik.client.controller import Controller, Result
from minik.client.errors import APIConnectionError, APIError, ConflictError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import NAMESPACES
from minik.client.objects import Obj, deepcopy, format_time, is_being_deleted, metadata, spec_of, status_of
from minik.client.rest import APIClient
from minik.controllers.garbagecollector import APIResource, discover_resources

log = logging.getLogger(__name__)

KUBERNETES_FINALIZER = "kubernetes"
CONDITION_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
_OK_REASONS = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}
_BAD_REASONS = {
    "NamespaceDeletionDiscoveryFailure": "DiscoveryFailed",
    "NamespaceDeletionGroupVersionParsingFailure": "GroupVersionParsingFailed",
    "NamespaceDeletionContentFailure": "ContentDeletionFailed",
    "NamespaceContentRemaining": "SomeResourcesRemain",
    "NamespaceFinalizersRemaining": "SomeFinalizersRemain",
}


class NamespaceController:
    """Empties Terminating namespaces and finalizes them (see the module docs)."""

    name = "namespace"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 2,
        max_recheck: float = 5.0,
        discovery_ttl: float = 30.0,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.max_recheck = max_recheck
        self.discovery_ttl = discovery_ttl
        self.namespaces = factory.informer(NAMESPACES)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.namespaces.add_event_handler(
            on_add=self._maybe_enqueue, on_update=lambda old, new: self._maybe_enqueue(new)
        )
        self._resources: list[APIResource] = []
        self._discovered_at = -1e9
        self._attempts: dict[str, int] = {}

    def _maybe_enqueue(self, ns: Obj) -> None:
        if is_being_deleted(ns):
            self.controller.enqueue_object(ns)

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.namespaces])

    async def _namespaced_resources(self) -> list[APIResource]:
        if time.monotonic() - self._discovered_at > self.discovery_ttl or not self._resources:
            found = await discover_resources(self.client)
            self._resources = [r for r in found if r.ref.namespaced and {"list", "delete"} <= r.verbs]
            self._discovered_at = time.monotonic()
        return self._resources

    async def reconcile(self, name: str) -> Result | None:
        ns = self.namespaces.get(name)
        if ns is None or not is_being_deleted(ns):
            self._attempts.pop(name, None)
            return None
        if KUBERNETES_FINALIZER not in (spec_of(ns).get("finalizers") or []):
            self._attempts.pop(name, None)
            return None  # our part is done; other finalizers hold it

        problems: dict[str, str] = {}
        try:
            resources = await self._namespaced_resources()
        except (APIError, APIConnectionError) as exc:
            problems["NamespaceDeletionDiscoveryFailure"] = f"Discovery failed for some groups: {exc}"
            await self._set_conditions(ns, problems)
            raise

        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        failures: list[str] = []
        for resource in resources:
            ref = resource.ref
            if "deletecollection" in resource.verbs:
                try:
                    await self.client.request(
                        "DELETE",
                        ref.path(namespace=name),
                        body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
                    )
                except NotFoundError:
                    continue
                except (APIError, APIConnectionError) as exc:
                    # Not fatal: the objects are listed and deleted one by one below.
                    log.info(
                        "namespace %s: deletecollection of %s failed (%s); deleting one by one",
                        name,
                        ref.group_resource,
                        exc,
                    )
            try:
                listed = await self.client.list(ref, namespace=name)
            except NotFoundError:
                continue
            except (APIError, APIConnectionError) as exc:
                failures.append(f"{ref.group_resource}: {exc}")
                continue
            items: list[Obj] = listed.get("items") or []
            for item in items:
                meta = metadata(item)
                if not meta.get("deletionTimestamp"):
                    try:
                        await self.client.delete(
                            ref,
                            str(meta.get("name")),
                            namespace=name,
                            propagation_policy="Background",
                            preconditions={"uid": str(meta.get("uid") or "")},
                        )
                    except (NotFoundError, ConflictError):
                        pass
                    except (APIError, APIConnectionError) as exc:
                        failures.append(f"{ref.group_resource}/{meta.get('name')}: {exc}")
                for finalizer in meta.get("finalizers") or []:
                    finalizers[str(finalizer)] = finalizers.get(str(finalizer), 0) + 1
            if items:
                remaining[ref.group_resource] = len(items)

        if failures:
            problems["NamespaceDeletionContentFailure"] = "Failed to delete all resource types, " + "; ".join(
                failures[:5]
            )
        if remaining:
            problems["NamespaceContentRemaining"] = "Some resources are remaining: " + ", ".join(
                f"{r} has {n} resource instances" for r, n in sorted(remaining.items())
            )
        if finalizers:
            problems["NamespaceFinalizersRemaining"] = (
                "Some content in the namespace has finalizers remaining: "
                + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
            )
        ns = await self._set_conditions(ns, problems)

        if remaining or failures:
            attempt = self._attempts.get(name, 0)
            self._attempts[name] = attempt + 1
            delay = min(0.25 * 2**attempt, self.max_recheck)
            log.info(
                "namespace %s: waiting for content to go (%s); checking again in %.2fs",
                name,
                ", ".join(f"{r}={n}" for r, n in sorted(remaining.items())) or "failures",
                delay,
            )
            return Result(requeue_after=delay)

        finalized = deepcopy(ns)
        spec = finalized.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != KUBERNETES_FINALIZER]
        with contextlib.suppress(NotFoundError):
            await self.client.update(NAMESPACES, finalized, subresource="finalize")
        self._attempts.pop(name, None)
        log.info("namespace %s: empty; finalized", name)
        return None

    async def _set_conditions(self, ns: Obj, problems: dict[str, str]) -> Obj:
        """Write the five deletion conditions (only when something changed)."""
        status = status_of(ns)
        existing = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
        now = format_time_now()
        conditions: list[dict[str, Any]] = []
        changed = False
        for kind in CONDITION_TYPES:
            if kind in problems:
                want = ("True", _BAD_REASONS[kind], problems[kind])
            else:
                want = ("False", *_OK_REASONS[kind])
            old = existing.get(kind)
            if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == want:
                conditions.append(old)
                continue
            changed = True
            transition = old.get("lastTransitionTime") if old and old.get("status") == want[0] else now
            conditions.append(
                {
                    "type": kind,
                    "status": want[0],
                    "reason": want[1],
                    "message": want[2],
                    "lastTransitionTime": transition,
                }
            )
        if not changed:
            return ns
        updated = deepcopy(ns)
        updated.setdefault("status", {})["conditions"] = conditions
        try:
            written: Obj = await self.client.update_status(NAMESPACES, updated)
        except (ConflictError, NotFoundError):
            return ns  # a newer version exists; the next pass writes against it
        return written


def format_time_now() -> str:
    return format_time(datetime.now(UTC))
