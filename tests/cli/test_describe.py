"""minik.cli.describe: ages as kubectl prints them, a summary per kind, and the object's events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from minik.cli.describe import age
from tests.cli.conftest import Run


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


START = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=150), "2m"),
        (timedelta(hours=2, minutes=5), "2h"),
        (timedelta(days=3, hours=4), "3d"),
        (timedelta(seconds=-60), "0s"),  # clock skew: never a negative age
    ],
)
def test_age_uses_the_largest_whole_unit(
    elapsed: timedelta, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.fromisoformat(START.replace("Z", "+00:00")) + elapsed
    monkeypatch.setattr(time, "time", now.timestamp)
    assert age(START) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", 12])
def test_age_of_something_that_is_not_a_time(value: object) -> None:
    assert age(value) == "<unknown>"


def field(out: str, label: str) -> str:
    """The value printed after ``Label:`` (labels are padded to 16 columns)."""
    for line in out.splitlines():
        if line.startswith(f"{label}:"):
            return line[16:]
    raise AssertionError(f"no {label}: line in\n{out}")


@pytest.mark.integration
def test_a_configmap(ctl: Run, api: httpx.Client, ns: str) -> None:
    body = {
        "metadata": {
            "name": "settings",
            "labels": {"b": "2", "a": "1"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "x"},
        },
        "data": {"colour": "blue"},
    }
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201
    r = ctl("describe", "configmap", "settings")
    assert r.code == 0, r.err
    assert field(r.out, "Name") == "settings"
    assert field(r.out, "Namespace") == ns
    assert field(r.out, "Kind") == "ConfigMap (v1)"
    lines = r.out.splitlines()
    labels_at = lines.index(f"{'Labels:':<16}a=1")
    assert lines[labels_at + 1] == " " * 16 + "b=2"  # one label a line, sorted
    assert field(r.out, "Annotations") == "note=x"  # last-applied is noise: hidden
    assert field(r.out, "Created").endswith("ago)")
    assert "Data:\n  colour: blue" in r.out
    assert lines[-1] == "Events:         <none>"


@pytest.mark.integration
def test_a_pod_with_its_events(ctl: Run, api: httpx.Client, ns: str) -> None:
    pod = {
        "metadata": {"name": "web"},
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}],
        },
    }
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod)
    assert created.status_code == 201, created.text
    uid = created.json()["metadata"]["uid"]
    for name, target_uid, reason in (("e1", uid, "Scheduled"), ("e2", "another-uid", "Other")):
        event = {
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": ns, "uid": target_uid},
            "reason": reason,
            "message": f"{reason} happened",
            "type": "Normal",
            "source": {"component": "default-scheduler"},
            "lastTimestamp": ago(seconds=30),
        }
        assert api.post(f"/api/v1/namespaces/{ns}/events", json=event).status_code == 201
    r = ctl("describe", "pod/web")
    assert r.code == 0, r.err
    assert field(r.out, "Node") == "<none>"
    assert "Containers:\n  app:\n    Image:     nginx:1.25\n    Ports:     80/TCP" in r.out
    events = r.out.split("Events:\n", 1)[1].splitlines()
    assert events[0].split() == ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    assert events[1].split()[:2] == ["Normal", "Scheduled"]
    assert events[1].split()[3:] == ["default-scheduler", "Scheduled", "happened"]
    assert len(events) == 2  # the event of another object with the same name is not shown


@pytest.mark.integration
def test_by_selector_and_not_found(ctl: Run, api: httpx.Client, ns: str) -> None:
    for name in ("a", "b"):
        body = {"metadata": {"name": name, "labels": {"app": "x"}}}
        assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201
    r = ctl("describe", "cm", "-l", "app=x")
    assert [field(block, "Name") for block in r.out.split("\n\n")] == ["a", "b"]
    r = ctl("describe", "cm", "ghost")
    assert r.code == 1 and f'configmaps "ghost" not found in namespace "{ns}"' in r.err
