"""PodControl: how a workload controller creates and deletes its pods.

ReplicaSets, ReplicationControllers, Jobs and DaemonSets differ in *which*
pods they want, but not in how they make or remove them (upstream keeps this in
one ``PodControl`` too). :class:`PodControl` does it once:

* **Pods from the owner's template.** :func:`pod_from_template` stamps a Pod
  out of a pod template with a controller reference to its owner.
* **Events.** Every create and delete is announced on the owner
  (``SuccessfulCreate``/``SuccessfulDelete``, warnings ``FailedCreate``/
  ``FailedDelete``), as ``kubectl describe`` shows them upstream.
* **Expectations.** Before acting, :meth:`PodControl.sync_pods` records what it
  is about to create and delete in the controller's
  :class:`~minik.controllers.expectations.Expectations`; creations that fail
  and deletions that fail (or find the pod gone) are taken back at once, since
  the informer will never report them.
* **Slow start.** Creations go in batches of 1, 2, 4, 8, … and stop at the
  first failing batch (:func:`slow_start_batch`): a quota or admission error
  then costs one failed call, not five hundred.

Deletions carry the pod's uid as a precondition, so a pod that was replaced by
a new one of the same name is never deleted by mistake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from minik.client.errors import APIError, NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.kinds import PODS
from minik.client.objects import Obj, deepcopy, name_of, namespace_of, object_key, uid_of
from minik.client.rest import APIClient
from minik.controllers.expectations import Expectations
from minik.controllers.ownership import controller_ref_to

#: Never create or delete more than this many pods in one reconcile (upstream's burstReplicas).
BURST_REPLICAS = 500


def pod_name_prefix(owner_name: str) -> str:
    """``generateName`` for an owner's pods: ``web-`` (the server appends 5 characters)."""
    prefix = f"{owner_name}-"
    # A generated name must fit in 63 characters; keep room for the random suffix.
    return prefix if len(prefix) <= 58 else prefix[:57] + "-"


def pod_from_template(
    template: Obj,
    owner: Obj,
    *,
    generate_name: str | None = None,
    name: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    """A new Pod stamped out of a pod template, controlled by ``owner``.

    Labels, annotations and finalizers come from the template's metadata (its
    ``name`` is ignored), the spec is a deep copy; the pod gets ``owner``'s
    namespace and a controller reference to it. Pass ``name`` for a fixed
    name (StatefulSet) or ``generate_name`` (default ``<owner>-``) to let the
    server append a random suffix.
    """
    tmpl = deepcopy(template)
    tmeta = tmpl.get("metadata") if isinstance(tmpl.get("metadata"), dict) else {}
    assert isinstance(tmeta, dict)
    meta: dict[str, Any] = {"namespace": namespace_of(owner)}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or pod_name_prefix(name_of(owner))
    labels = dict(tmeta.get("labels") or {})
    if extra_labels:
        labels.update(extra_labels)
    if labels:
        meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [controller_ref_to(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl.get("spec") or {}}


async def slow_start_batch(
    count: int, initial_batch: int, fn: Callable[[int], Awaitable[object]]
) -> tuple[int, BaseException | None]:
    """Call ``fn(i)`` ``count`` times in growing concurrent batches (1, 2, 4, …).

    Stops after the first batch with a failure. Returns how many calls
    succeeded and the first error (None if all succeeded).
    """
    done = 0
    successes = 0
    batch = min(count, max(initial_batch, 1))
    while batch > 0:
        results = await asyncio.gather(*(fn(done + i) for i in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        for err in errors:
            if isinstance(err, asyncio.CancelledError):
                raise err
        if errors:
            return successes, errors[0]
        done += batch
        batch = min(2 * batch, count - done)
    return successes, None


class PodControl:
    """Creates and deletes the pods of one controller's owners (see the module docs).

    One instance per controller, sharing that controller's ``expectations``
    (its pod event handlers lower them as the informer reports the pods).
    """

    def __init__(self, client: APIClient, recorder: EventRecorder, expectations: Expectations) -> None:
        self.client = client
        self.recorder = recorder
        self.expectations = expectations

    async def create_pod(self, owner: Obj, pod: Obj) -> Obj:
        """Create ``pod`` and announce it on ``owner``; an API error is announced and raised."""
        try:
            created = await self.client.create(PODS, pod)
        except APIError as exc:
            self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {exc.message}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")
        return created

    async def delete_pod(self, owner: Obj, pod: Obj) -> bool:
        """Delete ``pod`` (this very one: its uid is a precondition) and announce it on ``owner``.

        Returns False when the pod was already gone; an API error is announced and raised.
        """
        try:
            await self.client.delete(
                PODS, name_of(pod), namespace=namespace_of(pod), preconditions={"uid": uid_of(pod) or ""}
            )
        except NotFoundError:
            return False
        except APIError as exc:
            self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {exc.message}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
        return True

    async def sync_pods(
        self,
        key: str,
        owner: Obj,
        *,
        create: int = 0,
        new_pod: Callable[[int], Obj] | None = None,
        delete: Sequence[Obj] = (),
        before_delete: Callable[[Obj], Awaitable[None]] | None = None,
    ) -> None:
        """Create ``create`` pods (``new_pod(i)`` makes the i-th) and delete ``delete``, under expectations.

        ``key`` is the owner's key in the expectations. Creations go first, in
        slow-start batches; then all deletions at once (``before_delete``, if
        given, runs for each pod just before its delete). Everything that can
        be attempted is; the first error is raised at the end. With nothing to
        do, the expectations are left alone.
        """
        if create <= 0 and not delete:
            return
        self.expectations.expect(key, max(create, 0), [object_key(p) for p in delete])
        errors: list[BaseException] = []
        if create > 0:
            assert new_pod is not None, "sync_pods(create=n) needs new_pod"
            make = new_pod

            async def create_one(i: int) -> None:
                await self.create_pod(owner, make(i))

            successes, error = await slow_start_batch(create, 1, create_one)
            if successes < create:
                # The informer will never see the pods that were not created.
                self.expectations.lower_creations(key, create - successes)
            if error is not None:
                errors.append(error)
        if delete:
            results = await asyncio.gather(
                *(self._delete_expected(key, owner, pod, before_delete) for pod in delete),
                return_exceptions=True,
            )
            errors.extend(r for r in results if isinstance(r, BaseException))
        if errors:
            raise errors[0]

    async def _delete_expected(
        self, key: str, owner: Obj, pod: Obj, before_delete: Callable[[Obj], Awaitable[None]] | None
    ) -> None:
        try:
            if before_delete is not None:
                await before_delete(pod)
            deleted = await self.delete_pod(owner, pod)
        except Exception:
            # A deletion that failed will never be observed — whether the server refused it
            # (APIError) or never got it (APIConnectionError); pending, it would stall the owner.
            self.expectations.deletion_observed(key, object_key(pod))
            raise
        if not deleted:
            self.expectations.deletion_observed(key, object_key(pod))


__all__ = ["BURST_REPLICAS", "PodControl", "pod_from_template", "pod_name_prefix", "slow_start_batch"]
