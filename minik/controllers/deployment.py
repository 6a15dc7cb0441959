"""Deployment: rollouts, by moving replicas between ReplicaSets.

A Deployment never touches pods. It owns ReplicaSets — one per version of its
pod template — and only changes their ``spec.replicas``; the ReplicaSet
controller turns that into pods. The ReplicaSet whose template equals the
Deployment's is the *new* one; every other one is *old*::

    Deployment web (template v2, replicas 3)
      ├─ ReplicaSet web-7d4b9c8f6  (v1, pod-template-hash=7d4b9c8f6)  replicas 3 → 0
      └─ ReplicaSet web-5f6c7b8d9  (v2, pod-template-hash=5f6c7b8d9)  replicas 0 → 3

**pod-template-hash.** The new ReplicaSet is named ``<deployment>-<hash of the
template>``, and the hash is added as a label to its selector, its template
and so its pods. That keeps the ReplicaSets' pod sets disjoint although they
share the Deployment's selector. Finding "the ReplicaSet for this template"
compares templates with that label removed.

**Revisions and rollback.** Each ReplicaSet carries
``deployment.kubernetes.io/revision``; a new one gets the highest old revision
plus one, and the Deployment mirrors its new ReplicaSet's number. Rolling back
(``kubectl rollout undo``) is nothing special: it writes an old template back
into the Deployment, the controller finds the old ReplicaSet with that
template, makes it the new one again and gives it the next revision number
(remembering its previous numbers in ``revision-history``). Any template change
— including ``kubectl rollout restart``, which sets the
``kubectl.kubernetes.io/restartedAt`` template annotation — is a new revision.
Old ReplicaSets scaled to zero are kept for rollbacks, up to
``revisionHistoryLimit``; the oldest beyond that are deleted.

**Strategies.** *Recreate* scales every old ReplicaSet to zero, waits until no
old pod is left running, then creates the new one at full size. *RollingUpdate*
alternates scale-up of the new ReplicaSet and scale-down of old ones under the
``maxSurge``/``maxUnavailable`` bounds; the arithmetic is in
:mod:`minik.controllers.rollout`. Every pass does at most one of the two and
then waits for the next event (a ReplicaSet status change) — the controller is
level-triggered, it never "runs a rollout", it just moves one step closer.

**Counting safely.** Upstream bounds the *sum of spec.replicas* by
``replicas + maxSurge``. minik counts each ReplicaSet as ``max(spec,
status.replicas)`` and its available pods as ``min(status.available, spec)``,
so the bounds also hold for the pods that actually exist while an old
ReplicaSet is still deleting pods it was told to drop, or its status is a step
behind. Scaling writes use the cached resourceVersion: a stale cache gets a
409 Conflict and a retry, never a write based on old numbers.

**Scaling during a rollout** (``kubectl scale`` mid-way, or while paused) is
detected by the ``desired-replicas`` annotation the controller writes on every
ReplicaSet it scales; the change is then shared proportionally.

**Paused** Deployments are scaled but never rolled: template changes pile up
until ``kubectl rollout resume``.

**Status and conditions**, computed from the ReplicaSets exactly as
``kubectl rollout status`` reads them: ``observedGeneration``, ``replicas`` (all
pods), ``updatedReplicas`` (pods of the new ReplicaSet), ``readyReplicas``,
``availableReplicas``, ``unavailableReplicas``; ``Available`` is True while at
least ``replicas - maxUnavailable`` pods are available; ``Progressing`` says
``NewReplicaSetCreated`` / ``FoundNewReplicaSet`` / ``ReplicaSetUpdated`` while
moving, ``NewReplicaSetAvailable`` when done, and turns False with
``ProgressDeadlineExceeded`` when no progress was made for
``progressDeadlineSeconds`` (the reconcile requeues itself for that moment,
since no event would announce it).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from minik.client.clock import Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import DEPLOYMENTS, PODS, REPLICASETS
from minik.client.objects import (
    Obj,
    annotations_of,
    creation_sort_key,
    deepcopy,
    format_time,
    generation_of,
    get_condition,
    int_field,
    is_being_deleted,
    name_of,
    namespace_of,
    object_key,
    parse_optional_time,
    resource_version_of,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient, PatchType
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    OwnedObjectEvents,
    claim_candidates,
    controller_ref_to,
    index_by_controller_uid,
    is_controlled_by,
    resolve_controller,
    selector_for,
)
from minik.controllers.pods import is_pod_terminal
from minik.controllers.revisions import POD_TEMPLATE_HASH_LABEL, canonical, compute_hash
from minik.controllers.rollout import (
    ReplicaCounts,
    ScalableSet,
    max_surge,
    max_unavailable,
    new_replicas_for_rolling_update,
    plan_old_scale_down,
    proportional_scale,
)
from minik.controllers.status import write_status

log = logging.getLogger(__name__)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
    }
)

# Condition types and reasons, as kubectl and dashboards know them.
PROGRESSING = "Progressing"
AVAILABLE = "Available"
REPLICA_FAILURE = "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_NO_DEADLINE = 2**31 - 1


def revision_of(obj: Obj) -> int:
    try:
        return int(annotations_of(obj).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Whether two pod templates are equal apart from the pod-template-hash label."""

    def strip(t: Obj) -> Obj:
        t = deepcopy(t)
        meta = t.get("metadata")
        if isinstance(meta, dict):
            labels = meta.get("labels")
            if isinstance(labels, dict):
                labels.pop(POD_TEMPLATE_HASH_LABEL, None)
                if not labels:
                    meta.pop("labels")
        return t

    return canonical(strip(a)) == canonical(strip(b))


