"""How fast nodes may be tainted ``NoExecute`` (and so have their pods evicted), per zone.

When nodes stop answering, the control plane cannot tell "the nodes died" from "I am cut
off from them". Upstream's node lifecycle controller therefore limits the *rate* at which
it starts evictions, zone by zone, and stops them altogether when everything looks dead.
The pure rules live here; :class:`~minik.controllers.nodelifecycle.NodeLifecycleController`
applies them.

**Zones.** A node's zone is its ``topology.kubernetes.io/region`` and
``topology.kubernetes.io/zone`` labels (the old ``failure-domain.beta.kubernetes.io/*``
ones as a fallback); without them every node is in the one zone ``""``, the whole cluster.

**Zone state** (upstream ``ComputeZoneState``), from the nodes whose ``Ready`` is not
``True`` ("not ready") and those whose is:

=================== ========================================================================
FullDisruption      no node ready, at least one not ready
PartialDisruption   more than two not ready, and they are at least ``unhealthy_threshold``
                    (``--unhealthy-zone-threshold``, 0.55) of the zone
Normal              anything else
=================== ========================================================================

**Rates** (nodes tainted per second, a token bucket with a burst of one):

- Normal, and FullDisruption of *one* zone while others are fine: ``--node-eviction-rate``
  (0.1/s: one node every ten seconds);
- PartialDisruption: ``--secondary-node-eviction-rate`` (0.01/s) when the zone has more
  than ``--large-cluster-size-threshold`` (50) nodes, otherwise 0 — a small zone that is
  mostly down is left alone;
- every zone in FullDisruption: 0 everywhere, and the existing NoExecute condition taints
  are taken off ("master disruption mode"): when nothing is reachable, the likeliest
  broken thing is the control plane's own network, and evicting every pod would only
  turn an outage into a disaster. When a node answers again, every node gets a fresh
  grace period.

Only *adding* the first NoExecute condition taint to a node waits for a token; removing
them (the node is Ready again) and swapping ``not-ready`` for ``unreachable`` never wait.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from minik.client.objects import Obj, labels_of

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
_BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
_BETA_REGION = "failure-domain.beta.kubernetes.io/region"


class ZoneState(enum.StrEnum):
    NORMAL = "Normal"
    PARTIAL_DISRUPTION = "PartialDisruption"
    FULL_DISRUPTION = "FullDisruption"


@dataclass(frozen=True, slots=True)
class EvictionLimits:
    """The four controller-manager flags that bound evictions (upstream's defaults)."""

    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50


def zone_of(node: Obj) -> str:
    """The node's zone key (``region:zone``; ``""`` when the node has neither label)."""
    labels = labels_of(node)
    region = labels.get(REGION_LABEL) or labels.get(_BETA_REGION) or ""
    zone = labels.get(ZONE_LABEL) or labels.get(_BETA_ZONE) or ""
    return f"{region}:{zone}" if region or zone else ""


def zone_state(ready: int, not_ready: int, threshold: float) -> ZoneState:
    """Upstream ``ComputeZoneState`` (the table in the module docs)."""
    if ready == 0 and not_ready > 0:
        return ZoneState.FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= threshold:
        return ZoneState.PARTIAL_DISRUPTION
    return ZoneState.NORMAL


def zone_rate(state: ZoneState, size: int, limits: EvictionLimits) -> float:
    """Nodes per second a zone in ``state`` with ``size`` nodes may have tainted."""
    if state is ZoneState.PARTIAL_DISRUPTION:
        return limits.secondary_node_eviction_rate if size > limits.large_cluster_size_threshold else 0.0
    return limits.node_eviction_rate


@dataclass(slots=True)
class ZoneCensus:
    ready: int = 0
    not_ready: int = 0

    @property
    def size(self) -> int:
        return self.ready + self.not_ready


def census(nodes: Iterable[tuple[str, bool]]) -> dict[str, ZoneCensus]:
    """Ready and not-ready counts per zone, from (zone, is ready) pairs."""
    zones: dict[str, ZoneCensus] = {}
    for zone, ready in nodes:
        counts = zones.setdefault(zone, ZoneCensus())
        if ready:
            counts.ready += 1
        else:
            counts.not_ready += 1
    return zones


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; time comes from the caller."""

    def __init__(self, rate: float, now: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self.tokens = min(float(self.burst), self.tokens + (now - self._at) * self.rate)
        self._at = max(self._at, now)

    def set_rate(self, rate: float, now: float) -> None:
        self._refill(now)
        self.rate = rate

    def take(self, now: float) -> float:
        """0 and one token spent, or the seconds until one is there (``inf`` at rate 0)."""
        self._refill(now)
        if self.rate <= 0:
            return math.inf  # stopped: a saved-up token does not count either
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def give_back(self, now: float) -> None:
        """Return a token that :meth:`take` spent on a taint that was never written."""
        self._refill(now)
        self.tokens = min(float(self.burst), self.tokens + 1.0)


class ZoneLimiter:
    """One :class:`TokenBucket` per zone, its rate following the zone's state."""

    def __init__(self, limits: EvictionLimits) -> None:
        self.limits = limits
        self.states: dict[str, ZoneState] = {}
        self.sizes: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        #: True while every zone is in FullDisruption (no NoExecute taints at all).
        self.all_disrupted = False

    def observe(self, nodes: Iterable[tuple[str, bool]], now: float) -> bool:
        """Recompute zone states and rates from (zone, is ready) pairs.

        Returns True when the cluster just *left* master disruption mode (the caller then
        gives every node a fresh grace period).
        """
        zones = census(nodes)
        self.states = {
            z: zone_state(c.ready, c.not_ready, self.limits.unhealthy_zone_threshold)
            for z, c in zones.items()
        }
        self.sizes = {z: c.size for z, c in zones.items()}
        was = self.all_disrupted
        self.all_disrupted = bool(self.states) and all(
            s is ZoneState.FULL_DISRUPTION for s in self.states.values()
        )
        for zone, state in self.states.items():
            rate = 0.0 if self.all_disrupted else zone_rate(state, self.sizes[zone], self.limits)
            bucket = self._buckets.get(zone)
            if bucket is None:
                self._buckets[zone] = TokenBucket(rate, now)
            else:
                bucket.set_rate(rate, now)
        return was and not self.all_disrupted

    def take(self, zone: str, now: float) -> float:
        """0 if a node of ``zone`` may be tainted now (a token spent), else seconds to wait."""
        if self.all_disrupted:
            return math.inf
        bucket = self._buckets.get(zone)
        if bucket is None:
            bucket = self._buckets[zone] = TokenBucket(self.limits.node_eviction_rate, now)
        return bucket.take(now)

    def give_back(self, zone: str, now: float) -> None:
        """Undo a :meth:`take` whose taint write failed: a conflict is no eviction."""
        bucket = self._buckets.get(zone)
        if bucket is not None:
            bucket.give_back(now)
