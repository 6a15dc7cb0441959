"""``POST pods/{name}/eviction``: delete a pod only if its disruption budget allows it.

``kubectl drain`` does not delete pods; it *evicts* them, by posting a ``policy/v1``
``Eviction`` for each pod. The API server then checks the PodDisruptionBudget that
covers the pod (see ``minik.api.disruption``):

* no budget covers the pod → the pod is deleted gracefully, with the Eviction's
  ``deleteOptions``;
* the budget allows a disruption → ``status.disruptionsAllowed`` goes down by one and
  the pod is recorded in ``status.disruptedPods`` (so the disruption controller does
  not count it healthy while it terminates), then the pod is deleted. The status is
  written with the resourceVersion that was read as a precondition: two evictions
  racing for the last allowed disruption cannot both win -- the loser re-reads the
  budget and finds nothing left (upstream's optimistic concurrency);
* the budget would be violated → **429 TooManyRequests**, "Cannot evict pod as it
  would violate the pod's disruption budget.", with a cause of type
  ``DisruptionBudget`` naming the budget. Clients (kubectl drain) wait and retry;
* more than one budget covers the pod → a 500 Status, as upstream: which budget to
  spend from would be ambiguous.

Pods that are already done disrupting (Pending, Succeeded, Failed, or already being
deleted) are deleted without looking at budgets. A pod that is running but not Ready
does not count as healthy; it may be evicted without spending a disruption when the
budget says ``unhealthyPodEvictionPolicy: AlwaysAllow``, or (the default,
``IfHealthyBudget``) while the budget's healthy pods are enough anyway. That delete
carries the pod's resourceVersion as a precondition, so a pod that turned Ready in
between is not deleted behind the budget's back (the client gets a 429 and retries).

Before deleting, the pod gets a ``DisruptionTarget`` condition (reason
``EvictionByEvictionAPI``) so that its controllers and users can tell why it went.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from typing import Any

import orjson

from minik.api import disruption, errors
from minik.apiserver.registry import ResourceType
from minik.apiserver.rest import DeleteOptions, ListOptions, Storage, now_rfc3339

Obj = dict[str, Any]

EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MORE_THAN_ONE_BUDGET = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
)
#: How many times a lost race (409 on the pod or the budget) is tried again.
RETRIES = 20
_RETRY_PAUSE = 0.05
_SUCCESS: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class _Conflict(Exception):
    """A write lost a race; the step is tried again with fresh reads."""


def parse_eviction(body: Obj, namespace: str, name: str) -> Obj:
    """The Eviction of the request: of the right type and naming the pod of the URL."""
    if body.get("kind") not in (None, "", "Eviction") or body.get("apiVersion") not in (
        None,
        "",
        *EVICTION_VERSIONS,
    ):
        raise errors.bad_request(
            f"the body must be a policy/v1 Eviction, not {body.get('apiVersion')} {body.get('kind')}"
        )
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        raise errors.bad_request("name in URL does not match name in Eviction object")
    if meta.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    if meta.get("namespace") not in (None, "", namespace):
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    options = body.get("deleteOptions")
    if options is not None and not isinstance(options, dict):
        raise errors.bad_request("deleteOptions must be an object")
    return body


def too_many_requests(cause: str, retry_after: int) -> errors.APIError:
    """The 429 an eviction gets while a budget forbids it (kubectl drain retries it)."""
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers: dict[str, str] = {}
    if retry_after > 0:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return errors.APIError(429, "TooManyRequests", VIOLATION, details=details, headers=headers)


def _forbidden(pdb_name: str, why: str) -> errors.APIError:
    return errors.APIError(
        403,
        "Forbidden",
        f'poddisruptionbudget.policy "{pdb_name}" is forbidden: {why}',
        details={"name": pdb_name, "group": "policy", "kind": "poddisruptionbudget"},
    )


def _can_ignore_budget(pod: Obj) -> bool:
    """A pod that is not running (or already terminating) disrupts nothing more."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Pending", "Succeeded", "Failed") or bool(pod["metadata"].get("deletionTimestamp"))