def _template(obj: Obj) -> Obj:
    tmpl = spec_of(obj).get("template")
    return tmpl if isinstance(tmpl, dict) else {}


def _replicas(obj: Obj) -> int:
    return int_field(spec_of(obj), "replicas", 1)


def _desired_annotation(rs: Obj) -> int | None:
    try:
        return int(annotations_of(rs)[DESIRED_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        return None


def _max_annotation(rs: Obj) -> int | None:
    try:
        return int(annotations_of(rs)[MAX_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        return None


def _active(sets: list[Obj]) -> list[Obj]:
    return [rs for rs in sets if _replicas(rs) > 0]


def _pods_of_rs(rs: Obj) -> int:
    """Pods a ReplicaSet has or is about to have (see "Counting safely")."""
    return max(_replicas(rs), int_field(status_of(rs), "replicas"))


def _available_of_rs(rs: Obj) -> int:
    return min(int_field(status_of(rs), "availableReplicas"), _replicas(rs))


def _strategy(d: Obj) -> dict[str, Any]:
    strategy = spec_of(d).get("strategy")
    return strategy if isinstance(strategy, dict) else {"type": "RollingUpdate"}


def _is_rolling(d: Obj) -> bool:
    return bool(_strategy(d).get("type", "RollingUpdate") == "RollingUpdate")


def _deadline(d: Obj) -> int | None:
    value = spec_of(d).get("progressDeadlineSeconds")
    if not isinstance(value, int) or value == _NO_DEADLINE:
        return None
    return value


def set_deployment_condition(status: dict[str, Any], condition: dict[str, Any]) -> None:
    """Upstream's ``SetDeploymentCondition``: same status and reason → no change;
    same status → keep the transition time; then replace."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    current = next((c for c in conditions if c.get("type") == condition["type"]), None)
    if (
        current is not None
        and current.get("status") == condition["status"]
        and current.get("reason") == condition["reason"]
    ):
        return
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in conditions if c.get("type") != condition["type"]] + [condition]


def remove_deployment_condition(status: dict[str, Any], kind: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") != kind]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def deployment_complete(d: Obj, status: dict[str, Any]) -> bool:
    replicas = _replicas(d)
    return (
        int_field(status, "updatedReplicas") == replicas
        and int_field(status, "replicas") == replicas
        and int_field(status, "availableReplicas") == replicas
        and int_field(status, "observedGeneration") >= generation_of(d)
    )


def deployment_progressing(d: Obj, new: dict[str, Any]) -> bool:
    old = status_of(d)
    old_old = int_field(old, "replicas") - int_field(old, "updatedReplicas")
    new_old = int_field(new, "replicas") - int_field(new, "updatedReplicas")
    return (
        int_field(new, "updatedReplicas") > int_field(old, "updatedReplicas")
        or new_old < old_old
        or int_field(new, "readyReplicas") > int_field(old, "readyReplicas")
        or int_field(new, "availableReplicas") > int_field(old, "availableReplicas")
    )


def deployment_timed_out(d: Obj, status: dict[str, Any], now: datetime) -> bool:
    deadline = _deadline(d)
    if deadline is None:
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_optional_time(cond.get("lastUpdateTime"))
    return since is not None and (now - since).total_seconds() > deadline


class DeploymentController:
    """Rolls Deployments out through ReplicaSets (see the module docs)."""

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        workers: int = 2,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.clock = clock
        indexers = {CONTROLLER_UID_INDEX: index_by_controller_uid}
        self.deployments: Informer = factory.informer(DEPLOYMENTS)
        self.replicasets: Informer = factory.informer(REPLICASETS, indexers=indexers)
        self.pods: Informer = factory.informer(PODS, indexers=indexers)
        self.controller = Controller("deployment", self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]

    # -- wiring -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.controller.watch(self.deployments)
        OwnedObjectEvents(
            self.controller,
            self.deployments,
            lambda rs: resolve_controller(rs, "Deployment", self.deployments.get),
        ).register(self.replicasets)
        self.pods.add_event_handler(on_delete=self._pod_deleted)
        self.factory.start()
        await self.controller.run(wait_for=[self.deployments, self.replicasets, self.pods])

    def _owner_key(self, rs: Obj) -> str | None:
        owner = resolve_controller(rs, "Deployment", self.deployments.get)
        return object_key(owner) if owner is not None else None

    def _pod_deleted(self, pod: Obj) -> None:
        # Recreate waits for the last old pod to go; nothing else about pods matters here.
        rs = resolve_controller(pod, "ReplicaSet", self.replicasets.get)
        if rs is not None:
            key = self._owner_key(rs)
            if key is not None:
                self.controller.enqueue(key)

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None
        d = deepcopy(cached)
        selector = selector_for(d)
        if selector.empty:
            self.recorder.event(
                d,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            if int_field(status_of(d), "observedGeneration") < generation_of(d):
                status = dict(status_of(d), observedGeneration=generation_of(d))
                await write_status(self.client, DEPLOYMENTS, d, status)
            return None

        candidates = claim_candidates(self.replicasets.store, d)
        rs_list = await ClaimManager(self.client, d, DEPLOYMENTS, selector).claim(REPLICASETS, candidates)

        if is_being_deleted(d):
            new_rs, old_rs = self._split(d, rs_list)
            await self._sync_status_only(d, old_rs + ([new_rs] if new_rs else []), new_rs)
            return None

        d = await self._check_paused_conditions(d)
        if spec_of(d).get("paused"):
            return await self._sync(d, rs_list)
        if self._is_scaling_event(d, rs_list):
            return await self._sync(d, rs_list)
        if _strategy(d).get("type") == "Recreate":
            return await self._rollout_recreate(d, rs_list)
        return await self._rollout_rolling(d, rs_list)

    # -- finding and making the new ReplicaSet ----------------------------------------------------

    def _split(self, d: Obj, rs_list: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        """(new, old): the oldest ReplicaSet whose template equals the Deployment's, and the rest."""
        template = _template(d)
        ordered = sorted(rs_list, key=creation_sort_key)
        new_rs = next((rs for rs in ordered if equal_ignore_hash(_template(rs), template)), None)
        old = [rs for rs in ordered if rs is not new_rs]
        return new_rs, old

    async def _get_all(
        self, d: Obj, rs_list: list[Obj], *, create: bool
    ) -> tuple[Obj, Obj | None, list[Obj]]:
        """``(deployment, new ReplicaSet, old ReplicaSets)``, syncing revision annotations
        (and creating the new ReplicaSet when ``create``)."""
        new_rs, old_rs = self._split(d, rs_list)
        d, new_rs = await self._get_new_rs(d, new_rs, old_rs, create=create)
        return d, new_rs, old_rs

    async def _get_new_rs(
        self, d: Obj, existing: Obj | None, old_rs: list[Obj], *, create: bool
    ) -> tuple[Obj, Obj | None]:
        new_revision = max((revision_of(rs) for rs in old_rs), default=0) + 1
        now = format_time(wall_now(self.clock))
        if existing is not None:
            rs_copy = deepcopy(existing)
            changed = self._set_new_rs_annotations(d, rs_copy, new_revision, exists=True)
            min_ready = int_field(spec_of(d), "minReadySeconds")
            if int_field(spec_of(rs_copy), "minReadySeconds") != min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
                changed = True
            rs = existing
            if changed:
                rs = await self.client.update(REPLICASETS, rs_copy)
            d = await self._set_deployment_revision(d, str(revision_of(rs)))
            if _deadline(d) is not None and get_condition(status_of(d), PROGRESSING) is None:
                status = deepcopy(status_of(d))
                set_deployment_condition(
                    status,
                    self._condition(
                        PROGRESSING, "True", FOUND_NEW_RS, f'Found new replica set "{name_of(rs)}"', now
                    ),
                )
                d = await write_status(self.client, DEPLOYMENTS, d, status)
            return d, rs
        if not create:
            return d, None

        collision_count = int_field(status_of(d), "collisionCount") or None
        hash_ = compute_hash(_template(d), collision_count)
        template = deepcopy(_template(d))
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH_LABEL] = hash_
        selector = deepcopy(spec_of(d).get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH_LABEL] = hash_
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name_of(d)}-{hash_}",
                "namespace": namespace_of(d),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [controller_ref_to(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int_field(spec_of(d), "minReadySeconds"),
                "selector": selector,
                "template": template,
            },
        }
        new_rs["spec"]["replicas"] = self._new_rs_replicas(d, [*old_rs, new_rs], new_rs)
        self._set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        try:
            created = await self.client.create(REPLICASETS, new_rs)
        except AlreadyExistsError:
            found = await self.client.get(REPLICASETS, name_of(new_rs), namespace=namespace_of(d))
            if is_controlled_by(found, d) and equal_ignore_hash(_template(found), _template(d)):
                return d, found  # ours: our cache had not seen it yet
            # A hash collision with someone else's ReplicaSet: pick another name next time.
            status = deepcopy(status_of(d))
            status["collisionCount"] = int_field(status, "collisionCount") + 1
            await write_status(self.client, DEPLOYMENTS, d, status)
            raise
        replicas = _replicas(created)
        if replicas > 0:
            self.recorder.event(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled up replica set {name_of(created)} from 0 to {replicas}",
            )
        d = await self._set_deployment_revision(d, str(new_revision))
        if _deadline(d) is not None:
            status = deepcopy(status_of(d))
            set_deployment_condition(
                status,
                self._condition(
                    PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name_of(created)}"', now
                ),
            )
            d = await write_status(self.client, DEPLOYMENTS, d, status)
        return d, created

    def _set_new_rs_annotations(self, d: Obj, rs: Obj, new_revision: int, *, exists: bool) -> bool:
        meta = rs.setdefault("metadata", {})
        annotations = meta.setdefault("annotations", {})
        changed = False
        for k, v in annotations_of(d).items():
            if k not in _NOT_COPIED and annotations.get(k) != v:
                annotations[k] = v
                changed = True
        old_revision = annotations.get(REVISION_ANNOTATION)
        try:
            old_number = int(old_revision) if old_revision else 0
        except ValueError:
            old_number = 0
        if old_number < new_revision:
            annotations[REVISION_ANNOTATION] = str(new_revision)
            changed = True
            if old_revision:
                history = annotations.get(REVISION_HISTORY_ANNOTATION)
                annotations[REVISION_HISTORY_ANNOTATION] = (
                    f"{history},{old_revision}" if history else old_revision
                )
        if not exists and self._set_replicas_annotations(d, rs):
            changed = True
        return changed

    def _set_replicas_annotations(self, d: Obj, rs: Obj) -> bool:
        desired = _replicas(d)
        annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
        wanted = {
            DESIRED_REPLICAS_ANNOTATION: str(desired),
            MAX_REPLICAS_ANNOTATION: str(desired + max_surge(_strategy(d), desired)),
        }
        changed = False
        for k, v in wanted.items():
            if annotations.get(k) != v:
                annotations[k] = v
                changed = True
        return changed

    async def _set_deployment_revision(self, d: Obj, revision: str) -> Obj:
        if annotations_of(d).get(REVISION_ANNOTATION) == revision:
            return d
        patched = await self.client.patch(
            DEPLOYMENTS,
            name_of(d),
            {
                "metadata": {
                    "annotations": {REVISION_ANNOTATION: revision},
                    "resourceVersion": resource_version_of(d),
                }
            },
            namespace=namespace_of(d),
            type=PatchType.MERGE,
        )
        return patched

    def _new_rs_replicas(self, d: Obj, all_rs: list[Obj], new_rs: Obj) -> int:
        desired = _replicas(d)
        if not _is_rolling(d):
            return desired
        return new_replicas_for_rolling_update(
            desired=desired,
            surge=max_surge(_strategy(d), desired),
            current_total=sum(_pods_of_rs(rs) for rs in all_rs),
            new_replicas=_replicas(new_rs),
        )

    # -- scaling ----------------------------------------------------------------------------------

    async def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> tuple[bool, Obj]:
        """Set a ReplicaSet's size (and the replica annotations); record the event."""
        size_changed = _replicas(rs) != replicas
        rs_copy = deepcopy(rs)
        annotations_changed = self._set_replicas_annotations(d, rs_copy)
        if not size_changed and not annotations_changed:
            return False, rs
        rs_copy.setdefault("spec", {})["replicas"] = replicas
        updated = await self.client.update(REPLICASETS, rs_copy)
        if size_changed:
            direction = "up" if replicas > _replicas(rs) else "down"
            self.recorder.event(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {name_of(rs)} from {_replicas(rs)} to {replicas}",
            )
        return size_changed, updated

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        desired = _replicas(d)
        for rs in _active(rs_list):
            annotated = _desired_annotation(rs)
            if annotated is not None and annotated != desired:
                return True
        return False

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> None:
        desired = _replicas(d)
        active_or_latest = self._active_or_latest(new_rs, old_rs)
        if active_or_latest is not None:
            if _replicas(active_or_latest) != desired:
                await self._scale_rs(d, active_or_latest, desired)
            return
        if self._is_saturated(d, new_rs):
            for rs in _active(old_rs):
                await self._scale_rs(d, rs, 0)
            return
        if not _is_rolling(d):
            return
        active = _active([*old_rs, *([new_rs] if new_rs else [])])
        sets = [
            ScalableSet(
                name=name_of(rs),
                replicas=_replicas(rs),
                max_replicas_annotation=_max_annotation(rs),
                created=creation_sort_key(rs)[0],
            )
            for rs in active
        ]
        surge = max_surge(_strategy(d), desired) if desired > 0 else 0
        sizes = proportional_scale(
            desired=desired, surge=surge, status_replicas=int_field(status_of(d), "replicas"), sets=sets
        )
        for rs in active:
            await self._scale_rs(d, rs, sizes[name_of(rs)])

    @staticmethod
    def _active_or_latest(new_rs: Obj | None, old_rs: list[Obj]) -> Obj | None:
        all_rs = [*([new_rs] if new_rs else []), *old_rs]
        active = _active(all_rs)
        if len(active) == 1:
            return active[0]
        if not active:
            if new_rs is not None:
                return new_rs
            newest = sorted(old_rs, key=creation_sort_key, reverse=True)
            return newest[0] if newest else None
        return None

    @staticmethod
    def _is_saturated(d: Obj, rs: Obj | None) -> bool:
        if rs is None:
            return False
        desired = _replicas(d)
        return (
            _desired_annotation(rs) == desired
            and _replicas(rs) == desired
            and int_field(status_of(rs), "availableReplicas") == desired
        )

    # -- strategies -------------------------------------------------------------------------------

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> Result | None:
        """Paused or being scaled: adjust sizes, never roll (upstream's ``sync``)."""
        d, new_rs, old_rs = await self._get_all(d, rs_list, create=False)
        await self._scale(d, new_rs, old_rs)
        if spec_of(d).get("paused"):
            await self._cleanup(d, old_rs)
        await self._sync_status_only(d, self._fresh([*old_rs, *([new_rs] if new_rs else [])]), new_rs)
        return None

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> Result | None:
        d, new_rs, old_rs = await self._get_all(d, rs_list, create=True)
        assert new_rs is not None
        all_rs = [*old_rs, new_rs]

        # Scale up the new ReplicaSet, if there is room.
        desired = _replicas(d)
        target = _replicas(new_rs)
        if target > desired:
            target = desired
        elif target < desired:
            target = self._new_rs_replicas(d, all_rs, new_rs)
        if target != _replicas(new_rs):
            scaled, new_rs = await self._scale_rs(d, new_rs, target)
            if scaled:
                return await self._sync_rollout_status(d, [*old_rs, new_rs], new_rs)

        # Scale down old ReplicaSets, if availability allows.
        if await self._reconcile_old(d, _active(old_rs), new_rs):
            return await self._sync_rollout_status(d, self._fresh(all_rs), new_rs)

        if deployment_complete(d, status_of(d)):
            await self._cleanup(d, old_rs)
        return await self._sync_rollout_status(d, all_rs, new_rs)

    async def _reconcile_old(self, d: Obj, old_active: list[Obj], new_rs: Obj) -> bool:
        if not old_active:
            return False
        desired = _replicas(d)
        ordered = sorted(old_active, key=creation_sort_key)
        plan = plan_old_scale_down(
            desired=desired,
            unavailable=max_unavailable(_strategy(d), desired),
            new_replicas=_replicas(new_rs),
            new_available=_available_of_rs(new_rs),
            old=[ReplicaCounts(replicas=_replicas(rs), available=_available_of_rs(rs)) for rs in ordered],
        )
        scaled_any = False
        for rs, target in zip(ordered, plan, strict=True):
            if target != _replicas(rs):
                scaled, _ = await self._scale_rs(d, rs, target)
                scaled_any = scaled_any or scaled
        return scaled_any

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> Result | None:
        d, new_rs, old_rs = await self._get_all(d, rs_list, create=False)
        all_rs = [*old_rs, *([new_rs] if new_rs else [])]

        scaled_down = False
        for rs in _active(old_rs):
            scaled, _ = await self._scale_rs(d, rs, 0)
            scaled_down = scaled_down or scaled
        if scaled_down:
            return await self._sync_rollout_status(d, self._fresh(all_rs), new_rs)
        if self._old_pods_running(old_rs):
            return await self._sync_rollout_status(d, all_rs, new_rs)

        if new_rs is None:
            d, new_rs, old_rs = await self._get_all(d, rs_list, create=True)
            assert new_rs is not None
            all_rs = [*old_rs, new_rs]
        if _replicas(new_rs) != _replicas(d):
            scaled, new_rs = await self._scale_rs(d, new_rs, _replicas(d))
            all_rs = [*old_rs, new_rs]
            if scaled:
                return await self._sync_rollout_status(d, all_rs, new_rs)
        if deployment_complete(d, status_of(d)):
            await self._cleanup(d, old_rs)
        return await self._sync_rollout_status(d, all_rs, new_rs)

    def _old_pods_running(self, old_rs: list[Obj]) -> bool:
        if any(int_field(status_of(rs), "replicas") > 0 for rs in old_rs):
            return True
        for rs in old_rs:
            for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, uid_of(rs) or ""):
                if not is_pod_terminal(pod):
                    return True
        return False

    def _fresh(self, sets: list[Obj]) -> list[Obj]:
        """The cached versions (statuses move while we work; sizes are re-read next pass)."""
        out = []
        for rs in sets:
            cached = self.replicasets.get(object_key(rs))
            out.append(cached if cached is not None and uid_of(cached) == uid_of(rs) else rs)
        return out

    async def _cleanup(self, d: Obj, old_rs: list[Obj]) -> None:
        """Delete the oldest empty old ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = spec_of(d).get("revisionHistoryLimit")
        if not isinstance(limit, int):
            return
        cleanable = [rs for rs in old_rs if not is_being_deleted(rs)]
        diff = len(cleanable) - limit
        if diff <= 0:
            return
        cleanable.sort(key=lambda rs: (revision_of(rs), creation_sort_key(rs)))
        for rs in cleanable[:diff]:
            status = status_of(rs)
            if (
                int_field(status, "replicas") != 0
                or _replicas(rs) != 0
                or generation_of(rs) > int_field(status, "observedGeneration")
            ):
                continue
            log.info(
                "deployment %s: deleting old replica set %s (revision %d)",
                object_key(d),
                name_of(rs),
                revision_of(rs),
            )
            with contextlib.suppress(NotFoundError):
                await self.client.delete(
                    REPLICASETS,
                    name_of(rs),
                    namespace=namespace_of(rs),
                    preconditions={"uid": uid_of(rs) or ""},
                )

    # -- status -----------------------------------------------------------------------------------

    def _condition(self, kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    def _calculate_status(self, d: Obj, all_rs: list[Obj], new_rs: Obj | None, now: str) -> dict[str, Any]:
        available = sum(int_field(status_of(rs), "availableReplicas") for rs in all_rs)
        total_spec = sum(_replicas(rs) for rs in all_rs)
        old = status_of(d)
        status: dict[str, Any] = {
            "observedGeneration": generation_of(d),
            "replicas": sum(int_field(status_of(rs), "replicas") for rs in all_rs),
            "updatedReplicas": int_field(status_of(new_rs), "replicas") if new_rs else 0,
            "readyReplicas": sum(int_field(status_of(rs), "readyReplicas") for rs in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(total_spec - available, 0),
        }
        for key in (
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ):
            if status[key] == 0:
                del status[key]  # omitempty, as upstream serialises it
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = deepcopy({"c": old["conditions"]})["c"]
        desired = _replicas(d)
        if available >= desired - max_unavailable(_strategy(d), desired):
            cond = self._condition(
                AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
            )
        else:
            cond = self._condition(
                AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now
            )
        set_deployment_condition(status, cond)
        return status

    async def _sync_status_only(self, d: Obj, all_rs: list[Obj], new_rs: Obj | None) -> None:
        now = format_time(wall_now(self.clock))
        status = self._calculate_status(d, all_rs, new_rs, now)
        if status != status_of(d):
            await write_status(self.client, DEPLOYMENTS, d, status)

    async def _check_paused_conditions(self, d: Obj) -> Obj:
        if _deadline(d) is None:
            return d
        cond = get_condition(status_of(d), PROGRESSING)
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return d  # a reported failure is not overwritten by "paused"
        paused_exists = cond is not None and cond.get("reason") == PAUSED
        now = format_time(wall_now(self.clock))
        status = deepcopy(status_of(d))
        if spec_of(d).get("paused") and not paused_exists:
            set_deployment_condition(
                status, self._condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
            )
        elif not spec_of(d).get("paused") and paused_exists:
            set_deployment_condition(
                status, self._condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
            )
        else:
            return d
        return await write_status(self.client, DEPLOYMENTS, d, status)

    async def _sync_rollout_status(self, d: Obj, all_rs: list[Obj], new_rs: Obj | None) -> Result | None:
        wall = wall_now(self.clock)
        now = format_time(wall)
        status = self._calculate_status(d, all_rs, new_rs, now)
        deadline = _deadline(d)
        if deadline is None:
            remove_deployment_condition(status, PROGRESSING)
        current = get_condition(status_of(d), PROGRESSING)
        is_complete = (
            int_field(status, "replicas") == int_field(status, "updatedReplicas")
            and current is not None
            and current.get("reason") == NEW_RS_AVAILABLE
        )
        what = f'ReplicaSet "{name_of(new_rs)}"' if new_rs is not None else f'Deployment "{name_of(d)}"'
        if deadline is not None and not is_complete:
            if deployment_complete(d, status):
                set_deployment_condition(
                    status,
                    self._condition(
                        PROGRESSING, "True", NEW_RS_AVAILABLE, f"{what} has successfully progressed.", now
                    ),
                )
            elif deployment_progressing(d, status):
                cond = self._condition(PROGRESSING, "True", RS_UPDATED, f"{what} is progressing.", now)
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_deployment_condition(status, PROGRESSING)
                set_deployment_condition(status, cond)
            elif deployment_timed_out(d, status, wall):
                set_deployment_condition(
                    status,
                    self._condition(
                        PROGRESSING, "False", TIMED_OUT, f"{what} has timed out progressing.", now
                    ),
                )
                if current is None or current.get("reason") != TIMED_OUT:
                    self.recorder.event(d, WARNING, TIMED_OUT, f"{what} has timed out progressing.")

        # Surface a ReplicaSet's failure to create pods (quota, admission) on the Deployment.
        failure = next(
            (
                c
                for rs in all_rs
                if (c := get_condition(status_of(rs), REPLICA_FAILURE)) and c.get("status") == "True"
            ),
            None,
        )
        if failure is not None:
            set_deployment_condition(
                status,
                self._condition(
                    REPLICA_FAILURE,
                    "True",
                    str(failure.get("reason", "")),
                    str(failure.get("message", "")),
                    now,
                ),
            )
        else:
            remove_deployment_condition(status, REPLICA_FAILURE)

        if status != status_of(d):
            d = await write_status(self.client, DEPLOYMENTS, d, status)
        return self._requeue_stuck(d, status, wall)

    def _requeue_stuck(self, d: Obj, status: dict[str, Any], now: datetime) -> Result | None:
        """Look again when the progress deadline would pass: nothing else will wake us."""
        deadline = _deadline(d)
        cond = get_condition(status, PROGRESSING)
        if deadline is None or cond is None or spec_of(d).get("paused"):
            return None
        if deployment_complete(d, status) or cond.get("reason") == TIMED_OUT:
            return None
        since = parse_optional_time(cond.get("lastUpdateTime"))
        if since is None:
            return None
        after = deadline - (now - since).total_seconds()
        return Result(requeue_after=max(after, 0.0) + 1.0)


__all__ = [
    "DeploymentController",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "equal_ignore_hash",
    "revision_of",
    "set_deployment_condition",
]
