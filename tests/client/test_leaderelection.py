"""Leader election against the in-memory lease API, with a fake clock."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from minik.client.clock import FakeClock
from minik.client.errors import ServiceUnavailableError
from minik.client.kinds import LEASES
from minik.client.leaderelection import LeaderElector

from .fakes import FakeAPI

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def elector(api: FakeAPI, clock: FakeClock, identity: str, **kwargs: Any) -> LeaderElector:
    return LeaderElector(api, namespace="kube-system", name="ctrl", identity=identity, clock=clock, **kwargs)


def lease_spec(api: FakeAPI) -> dict[str, Any]:
    lease = api.stored(LEASES, "ctrl", "kube-system")
    assert lease is not None
    spec: dict[str, Any] = lease["spec"]
    return spec


async def test_acquire_creates_the_lease(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    assert await a.try_acquire_or_renew()
    assert a.is_leader and a.leader == "a"
    spec = lease_spec(api)
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert MICRO_TIME.match(spec["acquireTime"]) and spec["acquireTime"] == spec["renewTime"]
    assert spec["renewTime"] == "2024-01-01T00:00:00.000000Z"


async def test_renew_moves_renew_time_only(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    await a.try_acquire_or_renew()
    first = dict(lease_spec(api))
    await clock.advance(2.5)
    assert await a.try_acquire_or_renew()
    spec = lease_spec(api)
    assert spec["acquireTime"] == first["acquireTime"]
    assert spec["renewTime"] == "2024-01-01T00:00:02.500000Z"
    assert spec["leaseTransitions"] == 0
    assert ("update", "leases", "ctrl") in api.calls, "renewal is an update carrying the resourceVersion"


async def test_no_takeover_before_expiry_then_takeover_after(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    b = elector(api, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert b.leader == "a" and not b.is_leader
    await clock.advance(14.9)  # a has stopped renewing, but the lease is not over yet
    assert not await b.try_acquire_or_renew()
    await clock.advance(0.2)
    assert await b.try_acquire_or_renew()
    spec = lease_spec(api)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == "2024-01-01T00:00:15.100000Z"
    # a comes back: it must not take the lease back while b holds it
    assert not await a.try_acquire_or_renew()
    assert not a.is_leader and a.leader == "b"


async def test_a_renewing_holder_never_expires(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    b = elector(api, clock, "b")
    assert await a.try_acquire_or_renew()
    for _ in range(30):
        await clock.advance(2)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()


async def test_expiry_uses_observation_time_not_the_remote_clock(api: FakeAPI, clock: FakeClock) -> None:
    # The holder's renewTime is years in the past by our wall clock (skewed clocks):
    # still, b must wait a full lease duration from when *it* first saw the record.
    api.put(
        LEASES,
        {
            "metadata": {"name": "ctrl", "namespace": "kube-system"},
            "spec": {
                "holderIdentity": "skewed",
                "leaseDurationSeconds": 15,
                "renewTime": "2001-01-01T00:00:00.000000Z",
                "acquireTime": "2001-01-01T00:00:00.000000Z",
                "leaseTransitions": 4,
            },
        },
    )
    b = elector(api, clock, "b")
    assert not await b.try_acquire_or_renew()
    await clock.advance(15.01)
    assert await b.try_acquire_or_renew()
    assert lease_spec(api)["leaseTransitions"] == 5


async def test_concurrent_candidates_exactly_one_wins(api: FakeAPI, clock: FakeClock) -> None:
    api.put(
        LEASES,
        {"metadata": {"name": "ctrl", "namespace": "kube-system"}, "spec": {"holderIdentity": ""}},
    )
    gate = asyncio.Event()
    api.blockers["update"] = gate  # both read the free lease, then both try to write
    b, c = elector(api, clock, "b"), elector(api, clock, "c")
    results = asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    await clock.settle()
    gate.set()
    assert sorted(await results) == [False, True], "the second write is a 409 Conflict"
    assert lease_spec(api)["holderIdentity"] in ("b", "c")


async def test_concurrent_creates_exactly_one_wins(api: FakeAPI, clock: FakeClock) -> None:
    gate = asyncio.Event()
    api.blockers["create"] = gate
    b, c = elector(api, clock, "b"), elector(api, clock, "c")
    results = asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    await clock.settle()
    gate.set()
    assert sorted(await results) == [False, True], "the second create is AlreadyExists"


async def test_api_errors_are_failed_attempts(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    api.fail("get", ServiceUnavailableError(503, "ServiceUnavailable", "etcd down"))
    assert not await a.try_acquire_or_renew()
    assert await a.try_acquire_or_renew()


def test_durations_are_validated(api: FakeAPI, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        elector(api, clock, "a", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        elector(api, clock, "a", renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError):
        elector(api, clock, "")


class Campaign:
    """Runs one elector's run() with observable callbacks."""

    def __init__(self, e: LeaderElector) -> None:
        self.elector = e
        self.leading = asyncio.Event()
        self.work_cancelled = False
        self.stopped = 0
        self.task = asyncio.create_task(e.run(self._work, self._stopped))

    async def _work(self) -> None:
        self.leading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.work_cancelled = True
            raise

    def _stopped(self) -> None:
        self.stopped += 1


