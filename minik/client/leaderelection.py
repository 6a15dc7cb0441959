"""Leader election on ``coordination.k8s.io/v1`` Leases (client-go's ``leaderelection``).

Several replicas of a controller-manager or scheduler may run; exactly one
should act. They agree through one Lease object::

    spec:
      holderIdentity: host-a_4f1c...   # who leads
      leaseDurationSeconds: 15         # how long others must wait before taking over
      acquireTime: 2024-01-01T00:00:00.000000Z
      renewTime:   2024-01-01T00:00:12.000000Z
      leaseTransitions: 3              # how many times leadership changed hands

**Acquire or renew** (one attempt, every ``retry_period``):

1. GET the Lease; if absent, CREATE it naming ourselves (``AlreadyExists`` →
   someone was faster, we lost).
2. If another identity holds it and the lease has not expired, give up.
3. Otherwise write our identity and ``renewTime`` with an UPDATE that carries
   the ``resourceVersion`` we read. If two candidates race, the API server's
   optimistic concurrency lets exactly one through; the other gets 409
   Conflict and has lost.

**Expiry is judged on our own clock.** Comparing the holder's ``renewTime``
with our wall clock would make correctness depend on clock skew between
machines. Instead, like client-go, each candidate remembers *when it observed*
the lease record last change (on its monotonic clock); the lease is expired
when ``leaseDurationSeconds`` have passed since then without a change. A
holder that keeps renewing keeps changing the record and so is never judged
expired.

**Renewing, and stepping down in time.** The leader renews every
``retry_period``. If renewals keep failing for ``renew_deadline`` (each attempt
is also cut off at that deadline, so a hung API server cannot stall it), the
leader gives up: it cancels its work and calls ``on_stopped_leading``.
Because ``renew_deadline < lease_duration``, it stops acting before any other
candidate may consider the lease expired — the margin is what makes "at most
one leader" hold without synchronised clocks (as long as no process is paused
for longer than the margin; fencing is beyond what Leases offer).

**Releasing.** When :meth:`LeaderElector.run` is cancelled (graceful
shutdown, ``ReleaseOnCancel`` in client-go), the leader clears
``holderIdentity`` and sets ``leaseDurationSeconds: 1`` so a standby takes over
at its next retry instead of waiting out the full lease.

Defaults are client-go's: lease 15 s, renew deadline 10 s, retry 2 s, with the
acquire retry jittered up to 2.2 times so candidates don't knock in lock-step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from minik.client.clock import REAL_CLOCK, Clock
from minik.client.errors import AlreadyExistsError, APIConnectionError, APIError, ConflictError, NotFoundError
from minik.client.kinds import LEASES, ResourceRef
from minik.client.objects import Obj, deepcopy, format_micro_time, resource_version_of

log = logging.getLogger(__name__)


class LeaseClient(Protocol):
    """The three verbs leader election needs (:class:`~minik.client.rest.APIClient` has them)."""

    async def get(self, resource: ResourceRef, name: str, *, namespace: str | None = None) -> Obj: ...

    async def create(self, resource: ResourceRef, obj: Obj, *, namespace: str | None = None) -> Obj: ...

    async def update(self, resource: ResourceRef, obj: Obj, *, namespace: str | None = None) -> Obj: ...


class LeaderElector:
    """Campaign for, hold and release one Lease (see the module docs)."""

    def __init__(
        self,
        client: LeaseClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        jitter_factor: float = 1.2,
        release_on_cancel: bool = True,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not identity:
            raise ValueError("identity must not be empty")
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= jitter_factor * retry_period:
            raise ValueError("renew_deadline must be greater than jitter_factor * retry_period")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.jitter_factor = jitter_factor
        self.release_on_cancel = release_on_cancel
        self._clock = clock or REAL_CLOCK
        self._rng = rng or random.Random()
        self._observed: Obj | None = None  # the Lease's spec as last seen
        self._observed_time = 0.0  # our monotonic time when it last changed
        self._reported_leader: str | None = None
        self.on_new_leader: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"<LeaderElector {self.namespace}/{self.name} as {self.identity}>"

    # -- observation ------------------------------------------------------------------------------

    @property
    def leader(self) -> str | None:
        """The holder identity as last observed (``None`` if none)."""
        holder = (self._observed or {}).get("holderIdentity")
        return str(holder) if holder else None

    @property
    def is_leader(self) -> bool:
        return self.leader == self.identity

    def _observe(self, spec: Obj, now: float) -> None:
        if spec != self._observed:
            self._observed = deepcopy(spec)
            self._observed_time = now
        leader = self.leader
        if leader and leader != self._reported_leader:
            self._reported_leader = leader
            log.info("%r: leader is now %s", self, leader)
            if self.on_new_leader is not None:
                try:
                    self.on_new_leader(leader)
                except Exception:
                    log.exception("%r: on_new_leader failed", self)

    def _observed_valid(self, now: float) -> bool:
        spec = self._observed or {}
        duration = spec.get("leaseDurationSeconds")
        seconds = (
            float(duration) if isinstance(duration, int | float) and duration > 0 else self.lease_duration
        )
        return self._observed_time + seconds > now

    # -- one attempt ------------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One round of the protocol; ``True`` if we hold the lease afterwards."""
        now = self._clock.now()
        stamp = format_micro_time(self._clock.wall())
        desired: Obj = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(self.lease_duration),
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        }
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except NotFoundError:
            return await self._create(desired, now)
        except (APIError, APIConnectionError) as exc:
            log.warning("%r: cannot read lease: %s", self, exc)
            return False

        spec: Obj = lease.get("spec") or {}
        self._observe(spec, now)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and self._observed_valid(now):
            return False

        transitions = spec.get("leaseTransitions") or 0
        if holder == self.identity:
            desired["acquireTime"] = spec.get("acquireTime") or stamp
            desired["leaseTransitions"] = transitions
        else:
            desired["leaseTransitions"] = transitions + 1
        updated = deepcopy(lease)
        updated["spec"] = {**spec, **desired}
        try:
            written = await self.client.update(LEASES, updated, namespace=self.namespace)
        except ConflictError:
            log.info("%r: lost the race to update the lease (409 Conflict)", self)
            return False
        except (APIError, APIConnectionError) as exc:
            log.warning("%r: cannot update lease: %s", self, exc)
            return False
        self._observe(written.get("spec") or updated["spec"], now)
        action = "renewed" if holder == self.identity else "acquired"
        log.debug("%r: %s the lease (resourceVersion %s)", self, action, resource_version_of(written))
        return True

    async def _create(self, desired: Obj, now: float) -> bool:
        lease: Obj = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": desired,
        }
        try:
            created = await self.client.create(LEASES, lease, namespace=self.namespace)
        except AlreadyExistsError:
            return False
        except (APIError, APIConnectionError) as exc:
            log.warning("%r: cannot create lease: %s", self, exc)
            return False
        self._observe(created.get("spec") or desired, now)
        return True

    async def release(self) -> bool:
        """Give the lease up if we hold it (holder cleared, duration 1 s)."""
        if not self.is_leader:
            return False
        try:
            lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except (APIError, APIConnectionError) as exc:
            log.warning("%r: cannot read lease to release it: %s", self, exc)
            return False
        spec: Obj = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return False
        stamp = format_micro_time(self._clock.wall())
        released = deepcopy(lease)
        released["spec"] = {
            **spec,
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": stamp,
            "renewTime": stamp,
        }
        try:
            written = await self.client.update(LEASES, released, namespace=self.namespace)
        except (APIError, APIConnectionError) as exc:
            log.warning("%r: cannot release lease: %s", self, exc)
            return False
        self._observe(written.get("spec") or released["spec"], self._clock.now())
        log.info("%r: released the lease", self)
        return True

    # -- the loop ---------------------------------------------------------------------------------

    async def run(
        self,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:
        """Campaign until elected, then run ``on_started_leading()`` as a task
        while renewing. Returns once leadership is lost (the work is cancelled
        first) or the work finishes by itself; ``on_stopped_leading`` is called
        in both cases, and when ``run`` is cancelled while leading (after the
        lease is released). Re-raises the work's exception, if it raised.
        """
        await self._acquire()
        log.info("%r: became leader", self)
        work = asyncio.create_task(on_started_leading(), name=f"leading {self.name}")
        cancelled = False
        try:
            await self._renew_until_lost(work)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if not work.done():
                work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({work})
            lost = not self.is_leader
            if lost:
                log.warning("%r: lost leadership", self)
            elif cancelled and not self.release_on_cancel:
                pass
            else:
                await self._release_within_deadline()
            if on_stopped_leading is not None:
                try:
                    outcome = on_stopped_leading()
                    if outcome is not None:
                        await outcome
                except Exception:
                    log.exception("%r: on_stopped_leading failed", self)
        failure = work.exception() if work.done() and not work.cancelled() else None
        if failure is not None:
            raise failure

    async def _acquire(self) -> None:
        while True:
            if await self._attempt(self.renew_deadline):
                return
            await self._clock.sleep(self.retry_period * (1.0 + self.jitter_factor * self._rng.random()))

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        while True:
            if await self._sleep_unless_done(self.retry_period, work):
                return  # the work ended by itself
            deadline = self._clock.now() + self.renew_deadline
            while True:
                if await self._attempt(deadline - self._clock.now()):
                    break
                if self.leader is not None and not self.is_leader:
                    return  # someone else holds it: stop at once, don't wait out the deadline
                if self._clock.now() + self.retry_period >= deadline:
                    self._observed = None  # we can no longer claim to lead
                    return
                if await self._sleep_unless_done(self.retry_period, work):
                    return

    async def _attempt(self, budget: float) -> bool:
        """One acquire-or-renew, abandoned (as failed) after ``budget`` seconds."""
        attempt = asyncio.ensure_future(self.try_acquire_or_renew())
        timer = asyncio.ensure_future(self._clock.sleep(max(0.0, budget)))
        try:
            await asyncio.wait({attempt, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not attempt.done():
                attempt.cancel()
        if attempt.done() and not attempt.cancelled():
            return attempt.result()
        log.warning("%r: lease request did not finish within %.1fs", self, budget)
        return False

    async def _sleep_unless_done(self, delay: float, work: asyncio.Task[None]) -> bool:
        timer = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        return work.done()

    async def _release_within_deadline(self) -> None:
        release = asyncio.ensure_future(self.release())
        timer = asyncio.ensure_future(self._clock.sleep(self.renew_deadline))
        try:
            await asyncio.wait({release, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not release.done():
                release.cancel()
