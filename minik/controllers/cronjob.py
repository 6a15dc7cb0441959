"""CronJob: create a Job at every time a cron schedule names (upstream's ``cronjob_controllerv2``).

A CronJob is a Job template plus a schedule. The controller never polls: after each
reconcile it asks the work queue to bring the CronJob back just after its next scheduled
time (``Result(requeue_after=...)``, the queue's ``add_after``), and Job events bring it
back when one of its Jobs changes. Each reconcile::

    jobs      = the Jobs it controls (controller ownerReference, by uid)
    history   delete the oldest finished Jobs beyond successful/failedJobsHistoryLimit
    children  finished Jobs leave status.active; a Job gone from the API leaves it too;
              the newest completionTime of a succeeded Job → status.lastSuccessfulTime
    deleting / suspended / bad timeZone / bad schedule  → stop here
    decide    the most recent scheduled time that has not been run (see below), then
              too late (startingDeadlineSeconds passed)  → event MissSchedule
              already run (its Job is active, or it is lastScheduleTime) → nothing
              Forbid and a Job still active             → event JobAlreadyActive
              Replace                                   → delete the active Jobs first
              create Job "<cronjob>-<minutes since epoch>" → active += it,
                                                            lastScheduleTime = that time
    requeue   just after the next scheduled time

**Missed times.** Counting from ``lastScheduleTime`` (or the creation time), but never
further back than ``startingDeadlineSeconds``, the controller looks for scheduled times
that have passed. Only the *most recent* one is started -- a controller that was down for
a weekend starts one Job, not a storm of them. When more than 100 were missed, it says so
with a Warning event (``TooManyMissedTimes``), as upstream does.

**Exactly one Job per time.** The Job's name is derived from its scheduled time, so a
reconcile that runs on a stale cache (or after a crash between creating the Job and
writing the status) gets "already exists" rather than creating a second Job.

The decisions are pure functions of the CronJob, its Jobs and *now*
(:func:`most_recent_schedule_time`, :func:`decide`, :func:`jobs_to_clean_up`), so they
are tested with a fixed clock; the controller takes its wall-clock time from an
injectable :class:`~minik.client.clock.Clock`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from minik.api.cron import Schedule, ScheduleError, TimeZoneError, load_time_zone, parse_schedule
from minik.client.clock import Clock, wall_now
from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, NotFoundError
from minik.client.events import NORMAL, WARNING, EventRecorder, object_reference
from minik.client.informer import Informer, SharedInformerFactory
from minik.client.kinds import CRONJOBS, JOBS
from minik.client.objects import (
    Obj,
    creation_time,
    deepcopy,
    format_time,
    get_condition,
    is_being_deleted,
    name_of,
    namespace_of,
    object_key,
    parse_optional_time,
    spec_of,
    status_of,
    uid_of,
)
from minik.client.rest import APIClient
from minik.controllers.ownership import (
    CONTROLLER_UID_INDEX,
    controller_ref_to,
    index_by_controller_uid,
    resolve_controller,
)
from minik.controllers.status import write_status

log = logging.getLogger(__name__)

#: The annotation upstream puts on each Job: its scheduled time, in the CronJob's zone.
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"

#: More missed start times than this: warn instead of quietly starting the latest.
TOO_MANY_MISSED = 100

#: Wake up this long after a scheduled time, so that "now" is surely past it.
NEXT_SCHEDULE_DELTA = 0.1

Missed = Literal["none", "few", "many"]


# -- the arithmetic of schedules ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MostRecent:
    """Where the search for missed times started, the latest one found, how many were missed."""

    earliest: datetime
    time: datetime | None
    missed: Missed


def most_recent_schedule_time(
    cj: Obj, now: datetime, schedule: Schedule, *, include_deadline: bool
) -> MostRecent:
    """The most recent scheduled time in ``(earliest, now]``, as upstream computes it.

    ``earliest`` is ``lastScheduleTime`` or the creation time, moved up to
    ``now - startingDeadlineSeconds`` when ``include_deadline`` (times older than that may
    not be started anyway). Rather than walking every missed time -- a clock off by years
    would mean millions -- the count is estimated from the interval between two
    consecutive times, and only the last stretch is walked. Raises ``ScheduleError`` for
    a schedule that never fires.
    """
    status = status_of(cj)
    earliest = parse_optional_time(status.get("lastScheduleTime")) or creation_time(cj) or now
    deadline = spec_of(cj).get("startingDeadlineSeconds")
    if include_deadline and isinstance(deadline, int):
        earliest = max(earliest, now - timedelta(seconds=deadline))
    t1 = schedule.next_after(earliest)
    t2 = schedule.next_after(t1) if t1 is not None else None
    if t1 is None or t2 is None:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    if now < t1:
        return MostRecent(earliest, None, "none")
    if now < t2:
        return MostRecent(earliest, t1, "none")
    interval = round((t2 - t1).total_seconds())
    if interval < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // interval + 1
    # Step back one interval more than the estimate and let the schedule find the exact
    # times: schedules such as "30 6-16/4 * * 1-5" are not evenly spaced.
    most_recent: datetime | None = None
    start, step = t1 + timedelta(seconds=(missed - 2) * interval), interval
    while True:
        t: datetime | None = schedule.next_after(start)
        while t is not None and t <= now:
            most_recent = t
            t = schedule.next_after(t)
        if most_recent is not None or start < t1:
            break
        # The estimate overshot: "0 9 * * 1-5" looks daily from Thursday to Friday, but
        # Friday to Monday is three days. Look further back (upstream gives up here).
        start, step = start - timedelta(seconds=step), step * 2
    kind: Missed = "many" if missed > TOO_MANY_MISSED else "few" if missed > 1 else "none"
    return MostRecent(earliest, most_recent, kind)


def requeue_delay(cj: Obj, now: datetime, schedule: Schedule) -> float | None:
    """Seconds until just after the next scheduled time (None: it never comes)."""
    try:
        recent = most_recent_schedule_time(cj, now, schedule, include_deadline=False)
        base = recent.time or recent.earliest
    except ScheduleError:
        base = now
    nxt = schedule.next_after(base)
    if nxt is None:
        return None
    return max((nxt - now).total_seconds(), 0.0) + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime) -> str:
    """``<cronjob>-<scheduled time in minutes since the epoch>``: one name per scheduled time."""
    return f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime) -> Obj:
    """The Job to create for ``scheduled``: the template's labels, annotations and spec."""
    template = spec_of(cj).get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    zone = load_time_zone(spec_of(cj).get("timeZone"))
    annotations = dict(meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = _rfc3339(scheduled.astimezone(zone))
    metadata: dict[str, Any] = {
        "name": job_name(cj, scheduled),
        "namespace": namespace_of(cj),
        "annotations": annotations,
        "ownerReferences": [controller_ref_to(cj)],
    }
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": deepcopy(template.get("spec") or {}),
    }


