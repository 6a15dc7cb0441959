"""The snapshot's label and term indexes: kept right incrementally, and invisible in results.

InterPodAffinity and PodTopologySpread look pods and terms up through indexes
the snapshot maintains as nodes change. Two properties matter: after any
sequence of cache changes the incrementally updated snapshot equals one built
from scratch, and plugin verdicts and scores are the same as with a full scan.
"""

from __future__ import annotations

import random
from typing import Any

from minik.api.selectors import LabelSelector
from minik.scheduler.cache import Cache, Snapshot, TermKey
from minik.scheduler.framework.types import CycleState, PodInfo
from tests.scheduler.builders import framework, make_node, make_pod

ZONES = ["a", "b", "c"]
APPS = ["web", "db", "cache"]


def random_pod(rng: random.Random, i: int, node: str | None = None) -> dict[str, Any]:
    app = rng.choice(APPS)
    spec: dict[str, Any] = {}
    roll = rng.random()
    term = {
        "labelSelector": {"matchLabels": {"app": rng.choice(APPS)}},
        "topologyKey": rng.choice(["zone", "kubernetes.io/hostname"]),
    }
    if roll < 0.2:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    elif roll < 0.35:
        spec["affinity"] = {
            "podAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": rng.randint(1, 100), "podAffinityTerm": term}
                ]
            }
        }
    elif roll < 0.45:
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": rng.randint(1, 100), "podAffinityTerm": term}
                ]
            }
        }
    elif roll < 0.5:
        spec["affinity"] = {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                        "topologyKey": "zone",
                    }
                ]
            }
        }
    elif roll < 0.65:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": rng.randint(1, 2),
                "topologyKey": rng.choice(["zone", "kubernetes.io/hostname"]),
                "whenUnsatisfiable": rng.choice(["DoNotSchedule", "ScheduleAnyway"]),
                "labelSelector": {"matchLabels": {"app": app}},
            }
        ]
    return make_pod(
        f"p{i}",
        cpu="100m",
        labels={"app": app, "i": str(i % 3)},
        node_name=node,
        namespace=rng.choice(["default", "default", "other"]),
        **spec,
    )


def index_state(snap: Snapshot) -> tuple[Any, ...]:
    return (
        {k: set(v) for k, v in snap.pods_by_label.items()},
        {uid: (id(pod), node.name) for uid, (pod, node) in snap.pod_locations.items()},
        {k: dict(v) for k, v in snap.term_nodes.items()},
        {k: set(v) for k, v in snap.terms_by_label.items()},
        set(snap.terms_any),
        [n.name for n in snap.node_info_list],
        sorted(n.name for n in snap.have_pods_with_affinity),
    )


def test_incremental_index_matches_a_fresh_build() -> None:
    rng = random.Random(5)
    cache = Cache()
    snap = Snapshot()
    nodes = [f"n{i}" for i in range(6)]
    for name in nodes:
        cache.add_node(make_node(name, labels={"zone": rng.choice(ZONES)}))
    placed: dict[str, PodInfo] = {}
    assumed: dict[str, PodInfo] = {}
    for step in range(400):
        op = rng.random()
        if op < 0.35:
            info = PodInfo.from_pod(random_pod(rng, step, rng.choice(nodes)))
            cache.add_pod(info)
            placed[info.uid] = info
        elif op < 0.5:
            info = PodInfo.from_pod(random_pod(rng, step)).assumed_on(rng.choice(nodes))
            cache.assume_pod(info)
            assumed[info.uid] = info
        elif op < 0.6 and assumed:
            info = assumed.pop(rng.choice(list(assumed)))
            if rng.random() < 0.5:
                cache.forget_pod(info)
            else:  # confirmed, maybe on another node
                confirmed = PodInfo.from_pod(
                    {**info.pod, "spec": {**info.pod["spec"], "nodeName": rng.choice(nodes)}}
                )
                cache.add_pod(confirmed)
                placed[confirmed.uid] = confirmed
        elif op < 0.75 and placed:
            cache.remove_pod(placed.pop(rng.choice(list(placed))))
        elif op < 0.8:
            name = rng.choice(nodes)
            cache.update_node(make_node(name, labels={"zone": rng.choice(ZONES)}))
        elif op < 0.83:
            name = rng.choice(nodes)
            cache.remove_node(make_node(name))
            if rng.random() < 0.7:
                cache.add_node(make_node(name, labels={"zone": rng.choice(ZONES)}))
        if rng.random() < 0.6:
            cache.update_snapshot(snap)
            rebuilt = Snapshot()
            _full_build(cache, rebuilt)
            assert index_state(snap) == index_state(rebuilt), f"step {step}"


def _full_build(cache: Cache, snapshot: Snapshot) -> None:
    """What update_snapshot produces from scratch, without disturbing the cache's bookkeeping."""
    copy = Cache()
    copy._nodes = dict(cache._nodes)
    copy._order = dict(cache._order)
    copy._generation = cache._generation
    copy._node_set_changed = True
    copy._images_changed = True
    copy.update_snapshot(snapshot)


class FullScan(Snapshot):
    """A snapshot whose lookups return everything: the plugins then scan like upstream."""

    def candidates(self, selector: LabelSelector) -> list[PodInfo] | None:
        return None

    def terms_for(self, pod: PodInfo) -> list[TermKey]:
        return list(self.term_nodes)


def test_indexed_lookups_give_the_same_verdicts_and_scores() -> None:
    rng = random.Random(11)
    cache = Cache()
    for i in range(8):
        cache.add_node(make_node(f"n{i}", labels={"zone": ZONES[i % 3]}))
    for i in range(60):
        cache.add_pod(random_pod(rng, i, f"n{rng.randrange(8)}"))
    indexed, scanned = Snapshot(), FullScan()
    _full_build(cache, indexed)
    _full_build(cache, scanned)
    fwk_indexed, fwk_scanned = framework(indexed), framework(scanned)
    scored_by = {"InterPodAffinity": 0, "PodTopologySpread": 0}
    rejected_by: set[str] = set()
    for i in range(150):
        pod = PodInfo.from_pod(random_pod(rng, 1000 + i))
        results = []
        for fwk, snap in ((fwk_indexed, indexed), (fwk_scanned, scanned)):
            state = CycleState()
            _, status = fwk.run_pre_filter(state, pod, snap.node_info_list)
            verdicts = (
                {n.name: fwk.run_filter(state, pod, n) for n in snap.node_info_list} if status is None else {}
            )
            feasible = [n for n in snap.node_info_list if verdicts.get(n.name) is None]
            breakdown: dict[str, list[int]] = {}
            if status is None and len(feasible) > 1:
                fwk.run_pre_score(state, pod, feasible)
                fwk.run_score(state, pod, feasible, breakdown=breakdown)
            results.append(
                (
                    status.reasons if status else None,
                    {k: v.reasons if v else None for k, v in verdicts.items()},
                    breakdown,
                )
            )
        assert results[0] == results[1], pod.pod["spec"]
        for name in scored_by:
            scored_by[name] += name in results[0][2]
        rejected_by.update(v.plugin for v in verdicts.values() if v is not None)
    # The comparison covered what it is about.
    assert all(scored_by.values()), scored_by
    assert {"InterPodAffinity", "PodTopologySpread"} <= rejected_by, rejected_by
