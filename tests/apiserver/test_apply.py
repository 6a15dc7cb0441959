"""Server-side apply and field ownership: the merge and conflict rules (unit) and over HTTP."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import pytest
import yaml

from minik.api import errors
from minik.apiserver import apply, schemas

DEPLOY = schemas.node_for("apps", "v1", "Deployment")
CM = schemas.node_for("", "v1", "ConfigMap")


def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}},
            **spec,
        },
    }


def run(
    live: dict[str, Any],
    config: dict[str, Any],
    manager: str,
    force: bool = False,
    node: schemas.Node = DEPLOY,
) -> dict[str, Any]:
    return apply.apply(
        copy.deepcopy(live),
        config,
        node,
        manager,
        config["apiVersion"],
        subresource=None,
        has_status=True,
        force=force,
        rt_plural="deployments",
        name="d",
        group="apps",
    )


def test_fields_v1_round_trip_and_paths() -> None:
    obj = deployment([{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}], replicas=2)
    leaves = apply.object_leaves(obj, DEPLOY, None, True)
    item = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}')
    assert leaves[(*item, "f:image")] == "nginx"
    assert (*item, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}') in leaves  # the defaulted key
    assert ("f:metadata", "f:name") not in leaves and ("f:kind",) not in leaves
    trie = apply.to_fields_v1(leaves)
    assert trie["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["."] == {}
    assert apply.from_fields_v1(trie) == set(leaves)
    assert apply.describe_path((*item, "f:image")) == '.spec.template.spec.containers[name="web"].image'


def test_apply_merges_keyed_lists_and_records_the_manager() -> None:
    live = apply.apply_create(deployment([{"name": "a", "image": "x:1"}]), DEPLOY, "alice", "apps/v1", True)
    merged = run(live, deployment([{"name": "b", "image": "y:1"}], replicas=3), "bob")
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["a", "b"]  # bob's container joins alice's: the list is keyed by name
    managers = {m["manager"]: m for m in merged["metadata"]["managedFields"]}
    assert set(managers) == {"alice", "bob"} and managers["bob"]["operation"] == "Apply"
    assert "f:replicas" in managers["bob"]["fieldsV1"]["f:spec"]


def test_conflict_unless_forced_and_shared_when_equal() -> None:
    live = apply.apply_create(
        deployment([{"name": "a", "image": "x:1"}], replicas=1), DEPLOY, "alice", "apps/v1", True
    )
    with pytest.raises(errors.APIError) as e:
        run(live, deployment([{"name": "a", "image": "x:2"}], replicas=1), "bob")
    assert e.value.code == 409
    assert e.value.message == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.template.spec.containers[name="a"].image'
    )
    assert e.value.details is not None
    assert e.value.details["causes"][0]["field"] == '.spec.template.spec.containers[name="a"].image'
    # The same values: no conflict, both own them.
    shared = run(live, deployment([{"name": "a", "image": "x:1"}], replicas=1), "bob")
    # Forced: bob takes the image over.
    forced = run(shared, deployment([{"name": "a", "image": "x:2"}], replicas=1), "bob", force=True)
    owners = {m["manager"]: apply.from_fields_v1(m["fieldsV1"]) for m in forced["metadata"]["managedFields"]}
    image = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"a"}', "f:image")
    assert image in owners["bob"] and image not in owners["alice"]
    assert forced["spec"]["template"]["spec"]["containers"][0]["image"] == "x:2"


def test_fields_dropped_from_the_configuration_are_removed_unless_someone_else_owns_them() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    live = apply.apply_create(cm, CM, "alice", "v1", False)
    live = apply.apply(
        live,
        {**cm, "data": {"b": "2"}},
        CM,
        "bob",
        "v1",
        subresource=None,
        has_status=False,
        force=False,
        rt_plural="configmaps",
        name="c",
        group="",
    )
    after = apply.apply(
        live,
        {**cm, "data": {}},
        CM,
        "alice",
        "v1",
        subresource=None,
        has_status=False,
        force=False,
        rt_plural="configmaps",
        name="c",
        group="",
    )
    assert after["data"] == {"b": "2"}  # a went; b stays, bob still owns it


def test_update_takes_ownership_from_others() -> None:
    live = apply.apply_create(
        deployment([{"name": "a", "image": "x:1"}], replicas=1), DEPLOY, "alice", "apps/v1", True
    )
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 5
    apply.track_update(new, live, DEPLOY, "kube-controller-manager", "apps/v1", None, True)
    owners = {m["manager"]: m for m in new["metadata"]["managedFields"]}
    assert owners["kube-controller-manager"]["operation"] == "Update"
    assert apply.from_fields_v1(owners["kube-controller-manager"]["fieldsV1"]) == {("f:spec", "f:replicas")}
    with pytest.raises(errors.APIError) as e:
        run(new, deployment([{"name": "a", "image": "x:1"}], replicas=2), "alice")
    assert 'conflict with "kube-controller-manager" using apps/v1: .spec.replicas' in e.value.message


# -- over HTTP -------------------------------------------------------------------------------------------


APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.mark.integration
def test_apply_over_http(api: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    body = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    )
    assert api.patch(url, content=body, headers=APPLY).status_code == 400  # fieldManager is required
    r = api.patch(url, params={"fieldManager": "one"}, content=body, headers=APPLY)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}}}
    other = body.replace('"1"', '"2"').replace("'1'", "'2'")
    r = api.patch(url, params={"fieldManager": "two"}, content=other, headers=APPLY)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert r.json()["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "one"', "field": ".data.a"}
    ]
    r = api.patch(url, params={"fieldManager": "two", "force": "true"}, content=other, headers=APPLY)
    assert r.status_code == 200 and r.json()["data"] == {"a": "2"}
    # An ordinary update by a named manager takes the field over too.
    r = api.patch(
        url,
        params={"fieldManager": "editor"},
        json={"data": {"a": "3"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    owners = {m["manager"]: m["fieldsV1"] for m in r.json()["metadata"]["managedFields"]}
    assert owners == {"editor": {"f:data": {"f:a": {}}}}


def test_a_no_op_apply_keeps_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream ignores a change of the time alone: an apply that changes nothing writes nothing."""
    config = deployment([{"name": "web", "image": "nginx"}], replicas=2)
    monkeypatch.setattr(apply, "_now", lambda: "2026-01-01T00:00:00Z")
    first = run(deployment([{"name": "web", "image": "nginx"}]), config, "kubectl")
    monkeypatch.setattr(apply, "_now", lambda: "2026-01-01T00:00:01Z")
    assert run(first, config, "kubectl") == first
    changed = run(first, deployment([{"name": "web", "image": "nginx"}], replicas=3), "kubectl")
    assert changed["metadata"]["managedFields"][0]["time"] == "2026-01-01T00:00:01Z"