def _rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339``: ``Z`` for UTC, ``+01:00`` otherwise."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# -- the decisions of one reconcile -------------------------------------------------------------


Action = Literal["wait", "too-late", "already-run", "forbidden", "start"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about the schedule now (see :func:`decide`)."""

    action: Action
    scheduled: datetime | None = None
    too_many_missed: bool = False
    replace: list[Obj] = field(default_factory=list)  # active Job refs to delete first (Replace)


def decide(cj: Obj, now: datetime, schedule: Schedule) -> Decision:
    """Should a Job start now, and for which scheduled time? (upstream's ``syncCronJob`` core).

    Assumes the CronJob is neither suspended nor being deleted and ``status.active``
    is current. Raises ``ScheduleError`` for a schedule that never fires.
    """
    recent = most_recent_schedule_time(cj, now, schedule, include_deadline=True)
    scheduled = recent.time
    if scheduled is None:
        return Decision("wait")
    too_many = recent.missed == "many"
    spec, status = spec_of(cj), status_of(cj)
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and scheduled + timedelta(seconds=deadline) < now:
        return Decision("too-late", scheduled, too_many)
    active = [a for a in status.get("active") or [] if isinstance(a, dict)]
    name = job_name(cj, scheduled)
    if any(a.get("name") == name for a in active) or parse_optional_time(
        status.get("lastScheduleTime")
    ) == scheduled.replace(microsecond=0):
        return Decision("already-run", scheduled, too_many)
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        return Decision("forbidden", scheduled, too_many)
    return Decision("start", scheduled, too_many, replace=list(active) if policy == "Replace" else [])


def finished_condition(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` when the Job has finished, else None."""
    for kind in ("Complete", "Failed"):
        cond = get_condition(status_of(job), kind)
        if cond is not None and cond.get("status") == "True":
            return kind
    return None


def jobs_to_clean_up(cj: Obj, jobs: list[Obj]) -> list[Obj]:
    """The oldest finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit``.

    Oldest by ``status.startTime`` (Jobs that never started count as newest), then name.
    """
    spec = spec_of(cj)
    doomed: list[Obj] = []
    for kind, limit_field in (
        ("Complete", "successfulJobsHistoryLimit"),
        ("Failed", "failedJobsHistoryLimit"),
    ):
        limit = spec.get(limit_field)
        if not isinstance(limit, int):
            continue
        finished = [j for j in jobs if finished_condition(j) == kind]
        excess = len(finished) - limit
        if excess > 0:
            finished.sort(key=_start_order)
            doomed += finished[:excess]
    return doomed


def _start_order(job: Obj) -> tuple[int, datetime, str]:
    started = parse_optional_time(status_of(job).get("startTime"))
    return (
        (1, datetime.max.replace(tzinfo=UTC), name_of(job)) if started is None else (0, started, name_of(job))
    )


# -- the controller -----------------------------------------------------------------------------


class CronJobController:
    """Starts Jobs on CronJobs' schedules (see the module docs)."""

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
        self.cronjobs: Informer = factory.informer(CRONJOBS)
        self.jobs: Informer = factory.informer(JOBS, indexers={CONTROLLER_UID_INDEX: index_by_controller_uid})
        self.controller = Controller("cronjob", self.reconcile, workers=workers, clock=clock)
        self.loops = [self.controller]

    async def run(self) -> None:
        """Register handlers, start the shared informers, wait for sync, run until cancelled."""
        self.cronjobs.add_event_handler(
            on_add=self.controller.enqueue_object,
            on_update=self._cronjob_updated,
            on_delete=self.controller.enqueue_object,
        )
        self.jobs.add_event_handler(
            on_add=self._job_changed,
            on_update=self._job_updated,
            on_delete=self._job_changed,
        )
        self.factory.start()
        await self.controller.run(wait_for=[self.cronjobs, self.jobs])

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        # A new schedule or zone moves the next run: reconcile now, which requeues for it.
        self.controller.enqueue_object(new)

    def _job_changed(self, job: Obj) -> None:
        owner = resolve_controller(job, "CronJob", self.cronjobs.get)
        if owner is not None:
            self.controller.enqueue(object_key(owner))

    def _job_updated(self, old: Obj, new: Obj) -> None:
        self._job_changed(new)
        self._job_changed(old)

    # -- reconcile --------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> Result | None:
        cj = self.cronjobs.get(key)
        if cj is None:
            return None
        jobs = [
            j
            for j in self.jobs.store.by_index(CONTROLLER_UID_INDEX, uid_of(cj) or "")
            if namespace_of(j) == namespace_of(cj)
        ]
        work = deepcopy(cj)
        status = work.setdefault("status", {})
        now = wall_now(self.clock)

        changed = await self._clean_up_history(work, jobs)
        changed |= await self._track_children(work, jobs)
        requeue: float | None = None
        error: BaseException | None = None
        if not is_being_deleted(cj):
            try:
                requeue, started = await self._schedule(work, now)
                changed |= started
            except Exception as e:  # write what we learnt, then retry
                error = e
        if changed:
            if not status.get("active"):
                status.pop("active", None)  # omitempty, as upstream serialises it
            await write_status(self.client, CRONJOBS, cj, status)
        if error is not None:
            raise error
        return Result(requeue_after=requeue) if requeue is not None else None

    async def _clean_up_history(self, cj: Obj, jobs: list[Obj]) -> bool:
        doomed = jobs_to_clean_up(cj, jobs)
        results = await asyncio.gather(*(self._delete_job(cj, j) for j in doomed))
        for job in doomed:
            jobs.remove(job)
        return any(results)

    async def _track_children(self, cj: Obj, jobs: list[Obj]) -> bool:
        """Bring ``status.active`` and ``lastSuccessfulTime`` in line with the Jobs."""
        status = cj["status"]
        changed = False
        active_uids = {a.get("uid") for a in status.get("active") or []}
        for job in jobs:
            finished = finished_condition(job)
            in_active = uid_of(job) in active_uids
            if not in_active and finished is None:
                if not await self._listed_in_live_cronjob(cj, job):
                    self.recorder.event(
                        cj,
                        WARNING,
                        "UnexpectedJob",
                        f"Saw a job that the controller did not create or forgot: {name_of(job)}",
                    )
            elif in_active and finished is not None:
                _remove_active(cj, uid_of(job))
                self.recorder.event(
                    cj, NORMAL, "SawCompletedJob", f"Saw completed job: {name_of(job)}, condition: {finished}"
                )
                changed = True
            if finished == "Complete":
                completed = parse_optional_time(status_of(job).get("completionTime"))
                last = parse_optional_time(status.get("lastSuccessfulTime"))
                if completed is not None and (last is None or completed > last):
                    status["lastSuccessfulTime"] = format_time(completed)
                    changed = True
        seen = {uid_of(j) for j in jobs}
        for ref in list(status.get("active") or []):
            if ref.get("uid") in seen:
                continue
            try:  # a slow watch is no proof: ask the API server
                await self.client.get(JOBS, str(ref.get("name")), namespace=namespace_of(cj))
            except NotFoundError:
                self.recorder.event(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                _remove_active(cj, ref.get("uid"))
                changed = True
        return changed

    async def _listed_in_live_cronjob(self, cj: Obj, job: Obj) -> bool:
        """Whether the API's CronJob (newer than our cache, perhaps) lists ``job`` as active."""
        try:
            live = await self.client.get(CRONJOBS, name_of(cj), namespace=namespace_of(cj))
        except NotFoundError:
            return False
        if uid_of(live) != uid_of(cj):
            return False
        if any(a.get("uid") == uid_of(job) for a in status_of(live).get("active") or []):
            cj["status"]["active"] = deepcopy(status_of(live))["active"]
            if status_of(live).get("lastScheduleTime"):
                cj["status"]["lastScheduleTime"] = status_of(live)["lastScheduleTime"]
            return True
        return False

    async def _schedule(self, cj: Obj, now: datetime) -> tuple[float | None, bool]:
        """Start the Job that is due, if any; returns (requeue delay, whether status changed)."""
        spec = spec_of(cj)
        try:
            load_time_zone(spec.get("timeZone"))
        except TimeZoneError as e:
            self.recorder.event(
                cj, WARNING, "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}: {e}"
            )
            return None, False
        if spec.get("suspend") is True:
            return None, False
        try:
            schedule = parse_schedule(str(spec.get("schedule", "")), spec.get("timeZone"))
        except (ScheduleError, TimeZoneError) as e:
            self.recorder.event(
                cj, WARNING, "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r} : {e}"
            )
            return None, False
        try:
            decision = decide(cj, now, schedule)
        except ScheduleError as e:
            self.recorder.event(
                cj, WARNING, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}"
            )
            return None, False
        if decision.too_many_missed:
            self.recorder.event(
                cj,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        requeue = requeue_delay(cj, now, schedule)
        scheduled = decision.scheduled
        if decision.action == "too-late" and scheduled is not None:
            self.recorder.event(
                cj, WARNING, "MissSchedule", f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}"
            )
        if decision.action == "forbidden":
            self.recorder.event(
                cj,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
        if decision.action != "start" or scheduled is None:
            return requeue, False
        for ref in decision.replace:
            running = {
                "metadata": {"name": ref.get("name"), "namespace": namespace_of(cj), "uid": ref.get("uid")}
            }
            if not await self._delete_job(cj, running):
                raise RuntimeError(f"could not replace job {namespace_of(cj)}/{ref.get('name')}")
        job = await self._create_job(cj, scheduled)
        if job is None:
            return requeue, bool(decision.replace)
        status = cj["status"]
        if not any(a.get("uid") == uid_of(job) for a in status.get("active") or []):
            status.setdefault("active", []).append(object_reference(job))
        status["lastScheduleTime"] = format_time(scheduled)
        return requeue_delay(cj, now, schedule), True

    async def _create_job(self, cj: Obj, scheduled: datetime) -> Obj | None:
        """Create the Job for ``scheduled``; the existing one if it is ours already, else None."""
        body = job_from_template(cj, scheduled)
        try:
            job = await self.client.create(JOBS, body, namespace=namespace_of(cj))
        except AlreadyExistsError:
            job = await self.client.get(JOBS, name_of(body), namespace=namespace_of(cj))
            ref = next(
                (r for r in job.get("metadata", {}).get("ownerReferences") or [] if r.get("controller")), None
            )
            if ref is None or ref.get("uid") != uid_of(cj):
                return None  # someone else's Job of that name: leave it be
            return job
        except Exception as e:
            self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: {e}")
            raise
        self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {name_of(job)}")
        return job

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        """Delete a Job and its pods (background propagation); drop it from ``status.active``."""
        try:
            await self.client.delete(
                JOBS,
                name_of(job),
                namespace=namespace_of(job),
                propagation_policy="Background",
                preconditions={"uid": uid_of(job) or ""},
            )
        except NotFoundError:
            pass
        except Exception as e:  # reported as upstream does; retried next time
            self.recorder.event(cj, WARNING, "FailedDelete", f"Deleted job: {e}")
            return False
        _remove_active(cj, uid_of(job))
        self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {name_of(job)}")
        return True


def _remove_active(cj: Obj, uid: Any) -> None:
    status = cj.setdefault("status", {})
    status["active"] = [a for a in status.get("active") or [] if a.get("uid") != uid]


def _rfc1123z(moment: datetime) -> str:
    """Go's ``time.RFC1123Z`` in UTC: ``Tue, 08 Dec 2026 01:00:00 +0000``."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


__all__ = [
    "SCHEDULED_TIMESTAMP_ANNOTATION",
    "TOO_MANY_MISSED",
    "CronJobController",
    "Decision",
    "MostRecent",
    "decide",
    "finished_condition",
    "job_from_template",
    "job_name",
    "jobs_to_clean_up",
    "most_recent_schedule_time",
    "requeue_delay",
]
