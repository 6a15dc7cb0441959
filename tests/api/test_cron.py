"""Cron schedules: upstream's grammar and errors, descriptors, time zones, next times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minik.api.cron import ScheduleError, TimeZoneError, load_time_zone, parse_schedule
from minik.api.defaults import apply_defaults
from minik.api.validation import group_kind, validate_create


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/1 * * * *", "2026-12-08T00:01:00", "2026-12-08T00:02:00"),  # strictly after
        ("*/15 * * * *", "2026-12-08T00:01:30", "2026-12-08T00:15:00"),
        ("@hourly", "2026-12-08T00:01:00", "2026-12-08T01:00:00"),
        ("@daily", "2026-12-08T00:01:00", "2026-12-09T00:00:00"),
        ("@weekly", "2026-12-08T00:01:00", "2026-12-13T00:00:00"),  # Sunday
        ("@monthly", "2026-12-08T00:01:00", "2027-01-01T00:00:00"),
        ("@yearly", "2026-12-08T00:01:00", "2027-01-01T00:00:00"),
        ("0 0 ? * MON", "2026-12-08T00:01:00", "2026-12-14T00:00:00"),  # names and ?
        ("0 9 * jan-mar mon-fri", "2026-12-08T00:01:00", "2027-01-01T09:00:00"),
        ("0 0 13 * 5", "2026-12-08T00:01:00", "2026-12-11T00:00:00"),  # 13th OR a Friday
    ],
)
def test_next_after(expression: str, after: str, expected: str) -> None:
    assert parse_schedule(expression).next_after(at(after)) == at(expected)


def test_time_zone_and_daylight_saving() -> None:
    berlin = parse_schedule("30 2 * * *", "Europe/Berlin")
    # 02:30 does not exist on 29 March 2026 in Berlin (clocks jump 02:00 → 03:00).
    nxt = berlin.next_after(at("2026-03-28T02:00:00"))
    assert nxt is not None and nxt.tzinfo is not None
    assert berlin.next_after(at("2026-12-08T00:00:00")) == at("2026-12-08T01:30:00")  # 02:30 CET


def test_every_is_a_constant_delay_in_whole_seconds() -> None:
    assert parse_schedule("@every 1h30m").next_after(at("2026-12-08T00:00:10")) == at("2026-12-08T01:30:10")
    half = parse_schedule("@every 90s").next_after(datetime(2026, 12, 8, 0, 0, 10, 700000, tzinfo=UTC))
    assert half == at("2026-12-08T00:01:40")  # sub-second parts dropped, as robfig does
    assert parse_schedule("@every 300ms").next_after(at("2026-12-08T00:00:00")) == at("2026-12-08T00:00:01")


def test_never_firing_schedule_parses_but_has_no_next_time() -> None:
    assert parse_schedule("0 0 30 2 *").next_after(at("2026-12-08T00:00:00")) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("0 * * * * *", "expected exactly 5 fields, found 6"),  # no seconds field
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("0 0 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every 5x", 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'),
        ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ],
)
def test_bad_schedules_get_upstreams_message(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(expression)
    assert message in str(info.value)


def test_time_zones() -> None:
    assert load_time_zone(None) is UTC
    assert str(load_time_zone("America/New_York")) == "America/New_York"
    for bad in ("Mars/Olympus", "Local", "../etc/passwd"):
        with pytest.raises(TimeZoneError, match="unknown time zone"):
            load_time_zone(bad)


def cronjob(name: str = "hello", **spec: object) -> dict[str, object]:
    body: dict[str, object] = {
        "schedule": "*/1 * * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}
                }
            }
        },
    }
    body.update(spec)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": body,
    }


def errors(obj: dict[str, object]) -> list[str]:
    apply_defaults(obj)
    return [f"{e.field}: {e.detail}" for e in validate_create(obj, namespaced=True, kind=group_kind(obj))]


def test_cronjob_validation() -> None:
    defaulted = cronjob()
    assert errors(defaulted) == []
    spec = defaulted["spec"]
    assert isinstance(spec, dict)
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert errors(cronjob(timeZone="Europe/Paris", schedule="@hourly")) == []
    assert errors(cronjob(schedule="61 * * * *")) == [
        "spec.schedule: end of range (61) above maximum (59): 61"
    ]
    assert errors(cronjob(schedule="TZ=UTC 0 * * * *")) == [
        "spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    ]
    assert "spec.timeZone: unknown time zone Mars/Olympus" in errors(cronjob(timeZone="Mars/Olympus"))
    assert any(
        e.startswith("spec.timeZone: timeZone must be an explicit") for e in errors(cronjob(timeZone="Local"))
    )
    assert errors(cronjob("x" * 53)) == ["metadata.name: must be no more than 52 characters"]
    assert errors(cronjob("x" * 52)) == []
    assert any(e.startswith("spec.concurrencyPolicy") for e in errors(cronjob(concurrencyPolicy="Sometimes")))
    assert any(
        e.startswith("spec.startingDeadlineSeconds") for e in errors(cronjob(startingDeadlineSeconds=-1))
    )
    bad_template = cronjob()
    bad_template["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"  # type: ignore[index]
    assert any(
        e.startswith("spec.jobTemplate.spec.template.spec.restartPolicy") for e in errors(bad_template)
    )