def _should_guard_version(pod: Obj) -> bool:
    """Whether the delete must fail if the pod changed (it might have turned Ready)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


class Evictor:
    """Serves one eviction request against the storage."""

    def __init__(self, storage: Storage, pods: ResourceType) -> None:
        self.storage = storage
        self.pods = pods
        self.budgets = storage.registry.lookup("policy", "v1", "poddisruptionbudgets")

    async def evict(self, namespace: str, name: str, body: Obj, query: dict[str, str]) -> tuple[Obj, int]:
        """The Status to answer with and its HTTP code (201 when the pod was evicted)."""
        eviction = parse_eviction(body, namespace, name)
        options = DeleteOptions.from_body(eviction.get("deleteOptions"), query)
        caller_named_version = bool(options.precondition_rv)

        pod = await self._delete_if_budgets_do_not_matter(namespace, name, options, caller_named_version)
        if pod is None:
            return copy.deepcopy(_SUCCESS), 201

        budgets = disruption.budgets_for(pod, await self._budgets(namespace))
        if len(budgets) > 1:
            status = {**_SUCCESS, "status": "Failure", "message": MORE_THAN_ONE_BUDGET, "code": 500}
            return status, 500
        guard_version = False
        if budgets:
            pdb = budgets[0]
            guard_version = not disruption.is_pod_ready(pod) and _unready_pod_may_go(pdb)
            if not guard_version:
                await self._spend_disruption(pdb, name, options.dry_run)

        if guard_version and not caller_named_version:
            options = dataclasses.replace(options, precondition_rv=pod["metadata"]["resourceVersion"])
        try:
            await self._mark_and_delete(namespace, name, options)
        except errors.APIError as err:
            if err.code == 409 and guard_version and not caller_named_version:
                raise too_many_requests(
                    f"The disruption budget {budgets[0]['metadata']['name']} is still being processed"
                    " by the server.",
                    10,
                ) from None
            raise
        return copy.deepcopy(_SUCCESS), 201

    async def _delete_if_budgets_do_not_matter(
        self, namespace: str, name: str, options: DeleteOptions, caller_named_version: bool
    ) -> Obj | None:
        """Delete a pod no budget needs to be asked about; None when it was, else the pod."""
        for attempt in range(RETRIES):
            pod = await self.storage.get(self.pods, namespace, name)
            if not _can_ignore_budget(pod):
                return pod
            opts = options
            if _should_guard_version(pod) and not caller_named_version:
                opts = dataclasses.replace(options, precondition_rv=pod["metadata"]["resourceVersion"])
            try:
                await self._mark_and_delete(namespace, name, opts)
                return None
            except errors.APIError as err:
                if err.code != 409 or caller_named_version or attempt == RETRIES - 1:
                    raise
            await asyncio.sleep(_RETRY_PAUSE)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _budgets(self, namespace: str) -> list[Obj]:
        if self.budgets is None:
            return []  # a server that does not serve budgets has none to respect
        body = await self.storage.list(self.budgets, namespace, ListOptions())
        items: list[Obj] = orjson.loads(body).get("items") or []
        return items

    async def _spend_disruption(self, pdb: Obj, pod_name: str, dry_run: bool) -> None:
        """Take one allowed disruption from the budget, or refuse with 429.

        The status is written with the version that was read; when someone else wrote
        in between (another eviction, the controller), read again and decide again.
        """
        name, namespace = pdb["metadata"]["name"], pdb["metadata"]["namespace"]
        assert self.budgets is not None  # the budget was listed from it
        for attempt in range(RETRIES):
            if attempt:
                pdb = await self.storage.get(self.budgets, namespace, name)
            updated = _decremented(pdb, pod_name, dry_run)
            if dry_run:
                return
            try:
                await self.storage.update(self.budgets, namespace, name, updated, subresource="status")
                return
            except errors.APIError as err:
                if err.code != 409:
                    raise
            await asyncio.sleep(_RETRY_PAUSE)
        raise errors.APIError(
            504,
            "Timeout",
            f'Timeout: couldn\'t update PodDisruptionBudget "{name}" due to conflicts',
            details={"retryAfterSeconds": 10},
            headers={"Retry-After": "10"},
        )

    async def _mark_and_delete(self, namespace: str, name: str, options: DeleteOptions) -> None:
        """Add the ``DisruptionTarget`` condition, then delete gracefully with ``options``."""
        if not options.dry_run:
            marked = await self.storage.guaranteed_update(
                self.pods,
                namespace,
                name,
                lambda pod: _with_disruption_condition(pod, options),
                subresource="status",
            )
            if options.precondition_rv:
                # Our own write moved the version; the precondition now means "nobody else did".
                options = dataclasses.replace(options, precondition_rv=marked["metadata"]["resourceVersion"])
        await self.storage.delete(self.pods, namespace, name, options)


def _unready_pod_may_go(pdb: Obj) -> bool:
    """Whether a not-ready pod may be evicted without spending a disruption."""
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == disruption.ALWAYS_ALLOW:
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired > 0


def _decremented(pdb: Obj, pod_name: str, dry_run: bool) -> Obj:
    """The budget with one disruption spent on ``pod_name`` (or the error why not)."""
    name = pdb["metadata"]["name"]
    status = pdb.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 1):
        raise too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > disruption.MAX_DISRUPTED_PODS:
        raise _forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )
    if allowed == 0:
        raise too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods"
            f" and has {int(status.get('currentHealthy') or 0)} currently",
            0,
        )
    updated = copy.deepcopy(pdb)
    new_status = updated.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    now = now_rfc3339()
    if allowed - 1 == 0:
        disruption.set_disruption_allowed(new_status, now)
    if not dry_run:
        new_status.setdefault("disruptedPods", {})[pod_name] = now
    return updated


def _with_disruption_condition(pod: Obj, options: DeleteOptions) -> Obj:
    meta = pod["metadata"]
    if options.precondition_uid and options.precondition_uid != meta.get("uid"):
        raise errors.conflict(
            "pods",
            meta.get("name", ""),
            f"Precondition failed: UID in precondition: {options.precondition_uid}, "
            f"UID in object meta: {meta.get('uid')}",
        )
    if options.precondition_rv and options.precondition_rv != meta.get("resourceVersion"):
        raise errors.conflict(
            "pods",
            meta.get("name", ""),
            f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, "
            f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
        )
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting",
            "lastTransitionTime": now_rfc3339(),
        }
    )
    status["conditions"] = conditions
    return pod
