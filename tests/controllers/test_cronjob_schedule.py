"""The CronJob controller's decisions, at a fixed "now": which scheduled time runs, and whether.

No API server and no sleeping: the decisions are functions of the CronJob, its Jobs and
the time, so each case states the time it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minik.api.cron import ScheduleError, parse_schedule
from minik.controllers.cronjob import (
    SCHEDULED_TIMESTAMP_ANNOTATION,
    decide,
    job_from_template,
    job_name,
    jobs_to_clean_up,
    most_recent_schedule_time,
    requeue_delay,
)

CREATED = datetime(2026, 12, 8, 10, 0, 30, tzinfo=UTC)
EVERY_MINUTE = parse_schedule("*/1 * * * *")
HOURLY = parse_schedule("@hourly")


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cronjob(*, last: datetime | None = None, active: tuple[str, ...] = (), **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last is not None:
        status["lastScheduleTime"] = stamp(last)
    if active:
        status["active"] = [{"kind": "Job", "name": n, "namespace": "ns", "uid": f"uid-{n}"} for n in active]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": "ns", "uid": "cj-uid", "creationTimestamp": stamp(CREATED)},
        "spec": {
            "schedule": "*/1 * * * *",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c"}]}}},
            },
            **spec,
        },
        "status": status,
    }


def minute(m: int, s: int = 0) -> datetime:
    return datetime(2026, 12, 8, 10, m, s, tzinfo=UTC)


def test_nothing_is_due_before_the_first_scheduled_time() -> None:
    assert decide(cronjob(), minute(0, 59), EVERY_MINUTE).action == "wait"
    # ...and the controller comes back just after it (not every second).
    assert requeue_delay(cronjob(), minute(0, 59), EVERY_MINUTE) == pytest.approx(1.1)


def test_the_due_time_starts_a_job_named_after_it() -> None:
    d = decide(cronjob(), minute(1, 2), EVERY_MINUTE)
    assert (d.action, d.scheduled, d.too_many_missed) == ("start", minute(1), False)
    assert job_name(cronjob(), minute(1)) == f"tick-{int(minute(1).timestamp()) // 60}"
    # After it ran (lastScheduleTime = 10:01), the next is 10:02: requeue in 58 s + delta.
    assert requeue_delay(cronjob(last=minute(1)), minute(1, 2), EVERY_MINUTE) == pytest.approx(58.1)


def test_only_the_most_recent_missed_time_starts() -> None:
    # Down from 10:01 to 10:07:30: six times missed, one Job (for 10:07), no storm.
    recent = most_recent_schedule_time(
        cronjob(last=minute(1)), minute(7, 30), EVERY_MINUTE, include_deadline=True
    )
    assert (recent.time, recent.missed) == (minute(7), "few")
    d = decide(cronjob(last=minute(1)), minute(7, 30), EVERY_MINUTE)
    assert (d.action, d.scheduled, d.too_many_missed) == ("start", minute(7), False)


def test_unevenly_spaced_schedules_find_the_right_time() -> None:
    schedule = parse_schedule("30 6-16/4 * * 1-5")  # 06:30, 10:30, 14:30 on weekdays
    cj = cronjob(last=datetime(2026, 12, 4, 14, 30, tzinfo=UTC))  # a Friday
    d = decide(cj, datetime(2026, 12, 8, 12, 0, tzinfo=UTC), schedule)  # the next Tuesday noon
    assert d.scheduled == datetime(2026, 12, 8, 10, 30, tzinfo=UTC)


def test_every_counts_from_the_last_run() -> None:
    every = parse_schedule("@every 90s")
    # Created 10:00:30: due at 10:02:00, 10:03:30, 10:05:00, ...
    d = decide(cronjob(schedule="@every 90s"), minute(5, 10), every)
    assert (d.action, d.scheduled) == ("start", minute(5))
    assert requeue_delay(
        cronjob(schedule="@every 90s", last=minute(5)), minute(5, 10), every
    ) == pytest.approx(80.1)


def test_a_weekend_does_not_hide_the_most_recent_weekday() -> None:
    weekdays = parse_schedule("0 9 * * 1-5")
    cj = cronjob(last=datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # Wednesday
    # Down from Thursday 08:00 to Monday 08:00: Thursday and Friday were missed.
    d = decide(cj, datetime(2026, 12, 7, 8, 0, tzinfo=UTC), weekdays)
    assert (d.action, d.scheduled) == ("start", datetime(2026, 12, 4, 9, 0, tzinfo=UTC))


def test_too_many_missed_times_warns_but_starts_only_the_latest() -> None:
    now = minute(0) + timedelta(days=3)  # 3 days of minutes: far more than 100
    d = decide(cronjob(last=minute(0)), now, EVERY_MINUTE)
    assert (d.action, d.scheduled, d.too_many_missed) == ("start", now, True)
    # With startingDeadlineSeconds the search starts at now - deadline: nothing "too many".
    d = decide(cronjob(last=minute(0), startingDeadlineSeconds=200), now + timedelta(seconds=5), EVERY_MINUTE)
    assert (d.action, d.scheduled, d.too_many_missed) == ("start", now, False)


def test_starting_deadline() -> None:
    # Due at 10:01, it is 10:01:40: within a 60 s deadline it starts...
    assert decide(cronjob(startingDeadlineSeconds=60), minute(1, 40), EVERY_MINUTE).action == "start"
    # ...within 30 s it does not; nothing newer is due either, so it is simply missed.
    hourly = cronjob(schedule="@hourly", startingDeadlineSeconds=30)
    assert decide(hourly, minute(0) + timedelta(hours=1, seconds=20), HOURLY).action == "start"
    late = decide(hourly, minute(0) + timedelta(hours=1, seconds=31), HOURLY)
    assert late.action == "wait"  # outside the window the time is not even considered
    # The search starts at now - deadline, so an older time is never picked up later.
    cj = cronjob(last=minute(0), startingDeadlineSeconds=30)
    d = decide(cj, minute(1, 45), parse_schedule("1 * * * *"))
    assert d.action == "wait"
    d = decide(cronjob(startingDeadlineSeconds=0), minute(1, 1), EVERY_MINUTE)
    assert d.action == "wait"


def test_forbid_skips_while_a_job_is_active() -> None:
    forbid = cronjob(concurrencyPolicy="Forbid", last=minute(1), active=("tick-1",))
    assert decide(forbid, minute(2, 1), EVERY_MINUTE).action == "forbidden"
    forbid_idle = cronjob(concurrencyPolicy="Forbid", last=minute(1))
    assert decide(forbid_idle, minute(2, 1), EVERY_MINUTE).action == "start"
    allow = cronjob(last=minute(1), active=("tick-1",))
    d = decide(allow, minute(2, 1), EVERY_MINUTE)
    assert (d.action, d.replace) == ("start", [])


def test_replace_names_the_running_jobs_to_delete() -> None:
    cj = cronjob(concurrencyPolicy="Replace", last=minute(1), active=("tick-1",))
    d = decide(cj, minute(2, 1), EVERY_MINUTE)
    assert d.action == "start"
    assert [r["name"] for r in d.replace] == ["tick-1"]


def test_a_time_already_run_is_not_run_again() -> None:
    # Stale cache: the Job for 10:02 is listed as active but lastScheduleTime is older.
    cj = cronjob(last=minute(1), active=(job_name(cronjob(), minute(2)),))
    assert decide(cj, minute(2, 5), EVERY_MINUTE).action == "already-run"


def test_a_schedule_that_never_fires_is_an_error() -> None:
    with pytest.raises(ScheduleError):
        decide(cronjob(schedule="0 0 30 2 *"), minute(5), parse_schedule("0 0 30 2 *"))


def test_the_job_carries_template_owner_and_scheduled_time() -> None:
    cj = cronjob(timeZone="Europe/Paris")
    job = job_from_template(cj, minute(1))
    meta = job["metadata"]
    assert meta["name"] == job_name(cj, minute(1))
    assert meta["labels"] == {"team": "a"}
    assert meta["annotations"] == {"note": "x", SCHEDULED_TIMESTAMP_ANNOTATION: "2026-12-08T11:01:00+01:00"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "tick",
            "uid": "cj-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    utc = job_from_template(cronjob(), minute(1))["metadata"]["annotations"]
    assert utc[SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-12-08T10:01:00Z"


def finished_job(name: str, kind: str, started: int | None) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": kind, "status": "True"}]}
    if started is not None:
        status["startTime"] = stamp(minute(started))
    return {"metadata": {"name": name}, "status": status}


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    jobs = [
        finished_job("ok-3", "Complete", 3),
        finished_job("ok-1", "Complete", 1),
        finished_job("ok-2", "Complete", 2),
        finished_job("ok-never", "Complete", None),  # never started: counts as the newest
        finished_job("bad-1", "Failed", 1),
        finished_job("bad-2", "Failed", 2),
        {"metadata": {"name": "running"}, "status": {"startTime": stamp(minute(0))}},
    ]
    cj = cronjob(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    assert [j["metadata"]["name"] for j in jobs_to_clean_up(cj, jobs)] == ["ok-1", "ok-2", "bad-1"]
    keep_all = cronjob()  # no limits set: nothing is deleted
    assert jobs_to_clean_up(keep_all, jobs) == []
    zero = cronjob(successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0)
    assert len(jobs_to_clean_up(zero, jobs)) == 6
