"""FakeClock ordering and the time formats objects carry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from minik.client.clock import REAL_CLOCK, FakeClock
from minik.client.objects import format_micro_time, format_time, parse_time


async def test_fake_clock_fires_timers_in_order_at_their_deadline() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(2, lambda: fired.append(("b", clock.now())))
    clock.call_later(1, lambda: fired.append(("a", clock.now())))
    cancelled = clock.call_later(1.5, lambda: fired.append(("x", clock.now())))
    cancelled.cancel()
    assert clock.next_deadline() == 1
    await clock.advance(5)
    assert fired == [("a", 1), ("b", 2)]
    assert clock.now() == 5
    assert clock.pending_timers == 0


async def test_fake_sleep_and_timers_scheduled_during_advance() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper() -> None:
        for _ in range(3):
            await clock.sleep(1)
            woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await clock.advance(2.5)
    assert woke == [1, 2]
    await clock.advance(0.5)
    assert woke == [1, 2, 3]
    await task


async def test_fake_wall_clock_follows_monotonic_time() -> None:
    clock = FakeClock(wall_start=datetime(2030, 5, 1, tzinfo=UTC))
    await clock.advance(1.25)
    assert clock.wall() == datetime(2030, 5, 1, 0, 0, 1, 250000, tzinfo=UTC)


async def test_real_clock() -> None:
    before = REAL_CLOCK.now()
    fired = asyncio.Event()
    REAL_CLOCK.call_later(0, fired.set)
    await REAL_CLOCK.sleep(0)
    await asyncio.wait_for(fired.wait(), 1)
    assert REAL_CLOCK.now() >= before
    assert REAL_CLOCK.wall().tzinfo is not None


def test_time_formats() -> None:
    t = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert format_time(t) == "2024-01-02T03:04:05Z"
    assert format_micro_time(t) == "2024-01-02T03:04:05.123456Z"
    assert format_micro_time(t.astimezone(timezone(timedelta(hours=2)))) == "2024-01-02T03:04:05.123456Z"
    assert parse_time("2024-01-02T03:04:05.123456Z") == t
    assert parse_time("2024-01-02T03:04:05Z") == t.replace(microsecond=0)
