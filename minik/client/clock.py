"""Time, injectable: a real clock over the event loop and a fake one for tests.

Everything in ``minik.client`` that waits — the work queue's ``add_after`` and
backoff, the informer's reconnect backoff and resync, leader election's renew
loop, the event recorder's aggregation window — asks a :class:`Clock` instead of
calling :func:`asyncio.sleep` or :func:`time.monotonic` directly. In production
that is :class:`RealClock`, a thin shim over the running loop. In tests it is
:class:`FakeClock`, whose time only moves when the test says so::

    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    queue.add_after("default/web", 5.0)
    await clock.advance(4.9)      # nothing yet
    await clock.advance(0.1)      # now the key is queued

This is the idea of kopf's ``looptime`` fixture (a fake event-loop clock) in a
form that needs no loop patching: components get the clock as a keyword argument.
A test never sleeps, so backoff that doubles to 1000 s is tested in microseconds
and timing can never make a test flaky on a loaded machine.

Two notions of time are kept apart, as in Kubernetes: :meth:`Clock.now` is
*monotonic* seconds used for every duration and deadline; :meth:`Clock.wall` is
the UTC wall-clock time that goes into objects (``renewTime``,
``lastTimestamp``), which other machines read and which may jump.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Cancellable(Protocol):
    """A scheduled callback that can be called off (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """The source of time for everything in ``minik.client``."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def wall(self) -> datetime:
        """The current UTC wall-clock time (timezone-aware)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` (synchronously, on the loop) after ``delay`` seconds."""
        ...

    async def sleep(self, delay: float) -> None:
        """Suspend the calling task for ``delay`` seconds."""
        ...


class RealClock:
    """The running event loop's clock (``loop.time()`` is monotonic)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


#: The clock used when a component is not given one.
REAL_CLOCK: Clock = RealClock()


def wall_now(clock: Clock | None = None) -> datetime:
    """``clock``'s wall-clock time, or the real one when no clock was injected."""
    return (clock or REAL_CLOCK).wall()


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "deadline", "seq")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _FakeTimer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it.

    Timers fire in deadline order (ties in the order they were scheduled), and
    the clock reads exactly each timer's deadline while that timer's callback
    runs, so code that re-arms a timer from inside a callback sees consistent
    time. Between timers :meth:`advance` yields to the event loop a number of
    times so that tasks woken by a timer get to run — and possibly schedule new
    timers that fall inside the same advance — before time moves on.
    """

    def __init__(self, start: float = 0.0, *, wall_start: datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime(2024, 1, 1, tzinfo=UTC)
        self._timers: list[_FakeTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        timer = _FakeTimer(self._now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending_timers(self) -> int:
        """How many timers are scheduled and not cancelled (for assertions)."""
        return sum(1 for t in self._timers if not t.cancelled)

    def next_deadline(self) -> float | None:
        """When the earliest live timer fires, if any."""
        self._drop_cancelled()
        return self._timers[0].deadline if self._timers else None

    async def settle(self, rounds: int = 50) -> None:
        """Let every runnable task run until the loop has nothing left to do now."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer that falls due."""
        target = self._now + seconds
        await self.settle()
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].deadline > target:
                break
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.deadline)
            timer.callback()
            await self.settle()
        self._now = max(self._now, target)
        await self.settle()

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
