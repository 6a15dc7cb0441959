"""Warnings for accepted-but-questionable values (``minik.api.validation.warnings``)."""

from __future__ import annotations

from typing import Any

from minik.api.validation.warnings import warnings_for

MESSAGE = "terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"


def pod_spec(grace: Any) -> dict[str, Any]:
    return {"terminationGracePeriodSeconds": grace, "containers": []}


def test_negative_grace_period_in_a_pod_and_in_templates() -> None:
    assert warnings_for("Pod", {"spec": pod_spec(-1)}) == [f"spec.{MESSAGE}"]
    assert warnings_for("Deployment", {"spec": {"template": {"spec": pod_spec(-5)}}}) == [
        f"spec.template.spec.{MESSAGE}"
    ]
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec(-2)}}}}}
    assert warnings_for("CronJob", cron) == [f"spec.jobTemplate.spec.template.spec.{MESSAGE}"]


def test_no_warning_for_valid_missing_or_odd_values() -> None:
    for grace in (0, 30, None, True, "x", -1.5):
        assert warnings_for("Pod", {"spec": pod_spec(grace)}) == []
    assert warnings_for("Pod", {"spec": 5}) == []
    assert warnings_for("Pod", []) == []
    assert warnings_for("ConfigMap", {"spec": pod_spec(-1)}) == []
