"""The scheduler's cache of nodes and placed pods, and the per-cycle snapshot.

**Why a cache of its own.** The informers hold Node and Pod objects; the
scheduler needs them *aggregated* — per node, how much is requested, which
ports are used, which pods carry affinity terms — and it needs one thing the
API cannot tell it yet: the pods it has just decided to place.

**Assumed pods.** Binding is a network round trip, and the informer learns of
it even later. If the next cycle did not count the pod just placed, a burst of
pods would all pick the same emptiest node. So as soon as a node is chosen the
pod is *assumed*: added to that node's aggregate in the cache, before the
binding is even sent (upstream ``AssumePod``)::

    assume_pod ──▶ (binding cycle, async) ──▶ finish_binding ──▶ informer: add_pod (confirmed)
         │                                          │ TTL runs from here
         └──── bind failed ──▶ forget_pod            └──── no confirmation in time ──▶ expired, removed

* the informer reports the pod on a node: the assumption is *confirmed* (the
  pod stays, now as the real object; if the API put it elsewhere, it moves);
* the bind fails: :meth:`Cache.forget_pod` takes it back off the node;
* the bind succeeded but the informer never confirms it (a watch gap, the pod
  deleted meanwhile): after ``ttl`` seconds from :meth:`Cache.finish_binding`
  the assumption expires (:meth:`Cache.cleanup_assumed_pods`). Upstream
  defaults to 0 = never; minik expires after 30 s so a lost event cannot leak
  capacity forever.

**Snapshots.** A scheduling cycle must see one consistent cluster, even though
informer events keep arriving. :class:`Snapshot` is that view: a map and a list
of :class:`NodeInfo` copies plus the lists InterPodAffinity needs (nodes with
pods that have affinity terms). Copying 1,000 nodes per cycle would cost more
than scheduling, so the update is *incremental*, as upstream's: every change
to a cache NodeInfo stamps it with a new generation number and moves it to the
end of an ordered dict; :meth:`Cache.update_snapshot` walks that dict from the
end and copies only the nodes newer than the snapshot's generation — usually
one, the node that received the last assumed pod. Snapshot NodeInfos are
updated *in place*, so the snapshot's lists stay valid and are rebuilt only when
nodes come or go or a node's affinity pods change.

Pods whose node the cache has not seen (pod event before node event) are kept
on a placeholder NodeInfo without a node, so the accounting is right once the
node shows up; placeholders never appear in snapshots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from minik.api.selectors import DOUBLE_EQUALS, EQUALS, IN, LabelSelector
from minik.client.objects import Obj
from minik.scheduler.framework.types import AffinityTerm, NodeInfo, PodInfo

log = logging.getLogger(__name__)

#: How long an assumed pod may wait for the informer after a successful bind.
DEFAULT_ASSUMED_POD_TTL = 30.0
_EXACT = frozenset((EQUALS, DOUBLE_EQUALS, IN))

#: ``(kind, term, weight)``: kind is "anti" (required anti-affinity), "hard" (required
#: affinity), "prefer" / "avoid" (preferred affinity / anti-affinity, with their weight).
TermKey = tuple[str, AffinityTerm, int]


def _term_keys(pod: PodInfo) -> list[TermKey]:
    keys: list[TermKey] = [("anti", t, 0) for t in pod.required_anti_affinity_terms]
    keys += [("hard", t, 0) for t in pod.required_affinity_terms]
    keys += [("prefer", w.term, w.weight) for w in pod.preferred_affinity_terms]
    keys += [("avoid", w.term, w.weight) for w in pod.preferred_anti_affinity_terms]
    return keys


def _exact_requirement(selector: LabelSelector) -> tuple[str, str] | None:
    """A ``key=value`` every pod matching ``selector`` must carry (None if there is none)."""
    for req in selector.requirements:
        if req.operator in _EXACT and len(req.values) == 1:
            return (req.key, req.values[0])
    return None


class Snapshot:
    """The cluster as one scheduling cycle sees it (see the module docs)."""

    def __init__(self) -> None:
        self.node_info_map: dict[str, NodeInfo] = {}
        self.node_info_list: list[NodeInfo] = []
        self.have_pods_with_affinity: list[NodeInfo] = []
        self.have_pods_with_required_anti_affinity: list[NodeInfo] = []
        #: image name -> number of nodes that have it (ImageLocality's spread)
        self.image_num_nodes: dict[str, int] = {}
        #: (label key, value) -> uid -> pod: every placed pod under each of its labels
        self.pods_by_label: dict[tuple[str, str], dict[str, PodInfo]] = {}
        #: uid -> (pod, the snapshot NodeInfo it is on)
        self.pod_locations: dict[str, tuple[PodInfo, NodeInfo]] = {}
        #: (kind, term, weight) -> node name -> how many placed pods carry it there
        self.term_nodes: dict[TermKey, dict[str, int]] = {}
        #: a term's indexing label (one of its key=value requirements) -> term keys
        self.terms_by_label: dict[tuple[str, str], set[TermKey]] = {}
        #: term keys without a key=value requirement: candidates for every pod
        self.terms_any: set[TermKey] = set()
        self.generation = 0

    @classmethod
    def from_objects(cls, nodes: list[Obj], pods: list[Obj] = ()) -> Snapshot:  # type: ignore[assignment]
        """A standalone snapshot of these nodes with these (bound) pods — for tests and benchmarks."""
        cache = Cache()
        for node in nodes:
            cache.add_node(node)
        for pod in pods:
            cache.add_pod(pod)
        snapshot = cls()
        cache.update_snapshot(snapshot)
        return snapshot

    def get(self, name: str) -> NodeInfo | None:
        return self.node_info_map.get(name)

    def __len__(self) -> int:
        return len(self.node_info_list)

    # -- the label index ------------------------------------------------------------------------

    def index_pod(self, pod: PodInfo, node: NodeInfo) -> None:
        uid = pod.uid
        self.pod_locations[uid] = (pod, node)
        by_label = self.pods_by_label
        for pair in pod.labels.items():
            bucket = by_label.get(pair)
            if bucket is None:
                bucket = by_label[pair] = {}
            bucket[uid] = pod
        if pod.has_affinity:
            for key in _term_keys(pod):
                per_node = self.term_nodes.get(key)
                if per_node is None:
                    per_node = self.term_nodes[key] = {}
                    label = _exact_requirement(key[1].selector)
                    if label is None:
                        self.terms_any.add(key)
                    else:
                        self.terms_by_label.setdefault(label, set()).add(key)
                per_node[node.name] = per_node.get(node.name, 0) + 1

    def unindex_pod(self, pod: PodInfo, node: NodeInfo) -> None:
        uid = pod.uid
        location = self.pod_locations.get(uid)
        if location is not None and location[0] is pod:
            del self.pod_locations[uid]
        if pod.has_affinity:
            for key in _term_keys(pod):
                per_node = self.term_nodes.get(key)
                if per_node is None or node.name not in per_node:
                    continue
                per_node[node.name] -= 1
                if per_node[node.name] <= 0:
                    del per_node[node.name]
                if not per_node:
                    del self.term_nodes[key]
                    label = _exact_requirement(key[1].selector)
                    if label is None:
                        self.terms_any.discard(key)
                    else:
                        keys = self.terms_by_label.get(label)
                        if keys is not None:
                            keys.discard(key)
                            if not keys:
                                del self.terms_by_label[label]
        by_label = self.pods_by_label
        for pair in pod.labels.items():
            bucket = by_label.get(pair)
            if bucket is not None and bucket.get(uid) is pod:
                del bucket[uid]
                if not bucket:
                    del by_label[pair]

    def terms_for(self, pod: PodInfo) -> list[TermKey]:
        """The placed pods' terms that *may* match ``pod`` (by their indexing label);
        callers still check each term."""
        found = list(self.terms_any)
        by_label = self.terms_by_label
        for pair in pod.labels.items():
            keys = by_label.get(pair)
            if keys:
                found.extend(keys)
        return found

    def node_of(self, pod: PodInfo) -> NodeInfo:
        """The snapshot NodeInfo a placed pod is on."""
        return self.pod_locations[pod.uid][1]

    def candidates(self, selector: LabelSelector) -> list[PodInfo] | None:
        """The placed pods that *may* match ``selector``, from the label index.

        The selector must still be checked on each (and namespaces): this only
        narrows by its most selective ``key=value`` requirement. ``None`` when the
        selector has no such requirement (scan every pod instead).
        """
        best: dict[str, PodInfo] | None = None
        for req in selector.requirements:
            if req.operator in _EXACT and len(req.values) == 1:
                bucket = self.pods_by_label.get((req.key, req.values[0]))
                if bucket is None:
                    return []
                if best is None or len(bucket) < len(best):
                    best = bucket
        return None if best is None else list(best.values())

    def matching_pods(self, selector: LabelSelector) -> list[tuple[PodInfo, NodeInfo]]:
        """``(pod, node)`` for every placed pod that may match ``selector`` (index
        or, failing that, every pod); callers still check the selector."""
        found = self.candidates(selector)
        if found is None:
            return [(pod, node) for node in self.node_info_list for pod in node.pods]
        locations = self.pod_locations
        return [(pod, locations[pod.uid][1]) for pod in found]

    def rebuild_lists(self, ordered: list[NodeInfo]) -> None:
        self.node_info_list = ordered
        self.rebuild_affinity_lists()

    def rebuild_affinity_lists(self) -> None:
        self.have_pods_with_affinity = [n for n in self.node_info_list if n.pods_with_affinity]
        self.have_pods_with_required_anti_affinity = [
            n for n in self.node_info_list if n.pods_with_required_anti_affinity
        ]

    def rebuild_images(self) -> None:
        counts: dict[str, int] = {}
        for node in self.node_info_list:
            for name in node.image_sizes:
                counts[name] = counts.get(name, 0) + 1
        self.image_num_nodes = counts


@dataclass(slots=True)
class _PodState:
    pod: PodInfo
    #: monotonic time after which an assumed pod expires (None: binding not finished)
    deadline: float | None = None


class Cache:
    """Nodes and the pods on them, including assumed pods (see the module docs).

    Not thread-safe; everything runs on one event loop and no method awaits.
    """

    def __init__(self, *, ttl: float = DEFAULT_ASSUMED_POD_TTL) -> None:
        self.ttl = ttl
        # Ordered by last change: the most recently changed node is last.
        self._nodes: dict[str, NodeInfo] = {}
        # Nodes in the order they were first added: the order snapshots list them in.
        self._order: dict[str, None] = {}
        self._pods: dict[str, _PodState] = {}  # uid -> state
        self._assumed: set[str] = set()
        self._generation = 0
        self._nodes_with_object = 0
        self._node_set_changed = True
        self._images_changed = True

    # -- bookkeeping --------------------------------------------------------------------------

    def _touch(self, info: NodeInfo) -> None:
        self._generation += 1
        info.generation = self._generation
        name = info.name
        # Move to the end: the snapshot update walks from the end, newest first.
        self._nodes.pop(name, None)
        self._nodes[name] = info

    def _node(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = NodeInfo(name)
            self._nodes[name] = info
        return info

    def _drop_if_empty_placeholder(self, info: NodeInfo) -> None:
        if info.node is None and not info.pods:
            self._nodes.pop(info.name, None)

    # -- nodes --------------------------------------------------------------------------------

    def add_node(self, node: Obj) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self._node(name)
        if info.node is None:
            self._nodes_with_object += 1
            self._node_set_changed = True
            self._order[name] = None
        old_images = info.image_sizes
        info.set_node(node)
        if info.image_sizes != old_images:
            self._images_changed = True
        self._touch(info)
        return info

    update_node = add_node

    def remove_node(self, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name") or "")
        info = self._nodes.get(name)
        if info is None or info.node is None:
            return
        info.remove_node()
        self._order.pop(name, None)
        self._nodes_with_object -= 1
        self._node_set_changed = True
        self._images_changed = True
        self._touch(info)
        self._drop_if_empty_placeholder(info)

    @property
    def node_count(self) -> int:
        return self._nodes_with_object

    def node_names(self) -> list[str]:
        return [name for name, info in self._nodes.items() if info.node is not None]

    # -- pods ---------------------------------------------------------------------------------

    @property
    def pod_count(self) -> int:
        return len(self._pods)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def get_pod(self, uid: str) -> PodInfo | None:
        state = self._pods.get(uid)
        return state.pod if state is not None else None

    def _place(self, pod: PodInfo) -> None:
        info = self._node(pod.node_name)
        info.add_pod(pod)
        self._touch(info)

    def _unplace(self, pod: PodInfo) -> None:
        info = self._nodes.get(pod.node_name)
        if info is None:
            return
        if info.remove_pod(pod.uid) is None:
            return
        self._touch(info)
        self._drop_if_empty_placeholder(info)

    def assume_pod(self, pod: PodInfo) -> None:
        """Count ``pod`` (``node_name`` set) on its node now, before the API confirms."""
        if pod.uid in self._pods:
            raise ValueError(f"pod {pod.key} ({pod.uid}) is already in the scheduler cache")
        self._place(pod)
        self._pods[pod.uid] = _PodState(pod)
        self._assumed.add(pod.uid)

    def finish_binding(self, pod: PodInfo, now: float) -> None:
        """The bind call succeeded: start the assumed pod's expiry clock."""
        state = self._pods.get(pod.uid)
        if state is not None and pod.uid in self._assumed:
            state.deadline = now + self.ttl

    def forget_pod(self, pod: PodInfo) -> None:
        """Undo :meth:`assume_pod` (the bind failed)."""
        state = self._pods.get(pod.uid)
        if state is None or pod.uid not in self._assumed:
            return
        self._unplace(state.pod)
        del self._pods[pod.uid]
        self._assumed.discard(pod.uid)

    def add_pod(self, pod: Obj | PodInfo) -> None:
        """The informer reports a pod bound to a node (confirms an assumed one)."""
        info = pod if isinstance(pod, PodInfo) else PodInfo.from_pod(pod)
        if not info.node_name:
            return
        state = self._pods.get(info.uid)
        if state is not None:
            if info.uid in self._assumed:
                self._assumed.discard(info.uid)
            # Replace what we had (assumed or stale) with the real object.
            self._unplace(state.pod)
        self._place(info)
        self._pods[info.uid] = _PodState(info)

    def update_pod(self, old: Obj | PodInfo | None, new: Obj | PodInfo) -> None:
        self.add_pod(new)

    def remove_pod(self, pod: Obj | PodInfo) -> None:
        uid = pod.uid if isinstance(pod, PodInfo) else str((pod.get("metadata") or {}).get("uid") or "")
        state = self._pods.pop(uid, None)
        if state is None:
            return
        self._assumed.discard(uid)
        self._unplace(state.pod)

    def cleanup_assumed_pods(self, now: float) -> list[PodInfo]:
        """Drop assumed pods whose binding finished more than ``ttl`` ago; return them."""
        expired: list[PodInfo] = []
        for uid in list(self._assumed):
            state = self._pods[uid]
            if state.deadline is not None and now >= state.deadline:
                log.warning(
                    "assumed pod %s on %s expired: the API never confirmed the binding",
                    state.pod.key,
                    state.pod.node_name,
                )
                self._assumed.discard(uid)
                del self._pods[uid]
                self._unplace(state.pod)
                expired.append(state.pod)
        return expired

    # -- snapshots ----------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date, copying only what changed since its generation."""
        since = snapshot.generation
        update_all = self._node_set_changed
        update_affinity = False
        for name in reversed(self._nodes):
            info = self._nodes[name]
            if info.generation <= since:
                break
            if info.node is None:
                continue
            existing = snapshot.node_info_map.get(name)
            if existing is None:
                fresh = snapshot.node_info_map[name] = info.snapshot()
                for pod in fresh.pods:
                    snapshot.index_pod(pod, fresh)
                update_all = True
                continue
            if bool(existing.pods_with_affinity) != bool(info.pods_with_affinity) or bool(
                existing.pods_with_required_anti_affinity
            ) != bool(info.pods_with_required_anti_affinity):
                update_affinity = True
            old_pods = {pod.uid: pod for pod in existing.pods}
            existing.copy_from(info)
            for pod in existing.pods:
                old = old_pods.pop(pod.uid, None)
                if old is not pod:
                    if old is not None:
                        snapshot.unindex_pod(old, existing)
                    snapshot.index_pod(pod, existing)
            for pod in old_pods.values():
                snapshot.unindex_pod(pod, existing)
        snapshot.generation = self._generation
        if self._node_set_changed:
            # Nodes were removed (or turned into placeholders): drop them from the snapshot.
            for name in [n for n in snapshot.node_info_map if n not in self._order]:
                gone = snapshot.node_info_map.pop(name)
                for pod in gone.pods:
                    snapshot.unindex_pod(pod, gone)
            self._node_set_changed = False
        if update_all:
            by_name = snapshot.node_info_map
            snapshot.rebuild_lists([by_name[name] for name in self._order if name in by_name])
        elif update_affinity:
            snapshot.rebuild_affinity_lists()
        if self._images_changed or update_all:
            snapshot.rebuild_images()
            self._images_changed = False

    def dump(self) -> dict[str, list[str]]:
        """Node name -> keys of the pods on it (``*`` marks assumed), for debugging."""
        return {
            name: [p.key + ("*" if p.uid in self._assumed else "") for p in info.pods]
            for name, info in self._nodes.items()
        }
