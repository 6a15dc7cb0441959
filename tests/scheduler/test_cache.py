"""The cache: assumed pods (confirm, forget, expire) and incremental snapshots."""

from __future__ import annotations

from minik.scheduler.cache import Cache, Snapshot
from minik.scheduler.framework.types import PodInfo
from tests.scheduler.builders import make_node, make_pod


def assumed(name: str, node: str, cpu: str = "1") -> PodInfo:
    return PodInfo.from_pod(make_pod(name, cpu=cpu, uid=f"uid-{name}")).assumed_on(node)


def test_assumed_pod_counts_until_forgotten() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    pod = assumed("a", "n1")
    cache.assume_pod(pod)
    snap = Snapshot()
    cache.update_snapshot(snap)
    assert snap.node_info_map["n1"].req_cpu == 1000 and cache.is_assumed(pod.uid)
    cache.forget_pod(pod)
    cache.update_snapshot(snap)
    assert snap.node_info_map["n1"].req_cpu == 0 and not cache.is_assumed(pod.uid)


def test_confirmation_replaces_the_assumption_even_on_another_node() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    pod = assumed("a", "n1")
    cache.assume_pod(pod)
    bound = make_pod("a", cpu="1", uid="uid-a", node_name="n2")
    cache.add_pod(bound)
    snap = Snapshot()
    cache.update_snapshot(snap)
    assert not cache.is_assumed(pod.uid)
    assert snap.node_info_map["n1"].req_cpu == 0 and snap.node_info_map["n2"].req_cpu == 1000
    assert cache.pod_count == 1


def test_assumed_pods_expire_only_after_binding_finished() -> None:
    cache = Cache(ttl=30)
    cache.add_node(make_node("n1"))
    pod = assumed("a", "n1")
    cache.assume_pod(pod)
    assert cache.cleanup_assumed_pods(now=1000) == []  # binding still in flight: never expires
    cache.finish_binding(pod, now=10)
    assert cache.cleanup_assumed_pods(now=39) == []
    assert [p.key for p in cache.cleanup_assumed_pods(now=40)] == ["default/a"]
    assert cache.pod_count == 0


def test_pods_before_their_node_are_kept() -> None:
    cache = Cache()
    cache.add_pod(make_pod("early", cpu="1", node_name="late"))
    snap = Snapshot()
    cache.update_snapshot(snap)
    assert "late" not in snap.node_info_map
    cache.add_node(make_node("late"))
    cache.update_snapshot(snap)
    assert snap.node_info_map["late"].req_cpu == 1000


def test_snapshot_update_is_incremental_and_keeps_identity() -> None:
    cache = Cache()
    for i in range(5):
        cache.add_node(make_node(f"n{i}"))
    snap = Snapshot()
    cache.update_snapshot(snap)
    objects = {name: id(info) for name, info in snap.node_info_map.items()}
    assert [n.name for n in snap.node_info_list] == [f"n{i}" for i in range(5)]
    cache.assume_pod(assumed("a", "n3"))
    cache.update_snapshot(snap)
    assert {name: id(info) for name, info in snap.node_info_map.items()} == objects
    assert snap.node_info_map["n3"].req_cpu == 1000 and snap.node_info_list[3].req_cpu == 1000


def test_snapshot_follows_node_removal_and_affinity_lists() -> None:
    cache = Cache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    snap = Snapshot()
    cache.update_snapshot(snap)
    anti = make_pod(
        "anti",
        node_name="n2",
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
    )
    cache.add_pod(anti)
    cache.update_snapshot(snap)
    assert [n.name for n in snap.have_pods_with_required_anti_affinity] == ["n2"]
    cache.remove_pod(anti)
    cache.remove_node(make_node("n1"))
    cache.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["n2"] and not snap.have_pods_with_required_anti_affinity


def test_snapshot_counts_images() -> None:
    image = {"names": ["app:1"], "sizeBytes": 10}
    snap = Snapshot.from_objects(
        [make_node("n1", images=[image]), make_node("n2", images=[image]), make_node("n3")]
    )
    assert snap.image_num_nodes == {"app:1": 2}
