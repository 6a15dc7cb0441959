"""Expectations: the creations and deletions a controller has asked for but not yet seen.

A controller that creates three pods will not see them in its informer cache
until the watch delivers them. A reconcile that runs in between (another event
for the same owner) would count zero pods and create three more.
:class:`Expectations` (upstream's ``ControllerExpectations`` with UID-tracking
deletions) closes that window: before creating *n* pods the controller records
"expect *n* creations for this owner"; the pod informer's ADDED handler lowers
the count; until it reaches zero the reconcile updates status but does not
create or delete. Deletions are tracked by pod key, so only the deletions we
asked for count. A record older than five minutes is treated as satisfied, so a
lost watch event can delay a controller but never wedge it. Failed creates
lower the count at once, since the informer will never see those pods.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from minik.client.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

#: Expectations older than this are considered satisfied (upstream's ExpectationsTimeout).
EXPECTATIONS_TTL = 300.0


@dataclass
class _Expectation:
    add: int
    deletions: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    """Creations and deletions a controller is waiting to see (see the module docs).

    Keys are owner keys (``namespace/name``); deletions are tracked by pod key.
    """

    def __init__(self, *, ttl: float = EXPECTATIONS_TTL, clock: Clock | None = None) -> None:
        self.ttl = ttl
        self._clock = clock or REAL_CLOCK
        self._records: dict[str, _Expectation] = {}

    def expect_creations(self, key: str, count: int) -> None:
        """Replace ``key``'s record: ``count`` creations are on their way."""
        self._records[key] = _Expectation(add=count, stamp=self._clock.now())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Replace ``key``'s record: these pods are being deleted."""
        self._records[key] = _Expectation(add=0, deletions=set(pod_keys), stamp=self._clock.now())

    def expect(self, key: str, creations: int, pod_keys: Iterable[str]) -> None:
        """Both at once (DaemonSets create on some nodes while deleting on others)."""
        self._records[key] = _Expectation(add=creations, deletions=set(pod_keys), stamp=self._clock.now())

    def creation_observed(self, key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.deletions.discard(pod_key)

    def lower_creations(self, key: str, count: int) -> None:
        """Creations that failed (or were never attempted) will never be observed."""
        record = self._records.get(key)
        if record is not None:
            record.add -= count

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, nothing was ever recorded, or the record expired."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.add <= 0 and not record.deletions:
            return True
        if self._clock.now() - record.stamp > self.ttl:
            log.warning(
                "expectations for %s expired (add=%d, del=%d); resyncing",
                key,
                record.add,
                len(record.deletions),
            )
            return True
        return False

    def pending(self, key: str) -> tuple[int, int]:
        """``(creations, deletions)`` still expected (for logs and tests)."""
        record = self._records.get(key)
        return (0, 0) if record is None else (max(record.add, 0), len(record.deletions))

    def delete(self, key: str) -> None:
        self._records.pop(key, None)


__all__ = ["EXPECTATIONS_TTL", "Expectations"]
