"""minik.cli.delete: what to delete, waiting until it is gone, and what happens when it is not."""

from __future__ import annotations

import httpx
import pytest

from minik.cli.delete import CASCADE
from minik.cli.main import build_parser
from tests.cli.conftest import Run


def test_cascade_words_map_to_propagation_policies() -> None:
    assert CASCADE["background"] == CASCADE["true"] == "Background"
    assert CASCADE["orphan"] == CASCADE["false"] == "Orphan"
    assert CASCADE["foreground"] == "Foreground"
    args = build_parser().parse_args(["delete", "deploy", "web"])
    assert (args.cascade, args.wait, args.timeout) == ("background", "true", 120.0)


def configmap(api: httpx.Client, ns: str, name: str, *finalizers: str) -> None:
    body = {"metadata": {"name": name, "finalizers": list(finalizers)}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201


def release(api: httpx.Client, ns: str, name: str) -> None:
    patch = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/{name}",
        json={"metadata": {"finalizers": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patch.status_code == 200, patch.text


@pytest.mark.integration
def test_a_type_without_names_is_refused(ctl: Run) -> None:
    r = ctl("delete", "configmaps")
    assert r.code == 1
    assert "error: resource(s) were provided, but no name was specified" in r.err
    assert "minikctl delete configmaps NAME, or -l SELECTOR, or --all" in r.err


@pytest.mark.integration
def test_all_in_the_namespace(ctl: Run, api: httpx.Client, ns: str) -> None:
    for name in ("a", "b"):
        configmap(api, ns, name)
    r = ctl("delete", "cm", "--all")
    assert r.code == 0, r.err
    assert sorted(r.out.splitlines()) == ['configmap "a" deleted', 'configmap "b" deleted']
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["items"] == []
    r = ctl("delete", "cm", "--all")
    assert r.code == 0 and r.err.strip() == "No resources found"


@pytest.mark.integration
def test_ignore_not_found(ctl: Run) -> None:
    r = ctl("delete", "cm", "ghost", "--ignore-not-found")
    assert r.code == 0 and r.out == ""


@pytest.mark.integration
def test_waiting_for_a_finalizer_times_out_with_the_reason(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmap(api, ns, "held", "example.com/hold")
    try:
        r = ctl("delete", "cm", "held", "--timeout", "1")
        assert r.code == 1
        assert 'configmap "held" deleted' in r.out  # the DELETE was accepted ...
        assert "timed out after 1s waiting for configmap/held to be deleted" in r.err  # ... it is not gone
        assert "metadata.finalizers" in r.err
        obj = api.get(f"/api/v1/namespaces/{ns}/configmaps/held").json()
        assert obj["metadata"]["deletionTimestamp"]
    finally:
        release(api, ns, "held")


@pytest.mark.integration
def test_wait_false_returns_after_the_delete(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmap(api, ns, "held", "example.com/hold")
    try:
        r = ctl("delete", "configmap/held", "--wait=false")
        assert r.code == 0 and r.out.strip() == 'configmap "held" deleted'
        assert api.get(f"/api/v1/namespaces/{ns}/configmaps/held").json()["metadata"]["deletionTimestamp"]
    finally:
        release(api, ns, "held")
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/held").status_code == 404
