"""minik-scheduler's flags on top of the configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from minik.scheduler.config import ConfigError
from minik.scheduler.main import build_config, main, parse_args

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "scheduler-config.yaml")


def test_defaults_without_a_file() -> None:
    config = build_config(parse_args([]))
    assert [p.scheduler_name for p in config.profiles] == ["default-scheduler"]
    assert config.leader_election.leader_elect is True


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "leaderElection: {resourceName: from-file}\nprofiles: [{schedulerName: a}]\n"
    )
    config = build_config(
        parse_args(
            [
                "--config",
                str(path),
                "--scheduler-name",
                "b",
                "--leader-elect=false",
                "--leader-elect-lease-duration",
                "30s",
                "--leader-elect-renew-deadline",
                "20s",
            ]
        )
    )
    assert [p.scheduler_name for p in config.profiles] == ["b"]
    le = config.leader_election
    assert (le.leader_elect, le.lease_duration, le.renew_deadline, le.resource_name) == (
        False,
        30,
        20,
        "from-file",
    )


def test_scheduler_name_needs_a_single_profile() -> None:
    with pytest.raises(ConfigError, match="one profile"):
        build_config(parse_args(["--config", EXAMPLE, "--scheduler-name", "x"]))


def test_inconsistent_leader_election_flags() -> None:
    with pytest.raises(ConfigError, match="leaseDuration must be greater"):
        build_config(parse_args(["--leader-elect-lease-duration", "5s"]))


@pytest.mark.parametrize("flag", ["--leader-elect=maybe", "--leader-elect-retry-period=soon"])
def test_bad_flag_values(flag: str) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args([flag])
    assert info.value.code == 2


def test_a_bad_config_file_exits_2_with_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles: [{plugins: {score: {enabled: [{name: NoSuchPlugin}]}}}]\n"
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["--config", str(path), "--kubeconfig", str(kubeconfig), "--metrics-port", "-1"])
    assert info.value.code == 2
    assert "NoSuchPlugin" in caplog.text and "does not exist" in caplog.text
