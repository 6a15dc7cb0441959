"""WorkQueue and rate limiters: client-go semantics, driven by a fake clock."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from minik.client.clock import FakeClock
from minik.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    WorkQueue,
    default_controller_rate_limiter,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> WorkQueue[str]:
    return WorkQueue(name="test", clock=clock)


def drain(queue: WorkQueue[str]) -> list[str]:
    keys = []
    while (key := queue.get_nowait()) is not None:
        keys.append(key)
    return keys


async def test_fifo_order(queue: WorkQueue[str]) -> None:
    for key in ("a", "b", "c"):
        queue.add(key)
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]


async def test_adding_a_queued_key_is_a_no_op(queue: WorkQueue[str]) -> None:
    queue.add("a")
    queue.add("b")
    queue.add("a")
    queue.add("a")
    assert len(queue) == 2
    assert drain(queue) == ["a", "b"]


async def test_key_added_while_processing_is_requeued_on_done_only(queue: WorkQueue[str]) -> None:
    queue.add("a")
    key = await queue.get()
    assert key == "a"
    queue.add("a")  # changed while being processed
    queue.add("a")
    assert len(queue) == 0, "must not be handed to a second worker while processing"
    assert queue.is_dirty("a")
    queue.done("a")
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_done_without_readd_does_not_requeue(queue: WorkQueue[str]) -> None:
    queue.add("a")
    await queue.get()
    queue.done("a")
    assert len(queue) == 0
    assert queue.processing == frozenset()


async def test_no_two_workers_hold_one_key(queue: WorkQueue[str]) -> None:
    holding: set[str] = set()
    max_seen: dict[str, int] = {}
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            assert key not in holding, f"{key} handed to two workers"
            holding.add(key)
            max_seen[key] = max_seen.get(key, 0) + 1
            await asyncio.sleep(0)
            queue.add(key if len(processed) < 20 else "other")  # re-add while processing
            await asyncio.sleep(0)
            processed.append(key)
            holding.discard(key)
            queue.done(key)

    queue.add("hot")
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(200):
        await asyncio.sleep(0)
    queue.shut_down()
    await asyncio.gather(*workers)
    assert processed.count("hot") >= 20


async def test_get_waits_for_an_add(queue: WorkQueue[str]) -> None:
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_cancelled_getter_passes_its_wakeup_on(queue: WorkQueue[str]) -> None:
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("x")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "x"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_shutdown_wakes_getters_and_drains(queue: WorkQueue[str]) -> None:
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(ShutDown):
        await waiting

    other: WorkQueue[str] = WorkQueue(clock=FakeClock())
    other.add("left")
    other.shut_down()
    other.add("ignored")
    assert await other.get() == "left"  # queued keys are still handed out (client-go drains)
    with pytest.raises(ShutDown):
        await other.get()


async def test_shutdown_cancels_delayed_adds(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add_after("later", 5)
    assert queue.waiting == 1
    queue.shut_down()
    await clock.advance(10)
    assert len(queue) == 0
    assert clock.pending_timers == 0


async def test_add_after_fires_in_deadline_order(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add_after("c", 3)
    queue.add_after("a", 1)
    queue.add_after("b", 2)
    queue.add_after("now", 0)
    assert drain(queue) == ["now"]
    await clock.advance(0.999)
    assert len(queue) == 0
    await clock.advance(0.001)
    assert drain(queue) == ["a"]
    await clock.advance(5)
    assert drain(queue) == ["b", "c"]


async def test_add_after_keeps_the_earliest_deadline(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add_after("k", 10)
    queue.add_after("k", 2)  # earlier wins
    queue.add_after("k", 5)  # later is ignored
    assert queue.waiting == 1
    await clock.advance(2)
    assert drain(queue) == ["k"]
    await clock.advance(20)
    assert len(queue) == 0, "superseded timers must not add the key again"


async def test_delayed_add_of_processing_key_marks_it_dirty(queue: WorkQueue[str], clock: FakeClock) -> None:
    queue.add("k")
    await queue.get()
    queue.add_after("k", 1)
    await clock.advance(1)
    assert len(queue) == 0
    queue.done("k")
    assert drain(queue) == ["k"]


def test_exponential_backoff_doubles_and_caps() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    delays = [limiter.when("k") for _ in range(20)]
    assert delays[:5] == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert delays[-1] == 1000.0
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert limiter.num_requeues("k") == 20
    assert limiter.when("other") == 0.005, "backoff is per key"
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0
    assert limiter.when("k") == 0.005
    for _ in range(5000):  # no overflow after very many failures
        limiter.when("k")
    assert limiter.when("k") == 1000.0


def test_exponential_backoff_configurable() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(
        base_delay=1, max_delay=5
    )
    assert [limiter.when("k") for _ in range(5)] == [1, 2, 4, 5, 5]


def test_token_bucket_burst_then_qps(clock: FakeClock) -> None:
    bucket: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [bucket.when(str(i)) for i in range(3)] == [0, 0, 0]
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)  # reservations queue up
    clock._now += 10  # plenty of time: the bucket refills, up to burst
    assert [bucket.when(str(i)) for i in range(3)] == [0, 0, 0]
    assert bucket.when("z") == pytest.approx(0.1)


def test_default_limiter_is_max_of_both(clock: FakeClock) -> None:
    limiter: MaxOfRateLimiter[str] = default_controller_rate_limiter(qps=1, burst=1, clock=clock)
    assert isinstance(limiter, MaxOfRateLimiter)
    assert limiter.when("a") == 0.005  # token available: per-key backoff decides
    assert limiter.when("b") == pytest.approx(1.0)  # bucket empty: the bucket decides
    assert limiter.num_requeues("a") == 1


async def test_add_rate_limited_backs_off_and_forget_resets(queue: WorkQueue[str], clock: FakeClock) -> None:
    for expected in (0.005, 0.01, 0.02):
        queue.add_rate_limited("k")
        await clock.advance(expected * 0.99)
        assert len(queue) == 0
        await clock.advance(expected * 0.02)
        assert drain(queue) == ["k"]
        queue.done("k")
    assert queue.num_requeues("k") == 3
    queue.forget("k")
    assert queue.num_requeues("k") == 0
    queue.add_rate_limited("k")
    await clock.advance(0.005)
    assert drain(queue) == ["k"]


async def test_overall_rate_limit_spreads_a_storm(clock: FakeClock) -> None:
    queue: WorkQueue[str] = WorkQueue(
        clock=clock, rate_limiter=default_controller_rate_limiter(qps=10, burst=5, clock=clock)
    )
    for i in range(15):
        queue.add_rate_limited(f"k{i}")
    await clock.advance(0.005)
    assert len(queue) == 5  # the burst
    await clock.advance(0.5)
    assert len(queue) == 10  # then 10 per second
    await clock.advance(0.5)
    assert len(queue) == 15
