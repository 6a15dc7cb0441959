"""Writers of one object in one process take turns.

An update that names no resourceVersion never fails on a conflict: when another
writer commits first it is applied again to the winner's version (``rest.py``).
That is correct with any number of writers, but with many at once it is wasteful:
of n concurrent patches of one object, each round commits one and sends the other
n-1 back to retry, so the API server does about n²/2 reads, mutations and etcd
transactions for n writes. Letting the writers *in this process* go one at a
time makes it n of each. Writers in other processes (``--workers``, other API
servers) still race, and the retry loop still settles those.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Turnstile:
    """One lock per key, created on demand and forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[bytes, asyncio.Lock] = {}
        self._users: dict[bytes, int] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: bytes) -> AsyncIterator[None]:
        """Hold ``key`` for the duration of the ``async with`` block."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        """Keys currently held or waited for."""
        return len(self._locks)
