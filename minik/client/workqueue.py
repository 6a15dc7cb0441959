"""A work queue with client-go's semantics: deduplicating, fair, rate-limited.

Controllers do not process *events*, they process *keys*: "something about
``default/web`` may have changed, look at it". The queue makes that cheap and
safe with three structures (client-go ``workqueue.Type``):

* ``queue`` — a FIFO of keys waiting for a worker;
* ``dirty`` — every key that needs processing (queued, or changed while being
  processed);
* ``processing`` — keys a worker currently holds.

and three rules that follow from them:

1. **Bursts collapse.** ``add(k)`` when ``k`` is already dirty is a no-op: a
   hundred events for one object while it waits are one reconcile.
2. **One key, one worker.** ``get()`` moves a key from ``queue`` to
   ``processing``; ``add(k)`` while ``k`` is processing only marks it dirty, it
   does *not* queue it, so no second worker can pick it up concurrently.
3. **Nothing is lost.** ``done(k)`` re-queues ``k`` if it was marked dirty
   meanwhile, so the change that arrived mid-reconcile gets its own pass —
   which reads the *newer* state, the whole point of level triggering.

On top of that (client-go's delaying and rate-limiting queues):

* ``add_after(k, delay)`` — queue ``k`` later; of several pending delays for
  one key the earliest wins (a later one would only postpone needed work).
* ``add_rate_limited(k)`` — queue ``k`` after the delay its rate limiter
  chooses. The default, like client-go's ``DefaultControllerRateLimiter``, is
  the *maximum* of a per-key exponential backoff (5 ms, 10 ms, 20 ms, ... capped
  at 1000 s) and an overall token bucket (10 qps, burst 100) that keeps a
  broken dependency from turning every controller into a retry storm.
* ``forget(k)`` — reset ``k``'s backoff after success. Forgetting is separate
  from ``done`` because a reconcile can finish without succeeding.

Time comes from an injectable :class:`~minik.client.clock.Clock`, so tests
drive backoff and delays with :class:`~minik.client.clock.FakeClock` instead
of sleeping.

After ``shut_down()`` new adds are ignored, ``get()`` still hands out what is
queued (client-go drains too) and then raises :class:`ShutDown`; workers
blocked in ``get()`` are woken to see it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from minik.client.clock import REAL_CLOCK, Cancellable, Clock

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class ShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and empty."""


# -- rate limiters ---------------------------------------------------------------------------------


class RateLimiter(Protocol[K_contra]):
    """Decides how long a key waits before its next try (client-go's ``RateLimiter``)."""

    def when(self, key: K_contra) -> float:
        """The delay for this try of ``key`` (and count the try)."""
        ...

    def forget(self, key: K_contra) -> None:
        """Stop tracking ``key`` (it succeeded)."""
        ...

    def num_requeues(self, key: K_contra) -> int:
        """How many tries of ``key`` have been counted since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(Generic[K]):
    """Per-key exponential backoff: ``base * 2**failures``, capped at ``max_delay``."""

    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp >= 1024:  # 2.0**1024 overflows; the cap has long been reached
            return self.max_delay
        return min(self.base_delay * 2.0**exp, self.max_delay)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter(Generic[K]):
    """An overall token bucket: ``qps`` tokens a second, at most ``burst`` saved.

    Every ``when`` reserves a token; if none is available the reservation is
    made against the future (the bucket goes negative) and the delay is how
    long until that token exists — golang.org/x/time/rate's ``Reserve``. Keys
    are not tracked, so ``forget`` and ``num_requeues`` do nothing.
    """

    def __init__(self, *, qps: float = 10.0, burst: int = 100, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("need qps > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock or REAL_CLOCK
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, key: K) -> float:
        now = self._clock.now()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: K) -> None:
        pass

    def num_requeues(self, key: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The longest delay of several limiters; requeues counted by the largest."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("need at least one rate limiter")
        self.limiters = limiters

    def when(self, key: K) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: K) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(
    *,
    base_delay: float = 0.005,
    max_delay: float = 1000.0,
    qps: float = 10.0,
    burst: int = 100,
    clock: Clock | None = None,
) -> MaxOfRateLimiter[K]:
    """client-go's ``DefaultControllerRateLimiter``, with every number configurable."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay=base_delay, max_delay=max_delay),
        BucketRateLimiter(qps=qps, burst=burst, clock=clock),
    )


# -- the queue -------------------------------------------------------------------------------------


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, rate-limited FIFO of keys (see the module docs)."""

    def __init__(
        self,
        *,
        name: str = "",
        clock: Clock | None = None,
        rate_limiter: RateLimiter[K] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock or REAL_CLOCK
        self.rate_limiter: RateLimiter[K] = rate_limiter or default_controller_rate_limiter(clock=self._clock)
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, tuple[float, Cancellable]] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    # -- core queue -------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Mark ``key`` as needing processing (see rules 1-3 in the module docs)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._wake_one()

    async def get(self) -> K:
        """Wait for a key and take it; the caller must call :meth:`done` with it.

        Raises :class:`ShutDown` when the queue is shut down and empty.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # If we were woken but cancelled before running, pass the wake-up on,
                # or a queued key could sit there while another getter sleeps.
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                else:
                    waiter.cancel()
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def get_nowait(self) -> K | None:
        """Take a key if one is queued, else ``None`` (same contract as :meth:`get`)."""
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """Release ``key``; re-queue it if it was added while being processed."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        """Stop accepting keys, cancel pending delays and wake every waiting getter."""
        self._shutting_down = True
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys waiting for a worker (not those processing or delayed)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    @property
    def waiting(self) -> int:
        """Keys scheduled by :meth:`add_after` that are not due yet."""
        return len(self._waiting)

    def is_dirty(self, key: K) -> bool:
        return key in self._dirty

    # -- delaying ---------------------------------------------------------------------------------

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds (at once if ``delay <= 0``)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.now() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()

        def fire() -> None:
            entry = self._waiting.get(key)
            if entry is not None and entry[0] == ready_at:
                del self._waiting[key]
                self.add(key)

        self._waiting[key] = (ready_at, self._clock.call_later(delay, fire))

    # -- rate limiting ----------------------------------------------------------------------------

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the delay the rate limiter assigns to this try."""
        if self._shutting_down:
            return
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (call after a successful reconcile)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)

    # -- internals --------------------------------------------------------------------------------

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return
