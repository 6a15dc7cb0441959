"""Job: run pods until enough of them succeed, or give up.

A Job is the batch counterpart of a ReplicaSet: its pods are *meant* to
finish. ``spec.completions`` successes are wanted (unset: any one success,
the "work queue" pattern), at most ``spec.parallelism`` pods run at once, and
the Job fails after ``backoffLimit`` failed pods or once it has been active for
``activeDeadlineSeconds``. Each reconcile::

    pods      = claim(its pods)                     (they carry the job's uid label)
    count     newly finished pods                   (see "Counting" below)
    finished? failed > backoffLimit                 → Failed / BackoffLimitExceeded
              startTime + activeDeadline passed     → Failed / DeadlineExceeded
              succeeded >= completions              → Complete
              (a failed Job deletes its running pods)
    else      want = min(parallelism, completions - succeeded)
              create or delete pods to have `want` active,
              waiting 10 s · 2^(failures-1) (≤ 6 min) after failures
    status    active, ready, terminating, succeeded, failed, startTime,
              completionTime, conditions Complete/Failed (and Suspended)

**Counting exactly once.** Finished pods may be deleted by anyone at any time
(pod GC, ``kubectl delete``), and a controller that only counts the pods it can
see would forget successes and failures. Like upstream, every pod is created
with the finalizer ``batch.kubernetes.io/job-tracking``, which keeps it in the
API until the controller lets go, and counting is a three-step handshake:

1. a finished pod that still has the finalizer and is not yet recorded is
   added by uid to ``status.uncountedTerminatedPods`` — and that status is
   written *before* anything else;
2. the finalizer is removed from every pod listed there;
3. uids whose finalizer is gone (or whose pod no longer exists) move from the
   uncounted lists into ``succeeded`` / ``failed``.

If the controller crashes between any two steps, the next reconcile resumes
from what the API says: a pod is either still holding its finalizer (not
counted yet) or listed as uncounted (counted exactly once in step 3). A pod
deleted while still running counts as failed (its work did not finish). Pods
the controller itself removes because they are no longer wanted (parallelism
lowered, Job suspended or already complete) lose their finalizer first and are
not counted. Pods whose Job is gone are released by a second, small queue
(:meth:`JobController.sync_orphan_pod`) so they are never stuck terminating.

``restartPolicy: OnFailure`` restarts containers inside the pod instead of
failing it, so there the container restarts count towards ``backoffLimit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from minik.client.clock import REAL_CLOCK, Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import JOBS, PODS
from minik.client.objects import (
    Obj,
    controller_ref,
    deepcopy,
    finalizers_of,
    format_time,
    get_condition,
    int_field,
    is_being_deleted,
    make_key,
    name_of,
    namespace_of,
    object_key,
    parse_optional_time,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient, PatchType
from minik.controllers.expectations import Expectations
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    ClaimManager,
    OwnedObjectEvents,
    claim_candidates,
    index_by_controller_uid,
    resolve_controller,
    selector_for,
)
from minik.controllers.podcontrol import PodControl, pod_from_template
from minik.controllers.pods import deletion_order, is_pod_active, is_pod_ready, is_pod_terminal, pod_phase
from minik.controllers.status import set_condition, write_status

log = logging.getLogger(__name__)

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in finalizers_of(pod)


def is_finished(status: dict[str, Any]) -> bool:
    for kind in (COMPLETE, FAILED):
        cond = get_condition(status, kind)
        if cond is not None and cond.get("status") == "True":
            return True
    return False


def on_failure_restarts(pods: list[Obj]) -> int:
    total = 0
    for pod in pods:
        for list_name in ("containerStatuses", "initContainerStatuses"):
            for cs in status_of(pod).get(list_name) or []:
                if isinstance(cs, dict):
                    total += int_field(cs, "restartCount")
    return total


def wanted_active(*, parallelism: int, completions: int | None, succeeded: int, active: int) -> int:
    """How many pods should be running now (upstream's ``manageJob`` arithmetic)."""
    if completions is None:
        # Work queue: keep `parallelism` running until one succeeds, then let the rest finish.
        return active if succeeded > 0 else parallelism
    return max(0, min(completions - succeeded, parallelism))


class JobController:
    """Runs Jobs' pods to completion (see the module docs)."""

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        workers: int = 2,
        pod_failure_backoff: float = 10.0,
        max_pod_failure_backoff: float = 360.0,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.factory = factory
        self.recorder = recorder
        self.pod_failure_backoff = pod_failure_backoff
        self.max_pod_failure_backoff = max_pod_failure_backoff
        self.clock = clock
        self._time = clock or REAL_CLOCK
        self.expectations = Expectations(clock=clock)
        self.pod_control = PodControl(client, recorder, self.expectations)
        self.jobs: Informer = factory.informer(JOBS)
        self.pods: Informer = factory.informer(PODS, indexers={CONTROLLER_UID_INDEX: index_by_controller_uid})
        self.controller = Controller("job", self.reconcile, workers=workers, clock=clock)
        self.orphan_loop = Controller("job-orphan-pods", self.sync_orphan_pod, workers=1, clock=clock)
        self.loops = [self.controller, self.orphan_loop]
        # job key → (failed seen, succeeded seen, consecutive failures, monotonic time of the last failure)
        self._failures: dict[str, tuple[int, int, int, float]] = {}

    # -- wiring -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.jobs.add_event_handler(
            on_add=self.controller.enqueue_object,
            on_update=lambda old, new: self.controller.enqueue_object(new),
            on_delete=self._job_deleted,
        )
        OwnedObjectEvents(
            self.controller, self.jobs, self._owner_of, expectations=self.expectations
        ).register(self.pods)
        self.pods.add_event_handler(
            on_add=self._pod_without_job, on_update=lambda old, new: self._pod_without_job(new)
        )
        self.factory.start()
        await asyncio.gather(
            self.controller.run(wait_for=[self.jobs, self.pods]),
            self.orphan_loop.run(wait_for=[self.jobs, self.pods]),
        )

    def _owner_of(self, pod: Obj) -> Obj | None:
        return resolve_controller(pod, "Job", self.jobs.get)

    def _job_deleted(self, job: Obj) -> None:
        self.controller.enqueue_object(job)
        for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, uid_of(job) or ""):
            if has_tracking_finalizer(pod):
                self.orphan_loop.enqueue(object_key(pod))

    def _pod_without_job(self, pod: Obj) -> None:
        """A pod that still holds our tracking finalizer but has no Job (any more): release it."""
        if has_tracking_finalizer(pod) and self._owner_of(pod) is None:
            self.orphan_loop.enqueue(object_key(pod))

    # -- orphans ----------------------------------------------------------------------------------

    async def sync_orphan_pod(self, key: str) -> Result | None:
        """Release the tracking finalizer of a pod whose Job is gone (or that left its Job)."""
        pod = self.pods.get(key)
        if pod is None or not has_tracking_finalizer(pod):
            return None
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "Job":
            job_key = make_key(namespace_of(pod), str(ref.get("name")))
            if self._owner_of(pod) is not None:
                self.controller.enqueue(job_key)  # it has a Job: that Job's sync counts it
                return None
            try:
                live = await self.client.get(JOBS, str(ref.get("name")), namespace=namespace_of(pod))
                if uid_of(live) == ref.get("uid"):
                    self.controller.enqueue(job_key)  # our cache is behind; the Job exists
                    return None
            except NotFoundError:
                pass
        await self._remove_finalizer(pod)
        return None

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        job = self.jobs.get(key)
        if job is None:
            self.expectations.delete(key)
            self._failures.pop(key, None)
            return None
        selector = selector_for(job)
        if selector.empty:
            self.recorder.event(job, WARNING, "SelectingAll", "This job is selecting all pods. Skipping.")
            return None
        pods = await ClaimManager(self.client, job, JOBS, selector).claim(
            PODS, claim_candidates(self.pods.store, job)
        )

        spec = spec_of(job)
        wall = wall_now(self.clock)
        now = format_time(wall)
        status: dict[str, Any] = deepcopy(status_of(job))
        finished_before = is_finished(status)
        job_deleting = is_being_deleted(job)

        uncounted = status.get("uncountedTerminatedPods") or {}
        succ_uids = {str(u) for u in uncounted.get("succeeded") or []}
        fail_uids = {str(u) for u in uncounted.get("failed") or []}
        before = (set(succ_uids), set(fail_uids))

        # 1. Newly finished pods (still holding our finalizer) become "uncounted".
        if not job_deleting:
            for pod in pods:
                uid = uid_of(pod) or ""
                if not has_tracking_finalizer(pod) or uid in succ_uids or uid in fail_uids:
                    continue
                if pod_phase(pod) == "Succeeded":
                    succ_uids.add(uid)
                elif pod_phase(pod) == "Failed" or is_being_deleted(pod):
                    fail_uids.add(uid)

        active = [p for p in pods if is_pod_active(p)]
        succeeded = int_field(status, "succeeded") + len(succ_uids)
        failed = int_field(status, "failed") + len(fail_uids)

        # 2. Is the Job finished?
        finish: tuple[str, str, str] | None = None
        suspended = bool(spec.get("suspend"))
        if not finished_before and not job_deleting and not suspended:
            if status.get("startTime") is None:
                status["startTime"] = now
            completions = spec.get("completions") if isinstance(spec.get("completions"), int) else None
            backoff_limit = int_field(spec, "backoffLimit", 6)
            restarts_exceeded = False
            if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
                restarts = on_failure_restarts(active)
                restarts_exceeded = restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_optional_time(status.get("startTime"))
            if failed > backoff_limit or restarts_exceeded:
                finish = (FAILED, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            elif (
                isinstance(deadline, int)
                and started is not None
                and (wall - started).total_seconds() >= deadline
            ):
                finish = (FAILED, "DeadlineExceeded", "Job was active longer than specified deadline")
            elif (completions is not None and succeeded >= completions) or (
                completions is None and succeeded > 0 and not active
            ):
                finish = (COMPLETE, "CompletionsReached", "Reached expected number of succeeded pods")
        if finish is not None and finish[0] == FAILED:
            # Pods still running when a Job fails are failures too; they get deleted below.
            for pod in active:
                if has_tracking_finalizer(pod):
                    fail_uids.add(uid_of(pod) or "")
            failed = int_field(status, "failed") + len(fail_uids)

        # 3. Record the uncounted uids before letting go of any pod.
        if (succ_uids, fail_uids) != before:
            status["uncountedTerminatedPods"] = {"succeeded": sorted(succ_uids), "failed": sorted(fail_uids)}
            job = await write_status(self.client, JOBS, job, status)

        # 4. Release their finalizers, then count them for good.
        by_uid = {uid_of(p): p for p in pods}
        release = [
            p
            for p in pods
            if has_tracking_finalizer(p)
            and (job_deleting or uid_of(p) in succ_uids or uid_of(p) in fail_uids)
        ]
        results = await asyncio.gather(*(self._remove_finalizer(p) for p in release), return_exceptions=True)
        released = {
            uid_of(p) for p, r in zip(release, results, strict=True) if not isinstance(r, BaseException)
        }
        errors = [r for r in results if isinstance(r, BaseException)]
        for uids, field in ((succ_uids, "succeeded"), (fail_uids, "failed")):
            done = {
                u for u in uids if u in released or u not in by_uid or not has_tracking_finalizer(by_uid[u])
            }
            status[field] = int_field(status, field) + len(done)
            uids -= done
        status["uncountedTerminatedPods"] = {
            k: sorted(v) for k, v in (("succeeded", succ_uids), ("failed", fail_uids)) if v
        }

        # 5. Create or delete pods.
        requeue: float | None = None
        deleted: list[Obj] = []
        if job_deleting or finished_before:
            pass
        elif finish is not None:
            # Finished: nothing may keep running.
            deleted = await self._delete_pods(job, active, release_first=finish[0] == COMPLETE)
        elif suspended:
            deleted = await self._delete_pods(job, active, release_first=True)
        elif self.expectations.satisfied(key):
            deleted, requeue = await self._manage(key, job, active, succeeded, failed)
        deleted_uids = {uid_of(p) for p in deleted}
        still_active = [p for p in active if uid_of(p) not in deleted_uids]

        # 6. Status.
        status["active"] = len(still_active)
        status["ready"] = sum(1 for p in still_active if is_pod_ready(p))
        status["terminating"] = sum(1 for p in pods if is_being_deleted(p) and not is_pod_terminal(p)) + len(
            deleted
        )
        conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
        if suspended and not finished_before:
            if set_condition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now):
                self.recorder.event(job, NORMAL, SUSPENDED, "Job suspended")
        elif (
            get_condition({"conditions": conditions}, SUSPENDED) is not None
            and not finished_before
            and set_condition(conditions, SUSPENDED, "False", "JobResumed", "Job resumed", now)
        ):
            status["startTime"] = now  # the active deadline counts from the resume
            self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
        if finish is not None:
            kind, reason, message = finish
            set_condition(conditions, kind, "True", reason, message, now)
            if kind == COMPLETE:
                status["completionTime"] = now
                self.recorder.event(job, NORMAL, "Completed", "Job completed")
            else:
                self.recorder.event(job, WARNING, reason, message)
        if conditions:
            status["conditions"] = conditions
        for field in ("active", "succeeded", "failed"):
            if not status.get(field):
                status.pop(field, None)  # omitempty, as upstream serialises it
        if status != status_of(job):
            await write_status(self.client, JOBS, job, status)
        if errors:
            raise errors[0]

        # 7. Wake up for the active deadline, which no event announces.
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_optional_time(status.get("startTime"))
        if finish is None and not finished_before and not suspended and isinstance(deadline, int) and started:
            left = deadline - (wall_now(self.clock) - started).total_seconds()
            requeue = max(left, 0.0) + 0.1 if requeue is None else min(requeue, max(left, 0.0) + 0.1)
        return Result(requeue_after=requeue) if requeue is not None else None

    async def _manage(
        self, key: str, job: Obj, active: list[Obj], succeeded: int, failed: int
    ) -> tuple[list[Obj], float | None]:
        """Create or delete pods towards the wanted number of active pods."""
        spec = spec_of(job)
        completions = spec.get("completions") if isinstance(spec.get("completions"), int) else None
        want = wanted_active(
            parallelism=int_field(spec, "parallelism", 1),
            completions=completions,
            succeeded=succeeded,
            active=len(active),
        )
        if len(active) > want:
            victims = deletion_order(active)[: len(active) - want]
            return await self._delete_pods(job, victims, release_first=True), None
        missing = want - len(active)
        if missing <= 0:
            return [], None
        wait = self._backoff_wait(key, succeeded, failed)
        if wait > 0:
            return [], wait
        template = spec.get("template") or {}

        def new_pod(_: int) -> Obj:
            pod = pod_from_template(template, job)
            pod["metadata"]["finalizers"] = [*pod["metadata"].get("finalizers", []), TRACKING_FINALIZER]
            return pod

        await self.pod_control.sync_pods(key, job, create=missing, new_pod=new_pod)
        return [], None

    def _backoff_wait(self, key: str, succeeded: int, failed: int) -> float:
        """Seconds to wait before replacing failed pods: 10 s, 20 s, 40 s … (≤ 6 min)."""
        now = self._time.now()
        seen_failed, seen_succeeded, consecutive, since = self._failures.get(key, (0, 0, 0, now))
        if succeeded > seen_succeeded:
            consecutive = 0
        if failed > seen_failed:
            consecutive += failed - seen_failed
            since = now
        self._failures[key] = (failed, succeeded, consecutive, since)
        if consecutive == 0:
            return 0.0
        delay = min(self.pod_failure_backoff * float(2 ** (consecutive - 1)), self.max_pod_failure_backoff)
        return max(0.0, since + delay - now)

    async def _delete_pods(self, job: Obj, pods: list[Obj], *, release_first: bool) -> list[Obj]:
        """Delete pods (optionally releasing their finalizer first so they are not counted)."""
        if not pods:
            return []

        async def release(pod: Obj) -> None:
            if release_first and has_tracking_finalizer(pod):
                await self._remove_finalizer(pod)

        await self.pod_control.sync_pods(object_key(job), job, delete=pods, before_delete=release)
        return pods

    async def _remove_finalizer(self, pod: Obj) -> None:
        with contextlib.suppress(NotFoundError):
            await self.client.patch(
                PODS,
                name_of(pod),
                {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}},
                namespace=namespace_of(pod),
                type=PatchType.STRATEGIC,
            )


__all__ = [
    "JOB_NAME_LABEL",
    "TRACKING_FINALIZER",
    "JobController",
    "has_tracking_finalizer",
    "is_finished",
    "wanted_active",
]
