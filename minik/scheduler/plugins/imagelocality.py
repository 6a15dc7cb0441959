"""ImageLocality: prefer nodes that already have the pod's images.

A node that has the image skips the pull, so the pod starts sooner. Nodes
report their images in ``status.images`` (names and size). For each container
image present on the node the score adds ``size * (nodes with the image /
all nodes)`` — the spread factor keeps every pod of a popular image from
crowding onto the first node that pulled it. The sum is clamped between 23 MB
and 1000 MB per container and mapped linearly onto 0..100 (upstream's
``calculatePriority``). Image names are normalized by adding ``:latest``
when there is no tag (``nginx`` -> ``nginx:latest``).

PreScore answers SKIP when no node has any of the pod's images, which saves the
per-node loop in most clusters (every node would score 0 anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

from minik.scheduler.framework.interface import PreScorePlugin, ScorePlugin
from minik.scheduler.framework.types import MAX_NODE_SCORE, CycleState, NodeInfo, PodInfo, Status

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_KEY = "PreScoreImageLocality"


def normalized_image_name(name: str) -> str:
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def _images(pod: PodInfo) -> list[str]:
    out: list[str] = []
    for key in ("initContainers", "containers"):
        for ctr in pod.spec.get(key) or ():
            if isinstance(ctr, dict) and ctr.get("image"):
                out.append(normalized_image_name(str(ctr["image"])))
    return out


class ImageLocality(PreScorePlugin, ScorePlugin):
    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        images = _images(pod)
        spread = self.handle.snapshot.image_num_nodes
        if not any(image in spread for image in images):
            return Status.skip()
        state.write(_KEY, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        try:
            images: list[str] = state.data[_KEY]
        except KeyError:
            images = _images(pod)
        snapshot = self.handle.snapshot
        total_nodes = len(snapshot.node_info_list) or 1
        total = 0
        sizes = node.image_sizes
        for image in images:
            size = sizes.get(image)
            if size is not None:
                total += int(size * (snapshot.image_num_nodes.get(image, 0) / total_nodes))
        return calculate_priority(total, _containers(pod))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        try:
            images: list[str] = state.data[_KEY]
        except KeyError:
            images = _images(pod)
        snapshot = self.handle.snapshot
        total_nodes = len(snapshot.node_info_list) or 1
        spread = [(image, snapshot.image_num_nodes.get(image, 0) / total_nodes) for image in images]
        containers = _containers(pod)
        out: list[int] = []
        for node in nodes:
            sizes = node.image_sizes
            total = 0
            if sizes:
                for image, fraction in spread:
                    size = sizes.get(image)
                    if size is not None:
                        total += int(size * fraction)
            out.append(calculate_priority(total, containers) if total else 0)
        return out


def _containers(pod: PodInfo) -> int:
    return max(len(pod.spec.get("containers") or ()) + len(pod.spec.get("initContainers") or ()), 1)
