"""Per-node pod IP address management (IPAM), persisted so it survives kubelet restarts.

Each node owns a slice of the cluster's pod CIDR (``node.spec.podCIDR``, e.g.
``10.244.1.0/24``); its kubelet hands out one address per pod from that slice and gives it
to Docker as the pause container's fixed address on the shared pod bridge network.

Rules, like CNI's ``host-local`` plugin:

- An address is never handed out while it is allocated (to a live pod). Allocation walks
  forward from the last address given out (round robin), so a released address is reused
  as late as possible — a client still talking to a dead pod does not land on a new one.
- The network address, the first host address (the conventional gateway) and the
  broadcast address are never handed out, nor any address passed in ``reserved``.
- Allocation is idempotent per owner (the pod UID): asking twice returns the same address.
- Every change is written to a JSON file atomically (write a temporary file, fsync,
  rename), so a crash leaves either the old or the new state, never a torn file.
  ``state_file=None`` keeps the state in memory only: the fake runtime's pods die with
  its process, so there is nothing to survive a restart, and an fsync per pod on the
  event loop was what limited a thousand fake nodes' pod starts.
- :meth:`IPAM.reconcile` repairs drift against what actually runs: addresses of sandboxes
  that exist are (re)recorded, allocations nobody holds any more are released.

One process uses one IPAM per state file; the methods take a lock so the kubelet's pod
workers may call them from several threads.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)


class IPAMError(RuntimeError):
    """The CIDR is unusable or exhausted."""


class IPAM:
    """Hands out the addresses of one node's pod CIDR; see the module docstring."""

    def __init__(self, cidr: str, state_file: Path | None, *, reserved: Iterable[str] = ()) -> None:
        try:
            self.network = ipaddress.IPv4Network(cidr)
        except ValueError as exc:
            raise IPAMError(f"pod CIDR {cidr!r} is not an IPv4 network in CIDR notation: {exc}") from exc
        if self.network.num_addresses < 4:
            raise IPAMError(f"pod CIDR {cidr} is too small (need at least a /30)")
        self.state_file = state_file
        self._first = int(self.network.network_address) + 2  # skip network and gateway
        self._last = int(self.network.broadcast_address) - 1
        self._reserved = {int(ipaddress.IPv4Address(a)) for a in reserved}
        self._lock = threading.Lock()
        self._by_ip: dict[int, str] = {}
        self._cursor = self._first - 1
        self._load()

    # --- queries -----------------------------------------------------------------------

    @property
    def cidr(self) -> str:
        return str(self.network)

    def get(self, owner: str) -> str | None:
        """The address allocated to ``owner``, if any."""
        with self._lock:
            return self._find(owner)

    def allocations(self) -> dict[str, str]:
        """owner → address for every allocation."""
        with self._lock:
            return {owner: _ip(n) for n, owner in self._by_ip.items()}

    def free_count(self) -> int:
        with self._lock:
            return self._capacity() - len(self._by_ip)

    # --- changes -----------------------------------------------------------------------

    def allocate(self, owner: str) -> str:
        """Allocate an address for ``owner`` (idempotent) and persist the change."""
        with self._lock:
            existing = self._find(owner)
            if existing is not None:
                return existing
            size = self._last - self._first + 1
            for step in range(1, size + 1):
                candidate = self._first + (self._cursor - self._first + step) % size
                if candidate not in self._by_ip and candidate not in self._reserved:
                    self._by_ip[candidate] = owner
                    self._cursor = candidate
                    self._save()
                    return _ip(candidate)
            raise IPAMError(f"pod CIDR {self.network} is exhausted ({len(self._by_ip)} addresses in use)")

    def release(self, owner: str) -> str | None:
        """Release ``owner``'s address (if it has one) and persist; returns the address."""
        with self._lock:
            numbers = [n for n, o in self._by_ip.items() if o == owner]
            for n in numbers:
                del self._by_ip[n]
            if numbers:
                self._save()
            return _ip(numbers[0]) if numbers else None

    def reconcile(self, live: Mapping[str, str], *, in_flight: Iterable[str] = ()) -> dict[str, str]:
        """Make the state match the sandboxes that exist.

        ``live`` maps owner → address for every pod sandbox that actually exists (read from
        Docker by label). Those are recorded (even if the file had lost them). Every other
        allocation is released unless its owner is in ``in_flight`` (a pod whose sandbox is
        being created right now). Returns the released allocations, owner → address.
        """
        keep = set(in_flight)
        with self._lock:
            released: dict[str, str] = {}
            wanted: dict[int, str] = {}
            for owner, address in live.items():
                n = int(ipaddress.IPv4Address(address))
                if self._in_range(n):
                    wanted[n] = owner
            for n, owner in self._by_ip.items():
                if owner in keep and n not in wanted:
                    wanted[n] = owner
                elif n not in wanted:
                    released[owner] = _ip(n)
            changed = wanted != self._by_ip
            self._by_ip = wanted
            if changed:
                self._save()
            if released:
                log.info("ipam %s: released %d leaked address(es): %s", self.network, len(released), released)
            return released

    # --- internals ---------------------------------------------------------------------

    def _capacity(self) -> int:
        return self._last - self._first + 1 - sum(1 for r in self._reserved if self._in_range(r))

    def _in_range(self, n: int) -> bool:
        return self._first <= n <= self._last

    def _find(self, owner: str) -> str | None:
        for n, o in self._by_ip.items():
            if o == owner:
                return _ip(n)
        return None

    def _load(self) -> None:
        if self.state_file is None:
            return
        try:
            raw = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise IPAMError(f"cannot read IPAM state {self.state_file}: {exc}") from exc
        if raw.get("cidr") != str(self.network):
            # The node's podCIDR changed: old addresses are meaningless here. reconcile()
            # re-records any sandbox that still runs with an address inside the new range.
            log.warning(
                "ipam: state file %s is for %s, not %s; starting empty",
                self.state_file,
                raw.get("cidr"),
                self.network,
            )
            return
        for address, owner in (raw.get("allocations") or {}).items():
            n = int(ipaddress.IPv4Address(address))
            if self._in_range(n):
                self._by_ip[n] = str(owner)
        last = raw.get("last")
        if isinstance(last, str) and self._in_range(int(ipaddress.IPv4Address(last))):
            self._cursor = int(ipaddress.IPv4Address(last))

    def _save(self) -> None:
        if self.state_file is None:
            return
        state = {
            "cidr": str(self.network),
            "last": _ip(self._cursor) if self._in_range(self._cursor) else None,
            "allocations": {_ip(n): owner for n, owner in sorted(self._by_ip.items())},
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".ipam-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(state, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _ip(n: int) -> str:
    return str(ipaddress.IPv4Address(n))