async def test_run_releases_on_cancel_and_standby_takes_over_quickly(api: FakeAPI, clock: FakeClock) -> None:
    a = Campaign(elector(api, clock, "a"))
    await clock.settle()
    assert a.leading.is_set()
    b = Campaign(elector(api, clock, "b"))
    await clock.advance(5)
    assert not b.leading.is_set()
    a.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a.task
    assert a.work_cancelled and a.stopped == 1
    spec = lease_spec(api)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    await clock.advance(2 * 2.2)  # one jittered retry period, far less than the 15 s lease
    assert b.leading.is_set()
    assert lease_spec(api)["holderIdentity"] == "b"
    b.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b.task


async def test_no_release_when_disabled(api: FakeAPI, clock: FakeClock) -> None:
    a = Campaign(elector(api, clock, "a", release_on_cancel=False))
    await clock.settle()
    a.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a.task
    assert lease_spec(api)["holderIdentity"] == "a"
    assert a.stopped == 1


async def test_steps_down_when_renewals_fail_for_the_renew_deadline(api: FakeAPI, clock: FakeClock) -> None:
    a = Campaign(elector(api, clock, "a"))
    await clock.settle()
    assert a.leading.is_set()
    api.fail("update", *[ServiceUnavailableError(503, "ServiceUnavailable", "etcd down") for _ in range(100)])
    last_renewal = clock.now()
    await clock.advance(11)
    assert a.task.done(), "lost leadership: run() returns"
    await a.task
    assert a.work_cancelled and a.stopped == 1
    assert not a.elector.is_leader
    assert clock.now() - last_renewal < 15, "stopped before anyone else could take over"


async def test_steps_down_in_time_when_the_api_server_hangs(api: FakeAPI, clock: FakeClock) -> None:
    a = Campaign(elector(api, clock, "a"))
    await clock.settle()
    api.blockers["get"] = asyncio.Event()  # every lease request now hangs forever
    stopped_at = None
    for _ in range(150):
        await clock.advance(0.1)
        if a.task.done():
            stopped_at = clock.now()
            break
    assert stopped_at is not None and stopped_at < 15
    assert a.work_cancelled and a.stopped == 1


async def test_stops_at_once_when_someone_else_holds_the_lease(api: FakeAPI, clock: FakeClock) -> None:
    a = Campaign(elector(api, clock, "a"))
    await clock.settle()
    lease = api.stored(LEASES, "ctrl", "kube-system")
    assert lease is not None
    lease["spec"]["holderIdentity"] = "usurper"
    api.put(LEASES, lease)  # e.g. an operator forcibly moved the lease
    await clock.advance(2)
    assert a.task.done()
    assert a.stopped == 1
    assert lease_spec(api)["holderIdentity"] == "usurper", (
        "a lost leader must not release someone else's lease"
    )


async def test_work_that_finishes_releases_and_returns(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    stopped: list[bool] = []

    async def work() -> None:
        await clock.sleep(3)

    task = asyncio.create_task(a.run(work, lambda: stopped.append(True)))
    await clock.advance(3)
    await asyncio.wait_for(task, 1)
    assert stopped == [True]
    assert lease_spec(api)["holderIdentity"] == ""


async def test_work_that_raises_is_reraised(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")

    async def work() -> None:
        raise RuntimeError("work failed")

    with pytest.raises(RuntimeError, match="work failed"):
        await asyncio.wait_for(a.run(work), 1)


async def test_on_new_leader_is_reported(api: FakeAPI, clock: FakeClock) -> None:
    a = elector(api, clock, "a")
    b = elector(api, clock, "b")
    seen: list[str] = []
    b.on_new_leader = seen.append
    await a.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    assert seen == ["a"]