#: managedFields entries a client may send that do not parse (each alone in the list).
INVALID_ENTRIES: list[Any] = [
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"k:[1]": {}}}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {'k:"x"': {}}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"k:{": {}}}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"bogus": {}}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"i:x": {}}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": "x"}},
    {"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": ["f:data"]},
    {"manager": "m", "operation": "Delete", "fieldsType": "FieldsV1", "fieldsV1": {}},
    {"manager": "m", "operation": "Update", "fieldsV1": {}},
    {"manager": 5, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}},
    "not an entry",
]


@pytest.mark.parametrize("entry", INVALID_ENTRIES)
def test_managed_fields_that_do_not_parse_are_reset_as_upstream(entry: Any) -> None:
    """Upstream never fails a write for them: the stored ones stay (an update) or none (a create)."""
    stored = run(deployment([{"name": "web", "image": "nginx"}]), deployment([]), "kubectl")
    new = copy.deepcopy(stored)
    new["metadata"]["managedFields"] = [entry]
    with pytest.raises(apply.InvalidManagedFields):
        apply.read_managers(new)
    apply.reset_invalid_managed_fields(new, stored)
    assert new["metadata"]["managedFields"] == stored["metadata"]["managedFields"]
    created = {"metadata": {"name": "c", "managedFields": [entry]}}
    apply.reset_invalid_managed_fields(created, None)
    assert "managedFields" not in created["metadata"]
    # A tracked update starts from the stored managers; an apply over a stored object
    # whose entries do not parse starts afresh instead of failing.
    new = deployment([{"name": "web", "image": "nginx:2"}])
    new["metadata"]["managedFields"] = [entry]
    apply.track_update(new, stored, DEPLOY, "editor", "apps/v1", None, True)
    assert {m["manager"] for m in new["metadata"]["managedFields"]} == {"kubectl", "editor"}
    broken = copy.deepcopy(stored)
    broken["metadata"]["managedFields"] = [entry]
    result = run(broken, deployment([{"name": "web", "image": "nginx:3"}]), "kubectl")
    assert [m["manager"] for m in result["metadata"]["managedFields"]] == ["kubectl"]


def test_describe_path_words_any_key() -> None:
    assert apply.describe_path(("f:spec", "k:[1]", 'k:"x"', "k:{")) == '.spec[[1]]["x"][{]'


@pytest.mark.integration
def test_invalid_managed_fields_from_a_client_never_fail_a_write(api: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/configmaps"
    bad = [
        {
            "manager": "m",
            "operation": "Apply",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"k:[1]": {}}},
        }
    ]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mf", "managedFields": bad}}
    r = api.post(url, json=cm)
    assert r.status_code == 201, r.text
    assert "managedFields" not in r.json()["metadata"]
    body = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mf"}, "data": {"a": "1"}}
    )
    r = api.patch(f"{url}/mf", params={"fieldManager": "one"}, content=body, headers=APPLY)
    assert r.status_code == 200, r.text
    applied = r.json()["metadata"]["managedFields"]
    r = api.put(f"{url}/mf", json={**r.json(), "metadata": {**r.json()["metadata"], "managedFields": bad}})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["managedFields"] == applied
    r = api.patch(f"{url}/mf", params={"fieldManager": "one"}, content=body, headers=APPLY)
    assert r.status_code == 200, r.text


@pytest.mark.integration
def test_the_same_apply_a_second_later_writes_nothing(api: httpx.Client, ns: str) -> None:
    """managedFields times have a resolution of a second: a no-op apply across one must not write."""
    url = f"/api/v1/namespaces/{ns}/configmaps/same"
    body = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "same"}, "data": {"a": "1"}}
    )
    first = api.patch(url, params={"fieldManager": "one"}, content=body, headers=APPLY)
    assert first.status_code == 201, first.text
    time.sleep(1.1)  # the premise of the test: the second apply happens in another second
    second = api.patch(url, params={"fieldManager": "one"}, content=body, headers=APPLY)
    assert second.status_code == 200, second.text
    assert second.json()["metadata"]["resourceVersion"] == first.json()["metadata"]["resourceVersion"]
    assert second.json()["metadata"]["managedFields"] == first.json()["metadata"]["managedFields"]
