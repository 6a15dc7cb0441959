"""Cron schedules as CronJobs spell them: parsing, checking and "when is the next run?".

Upstream parses ``spec.schedule`` with ``robfig/cron``'s ``ParseStandard``: exactly five
fields (minute, hour, day of month, month, day of week), or one of the descriptors
``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
``@hourly``. Within a field: ``*`` or ``?``, numbers, ranges ``a-b``, steps ``/n`` and
lists ``a,b``; months and weekdays may be named (``JAN``, ``mon``). When both
day-of-month and day-of-week are restricted, a day matching *either* is taken (classic
cron). The schedule is read in ``spec.timeZone`` (an IANA name), or in UTC when it is
unset (upstream uses the controller-manager's local zone; minik's is UTC).

The arithmetic -- the next matching minute after a moment, daylight saving included --
comes from ``croniter`` (the maintained package under pallets-eco). ``croniter`` accepts
more than upstream does (six or seven fields, ``L``, ``W``, ``#``, ``H``, ranges that wrap
around), so :func:`parse_schedule` first checks the expression against upstream's grammar
and answers with upstream's error messages; only an expression upstream would accept
reaches ``croniter``. ``cronsim`` was the other candidate: small and strict, but it has
no ``@hourly``-style descriptors and no ``?``, both of which upstream accepts.

``@every <duration>`` (robfig's constant-delay schedule, a Go duration such as ``90s`` or
``1h30m``) is handled here, without croniter: every that long, in whole seconds (at least
one), counted from the moment it is asked about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

#: Descriptors and the five-field schedule each stands for (robfig's ``parseDescriptor``).
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True, slots=True)
class _Field:
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field(0, 59, {}),  # minute
    _Field(0, 23, {}),  # hour
    _Field(1, 31, {}),  # day of month
    _Field(1, 12, _MONTHS),  # month
    _Field(0, 6, _DAYS),  # day of week
)

_TZ_PREFIX = re.compile(r"^(?:CRON_)?TZ=(\S+)\s+")

#: Go's time.ParseDuration units, in seconds.
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")


class ScheduleError(ValueError):
    """The schedule does not parse; the message is upstream's."""


class TimeZoneError(ValueError):
    """The time zone is not a known IANA name."""


def load_time_zone(name: str | None) -> tzinfo:
    """The zone a schedule is read in: ``name`` (IANA), or UTC when unset."""
    if name is None or name == "":
        return UTC
    if name.lower() == "local" or name.startswith("/") or ".." in name.split("/"):
        raise TimeZoneError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(f"unknown time zone {name}") from None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: five cron fields read in one time zone (or ``@every``'s delay)."""

    fields: str
    zone: tzinfo
    every: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first scheduled time strictly after ``moment`` (in UTC), or None if it never comes.

        ``0 0 30 2 *`` (February 30th) parses but never fires, as upstream.
        """
        if self.every is not None:
            return moment.astimezone(UTC).replace(microsecond=0) + self.every
        start = moment.astimezone(self.zone)
        try:
            nxt: datetime = croniter(self.fields, start).get_next(datetime)
        except CroniterBadDateError:
            return None
        return nxt.astimezone(UTC)


def parse_schedule(expression: str, time_zone: str | None = None) -> Schedule:
    """Parse a CronJob schedule the way upstream's ``cron.ParseStandard`` does.

    A leading ``TZ=<zone>`` / ``CRON_TZ=<zone>`` (legacy; validation refuses it on new
    objects) overrides ``time_zone``. Raises :class:`ScheduleError` or
    :class:`TimeZoneError`.
    """
    spec = expression.strip()
    if not spec:
        raise ScheduleError("empty spec string")
    zone_name = time_zone
    match = _TZ_PREFIX.match(spec)
    if match:
        zone_name = match.group(1)
        spec = spec[match.end() :].strip()
        try:
            zone = load_time_zone(zone_name)
        except TimeZoneError as e:
            raise ScheduleError(f"provided bad location {zone_name}: {e}") from None
    else:
        zone = load_time_zone(zone_name)
    if spec.startswith("@every "):
        return Schedule("", zone, every=_every(spec[len("@every ") :].strip()))
    if spec.startswith("@"):
        fields = DESCRIPTORS.get(spec.lower())
        if fields is None:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        return Schedule(fields, zone)
    parts = spec.split()
    if len(parts) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(parts)}: [{spec}]")
    normalised = [_check_field(part, field) for part, field in zip(parts, _FIELDS, strict=True)]
    return Schedule(" ".join(normalised), zone)


def _every(text: str) -> timedelta:
    """robfig's ``Every``: a Go duration, cut to whole seconds, at least one second."""
    seconds = parse_go_duration(text)
    return timedelta(seconds=max(int(seconds), 1))


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.ParseDuration`` string (``1h30m``, ``90s``, ``1.5h``)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise ScheduleError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            raise ScheduleError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
        unit = match.group(2)
        if not unit:
            raise ScheduleError(
                f'failed to parse duration @every {text}: time: missing unit in duration "{text}"'
            )
        if unit not in _DURATION_UNITS:
            raise ScheduleError(
                f'failed to parse duration @every {text}: time: unknown unit "{unit}" in duration "{text}"'
            )
        total += float(match.group(1)) * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * total


def _check_field(text: str, field: _Field) -> str:
    """Check one field against robfig's grammar; return it with names turned into numbers."""
    out: list[str] = []
    for token in text.split(","):
        range_part, slash, step_text = token.partition("/")
        if "/" in step_text:
            raise ScheduleError(f"too many slashes: {token}")
        low_text, hyphen, high_text = range_part.partition("-")
        if "-" in high_text:
            raise ScheduleError(f"too many hyphens: {token}")
        if range_part in ("*", "?"):
            low, high = field.low, field.high
            if hyphen:
                raise ScheduleError(f"too many hyphens: {token}")
            rendered = "*"
        else:
            low = _number(low_text, field)
            high = _number(high_text, field) if hyphen else (field.high if slash else low)
            if low < field.low:
                raise ScheduleError(f"beginning of range ({low}) below minimum ({field.low}): {token}")
            if high > field.high:
                raise ScheduleError(f"end of range ({high}) above maximum ({field.high}): {token}")
            if low > high:
                raise ScheduleError(f"beginning of range ({low}) beyond end of range ({high}): {token}")
            rendered = f"{low}-{high}" if (hyphen or slash) else str(low)
        if slash:
            if not step_text.isdigit() or int(step_text) <= 0:
                raise ScheduleError(f"step of range should be a positive number: {token}")
            rendered += f"/{int(step_text)}"
        out.append(rendered)
    return ",".join(out)


def _number(text: str, field: _Field) -> int:
    named = field.names.get(text.lower())
    if named is not None:
        return named
    if not text.isdigit():
        raise ScheduleError(
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    return int(text)


__all__ = [
    "DESCRIPTORS",
    "Schedule",
    "ScheduleError",
    "TimeZoneError",
    "load_time_zone",
    "parse_go_duration",
    "parse_schedule",
]
