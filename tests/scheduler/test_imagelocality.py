"""ImageLocality: image sizes scaled by spread, clamped, normalized names."""

from __future__ import annotations

import pytest

from minik.scheduler.plugins.imagelocality import (
    MAX_CONTAINER_THRESHOLD,
    MB,
    MIN_THRESHOLD,
    normalized_image_name,
)
from tests.scheduler.builders import container, make_node, make_pod, plugin, run_score, snapshot


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("nginx", "nginx:latest"),
        ("nginx:1.25", "nginx:1.25"),
        ("registry:5000/team/app", "registry:5000/team/app:latest"),
        ("registry:5000/team/app:v2", "registry:5000/team/app:v2"),
    ],
)
def test_normalized_image_name(name: str, want: str) -> None:
    assert normalized_image_name(name) == want


def image(name: str, size_mb: int) -> dict[str, object]:
    return {"names": [name], "sizeBytes": size_mb * MB}


def test_score_scales_by_spread_and_clamps() -> None:
    nodes = [
        make_node("big", images=[image("app:latest", 500), image("sidecar:1", 300)]),
        make_node("small", images=[image("app:latest", 500)]),
        make_node("none"),
    ]
    snap = snapshot(nodes)
    pod = make_pod(containers=[container("a", image="app"), container("b", image="sidecar:1")])
    scores = run_score(plugin("ImageLocality", snap), pod, snap)

    def expected(total: int) -> int:
        top = MAX_CONTAINER_THRESHOLD * 2
        total = min(max(total, MIN_THRESHOLD), top)
        return 100 * (total - MIN_THRESHOLD) // (top - MIN_THRESHOLD)

    app_part = int(500 * MB * (2 / 3))
    side_part = int(300 * MB * (1 / 3))
    assert scores == {"big": expected(app_part + side_part), "small": expected(app_part), "none": 0}


def test_small_images_score_zero_and_absent_images_skip() -> None:
    snap = snapshot([make_node("n1", images=[image("tiny:1", 5)])])
    assert run_score(
        plugin("ImageLocality", snap), make_pod(containers=[container(image="tiny:1")]), snap
    ) == {"n1": 0}
    assert (
        run_score(plugin("ImageLocality", snap), make_pod(containers=[container(image="other")]), snap) == {}
    )
