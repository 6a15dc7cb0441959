"""minik.cli.metadata: ``label``/``annotate`` — KEY=VALUE sets, KEY- removes, --overwrite guards."""

from __future__ import annotations

import httpx
import pytest

from minik.cli.errors import CLIError
from minik.cli.metadata import parse_changes
from tests.cli.conftest import Run


def test_set_and_remove() -> None:
    assert parse_changes(["a=1", "b-", "c="], "label") == {"a": "1", "b": None, "c": ""}


def test_the_value_may_contain_equals_and_dashes() -> None:
    assert parse_changes(["note=a=b", "x=y-"], "annotation") == {"note": "a=b", "x": "y-"}


@pytest.mark.parametrize(("word", "message"), [("=v", "the key is empty"), ("plain", "invalid label")])
def test_bad_changes(word: str, message: str) -> None:
    with pytest.raises(CLIError, match=message):
        parse_changes([word], "label")


def test_at_least_one_change() -> None:
    with pytest.raises(CLIError) as info:
        parse_changes([], "annotation")
    assert info.value.message == "at least one annotation update is required"


def cm(api: httpx.Client, ns: str, name: str, labels: dict[str, str]) -> None:
    body = {"metadata": {"name": name, "labels": labels}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201


def labels(api: httpx.Client, ns: str, name: str) -> dict[str, str]:
    result: dict[str, str] = (
        api.get(f"/api/v1/namespaces/{ns}/configmaps/{name}").json()["metadata"].get("labels") or {}
    )
    return result


@pytest.mark.integration
def test_no_change_is_reported_and_not_written(ctl: Run, api: httpx.Client, ns: str) -> None:
    cm(api, ns, "a", {"tier": "web"})
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps/a").json()["metadata"]["resourceVersion"]
    r = ctl("label", "cm", "a", "tier=web", "gone-")
    assert r.code == 0 and r.out.strip() == "configmap/a not labeled"
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/a").json()["metadata"]["resourceVersion"] == rv


@pytest.mark.integration
def test_by_selector_and_all(ctl: Run, api: httpx.Client, ns: str) -> None:
    cm(api, ns, "a", {"tier": "web"})
    cm(api, ns, "b", {"tier": "db"})
    r = ctl("label", "cm", "-l", "tier=web", "picked=yes")
    assert r.code == 0 and r.out.splitlines() == ["configmap/a labeled"]
    assert labels(api, ns, "a") == {"tier": "web", "picked": "yes"} and "picked" not in labels(api, ns, "b")
    r = ctl("annotate", "cm", "--all", "owner=team")
    assert sorted(r.out.splitlines()) == ["configmap/a annotated", "configmap/b annotated"]


@pytest.mark.integration
def test_names_or_selector_are_required(ctl: Run) -> None:
    r = ctl("label", "cm", "x=y")
    assert r.code == 1 and "error: name the configmaps to label" in r.err
    assert "try: TYPE NAME, -l SELECTOR or --all" in r.err


@pytest.mark.integration
def test_a_missing_object(ctl: Run, ns: str) -> None:
    r = ctl("annotate", "cm/ghost", "x=y")
    assert r.code == 1 and f'configmaps "ghost" not found in namespace "{ns}"' in r.err
