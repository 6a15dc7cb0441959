"""minik.cli.get: tables per type, named objects, -o yaml|json|name, and what is printed when empty.

(tests/cli/test_basic.py covers apply-then-get, -o wide, -A and selectors; test_workloads.py -w.)
"""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.cli.conftest import Run

pytestmark = pytest.mark.integration


def configmaps(api: httpx.Client, ns: str, *names: str) -> None:
    for name in names:
        body = {"metadata": {"name": name, "labels": {"app": "x"}}, "data": {"k": "v"}}
        assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).status_code == 201


def secret(api: httpx.Client, ns: str, name: str) -> None:
    body = {"metadata": {"name": name}, "stringData": {"k": "v"}}
    assert api.post(f"/api/v1/namespaces/{ns}/secrets", json=body).status_code == 201


def test_named_objects_share_one_table(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmaps(api, ns, "a", "b", "c")
    r = ctl("get", "cm", "c", "a")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:2] == ["NAME", "DATA"]
    assert [line.split()[0] for line in lines[1:]] == ["c", "a"]  # in the order asked for


def test_several_types_print_one_table_each_with_kind_prefixes(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmaps(api, ns, "a")
    secret(api, ns, "s")
    r = ctl("get", "configmaps,secrets,services")
    assert r.code == 0, r.err
    blocks = r.out.split("\n\n")
    assert len(blocks) == 2  # no Services here: no empty table for them
    assert blocks[0].splitlines()[1].split()[0] == "configmap/a"
    assert blocks[1].splitlines()[1].split()[0] == "secret/s"
    assert r.err == ""


def test_one_named_object_as_yaml_several_as_a_list(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmaps(api, ns, "a", "b")
    one = yaml.safe_load(ctl("get", "cm/a", "-o", "yaml").out)
    assert one["kind"] == "ConfigMap" and one["metadata"]["name"] == "a"
    both = json.loads(ctl("get", "cm", "a", "b", "-o", "json").out)
    assert both["kind"] == "List" and [i["metadata"]["name"] for i in both["items"]] == ["a", "b"]
    assert ctl("get", "cm/a", "secret/none", "-o", "name").code == 1


def test_a_missing_name_fails_with_the_listing_command(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmaps(api, ns, "a")
    r = ctl("get", "cm", "a", "ghost")
    assert r.code == 1 and r.out == ""
    assert f'configmaps "ghost" not found in namespace "{ns}"' in r.err
    assert f"try: minikctl get configmaps -n {ns}" in r.err


def test_nothing_found(ctl: Run, ns: str) -> None:
    for output in ([], ["-o", "name"], ["-o", "json"]):
        r = ctl("get", "configmaps", "-l", "app=none", *output)
        assert r.code == 0 and r.out == ""
        assert r.err.strip() == f"No resources found in {ns} namespace."


def test_selector_across_namespaces(ctl: Run, api: httpx.Client, ns: str) -> None:
    configmaps(api, ns, "a")
    r = ctl("get", "cm", "-A", "-l", "app=x", "-o", "name", namespace=None)
    assert "configmap/a" in r.out.splitlines()
    r = ctl("get", "cm", "-A", "-l", "app=x", "--show-labels", namespace=None)
    header = r.out.splitlines()[0].split()
    assert header[0] == "NAMESPACE" and header[-1] == "LABELS"
    assert any(line.split()[:2] == [ns, "a"] and line.endswith("app=x") for line in r.out.splitlines())
