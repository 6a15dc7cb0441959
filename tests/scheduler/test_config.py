"""KubeSchedulerConfiguration parsing, defaults, plugin-set merging and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minik.scheduler.config import ConfigError, load_config, parse_config, parse_duration

BASE = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def cfg(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


def names(plugin_set: Any) -> list[str]:
    return [p.name for p in plugin_set.enabled]


def test_defaults() -> None:
    config = parse_config(BASE)
    assert [p.scheduler_name for p in config.profiles] == ["default-scheduler"]
    assert config.percentage_of_nodes_to_score == 0
    assert (config.pod_initial_backoff_seconds, config.pod_max_backoff_seconds) == (1, 10)
    le = config.leader_election
    assert (le.leader_elect, le.lease_duration, le.renew_deadline, le.retry_period) == (True, 15, 10, 2)
    assert (le.resource_namespace, le.resource_name) == ("kube-system", "minik-scheduler")
    multi = config.profiles[0].plugins["multiPoint"]
    assert names(multi)[0] == "PrioritySort" and names(multi)[-1] == "DefaultBinder"
    assert {p.name: p.weight for p in multi.enabled}["TaintToleration"] == 3


def test_merge_disable_reweight_append() -> None:
    config = parse_config(
        cfg(
            profiles=[
                {
                    "schedulerName": "packer",
                    "plugins": {
                        "multiPoint": {
                            "disabled": [{"name": "ImageLocality"}],
                            "enabled": [{"name": "NodeAffinity", "weight": 7}],
                        },
                        "score": {
                            "disabled": [{"name": "*"}],
                            "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                        },
                    },
                    "pluginConfig": [
                        {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
                    ],
                }
            ]
        )
    )
    profile = config.profiles[0]
    multi = profile.plugins["multiPoint"]
    assert "ImageLocality" not in names(multi)
    affinity = [p for p in multi.enabled if p.name == "NodeAffinity"]
    assert len(affinity) == 1 and affinity[0].weight == 7
    assert names(multi).index("NodeAffinity") == 4  # kept the default's position
    assert names(profile.plugins["score"]) == ["NodeResourcesFit"]
    assert profile.plugin_config["NodeResourcesFit"]["scoringStrategy"]["type"] == "MostAllocated"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "KubeSchedulerConfiguration"}, "apiVersion"),
        (cfg(kind="Other"), "kind"),
        (cfg(percentageOfNodesToScore=120), "percentageOfNodesToScore: must be between 0 and 100"),
        (cfg(bogus=1), "bogus: unknown field"),
        (
            cfg(profiles=[{"plugins": {"score": {"enabled": [{"name": "X", "weight": 500}]}}}]),
            "profiles[0].plugins.score.enabled[0].weight",
        ),
        (
            cfg(profiles=[{"plugins": {"score": {"enabled": [{"weight": 1}]}}}]),
            "profiles[0].plugins.score.enabled[0].name",
        ),
        (cfg(profiles=[{"plugins": {"permit": {"enabled": [{"name": "X"}]}}}]), "no permit extension point"),
        (cfg(profiles=[{"schedulerName": "a"}, {"schedulerName": "a"}]), "used twice"),
        (
            cfg(leaderElection={"leaseDuration": "5s", "renewDeadline": "10s"}),
            "leaseDuration must be greater",
        ),
        (cfg(leaderElection={"retryPeriod": "soon"}), "not a duration"),
        (cfg(podInitialBackoffSeconds=5, podMaxBackoffSeconds=2), "podMaxBackoffSeconds"),
        (cfg(extenders=[{"urlPrefix": "http://x"}]), "extenders"),
    ],
)
def test_errors_name_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (2, 2.0), ("0", 0.0), ("1.5s", 1.5)],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_load_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "percentageOfNodesToScore: 30\nprofiles:\n- schedulerName: one\n- schedulerName: two\n"
    )
    config = load_config(path)
    assert config.percentage_of_nodes_to_score == 30
    assert [p.scheduler_name for p in config.profiles] == ["one", "two"]
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_example_config_parses() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "scheduler-config.yaml"
    config = load_config(example)
    assert config.profiles
