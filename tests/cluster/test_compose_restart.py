"""docker-compose.yml restarts every component that exits, as `make up`'s supervisor does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
ONE_SHOTS = {"init": "no", "cleanup": "no", "bootstrap": "on-failure"}


def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the x-minik anchor's merge
    return dict(document["services"])


def test_every_long_running_component_restarts_unless_stopped() -> None:
    components = {name: spec for name, spec in services().items() if name not in ONE_SHOTS}
    assert {"etcd", "apiserver", "controller-manager", "scheduler", "kube-proxy", "dns"} <= set(components)
    assert any(name.startswith("kubelet") for name in components)
    assert {name: spec.get("restart") for name, spec in components.items()} == dict.fromkeys(
        components, "unless-stopped"
    )


def test_one_shot_services_do_not_run_again_after_they_succeed() -> None:
    assert {name: services()[name].get("restart") for name in ONE_SHOTS} == ONE_SHOTS
