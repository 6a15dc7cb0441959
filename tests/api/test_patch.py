"""Tests for minik.api.patch: RFC 6902, RFC 7386 and Kubernetes strategic merge patch.

The strategic cases follow upstream's behaviour (k8s.io/apimachinery strategicpatch),
including its ordering rule: elements named in the patch keep the patch's order, and
a new element without ``$setElementOrder`` lands before the server's elements.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from minik.api.patch import (
    MAX_JSON_PATCH_OPERATIONS,
    STRATEGIC_MERGE_FIELDS,
    PatchError,
    PatchNotApplicable,
    PatchTooLarge,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    create_strategic_merge_patch,
    strategic_merge_supported,
)


def _unchanged(*values: Any) -> list[str]:
    """Snapshot values so a test can assert that a patch function did not mutate them."""
    return [json.dumps(v, sort_keys=True) for v in values]


# --------------------------------------------------------------------------- RFC 6902

JSON_PATCH_CASES = [
    # RFC 6902 appendix A
    (
        "A.1 add object member",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.2 add array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (
        "A.3 remove object member",
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (
        "A.4 remove array element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5 replace a value",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6 move a value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 move an array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 test a value (success)",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10 add a nested member object",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11 ignore unrecognized members of an operation",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.14 ~ escape ordering",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}, {"op": "replace", "path": "/~1", "value": 11}],
        {"/": 11, "~1": 10},
    ),
    (
        "A.16 add an array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    # beyond the appendix
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    ("add '-' appends", {"l": [1, 2]}, [{"op": "add", "path": "/l/-", "value": 3}], {"l": [1, 2, 3]}),
    (
        "add at index == length appends",
        {"l": [1, 2]},
        [{"op": "add", "path": "/l/2", "value": 3}],
        {"l": [1, 2, 3]},
    ),
    ("add with empty path replaces the document", {"a": 1}, [{"op": "add", "path": "", "value": [1]}], [1]),
    (
        "replace with empty path replaces the document",
        {"a": 1},
        [{"op": "replace", "path": "", "value": {"b": 2}}],
        {"b": 2},
    ),
    (
        "replace an array element",
        {"l": ["a", "b"]},
        [{"op": "replace", "path": "/l/1", "value": "c"}],
        {"l": ["a", "c"]},
    ),
    (
        "replace a key containing '/'",
        {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}},
        [{"op": "replace", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "y"}],
        {"metadata": {"labels": {"app.kubernetes.io/name": "y"}}},
    ),
    (
        "copy a subtree is a deep copy",
        {"a": {"b": [1]}},
        [{"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/b/-", "value": 2}],
        {"a": {"b": [1]}, "c": {"b": [1, 2]}},
    ),
    (
        "copy to '-' appends",
        {"l": ["x"], "v": "y"},
        [{"op": "copy", "from": "/v", "path": "/l/-"}],
        {"l": ["x", "y"], "v": "y"},
    ),
    ("move to the same place is a no-op", {"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    (
        "test whole document",
        {"a": [1, {"b": None}]},
        [{"op": "test", "path": "", "value": {"a": [1, {"b": None}]}}],
        {"a": [1, {"b": None}]},
    ),
    ("test numbers compare by value", {"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}], {"n": 1}),
    ("test of null value", {"n": None}, [{"op": "test", "path": "/n", "value": None}], {"n": None}),
    ("empty patch", {"a": 1}, [], {"a": 1}),
    (
        "operations see earlier results",
        {"spec": {"replicas": 1}},
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "test", "path": "/spec/replicas", "value": 3},
        ],
        {"spec": {"replicas": 3}},
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "patch", "expected"), JSON_PATCH_CASES, ids=[c[0] for c in JSON_PATCH_CASES]
)
def test_json_patch(name: str, doc: Any, patch: Any, expected: Any) -> None:
    before = _unchanged(doc, patch)
    assert apply_json_patch(doc, patch) == expected
    assert _unchanged(doc, patch) == before


JSON_PATCH_ERRORS = [
    # (name, doc, patch, substring of the message)
    (
        "A.9 test fails",
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": "bar"}],
        'json patch op 0 (test): test failed: path /baz is "qux", expected "bar"',
    ),
    (
        "A.12 add to a nonexistent target",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        "json patch op 0 (add): path /baz/bat does not exist",
    ),
    (
        "A.15 string is not a number",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": "10"}],
        "test failed",
    ),
    (
        "test true is not 1",
        {"b": True},
        [{"op": "test", "path": "/b", "value": 1}],
        "test failed: path /b is true, expected 1",
    ),
    (
        "test of a missing path",
        {},
        [{"op": "test", "path": "/a", "value": None}],
        "op 0 (test): path /a does not exist",
    ),
    (
        "replace a missing member",
        {"spec": {}},
        [{"op": "test", "path": "/spec", "value": {}}, {"op": "replace", "path": "/spec/x", "value": 1}],
        "json patch op 1 (replace): path /spec/x does not exist",
    ),
    (
        "remove a missing member",
        {"a": 1},
        [{"op": "remove", "path": "/b"}],
        "op 0 (remove): path /b does not exist",
    ),
    ("remove the root", {"a": 1}, [{"op": "remove", "path": ""}], "cannot remove the whole document"),
    (
        "index out of range",
        {"l": [1]},
        [{"op": "replace", "path": "/l/1", "value": 2}],
        "index 1 is out of range (the array has 1 elements)",
    ),
    (
        "add beyond the end",
        {"l": [1]},
        [{"op": "add", "path": "/l/2", "value": 2}],
        "index 2 is out of range",
    ),
    (
        "index with leading zero",
        {"l": [1, 2]},
        [{"op": "remove", "path": "/l/01"}],
        "'01' is not a valid array index",
    ),
    ("negative index", {"l": [1, 2]}, [{"op": "remove", "path": "/l/-1"}], "'-1' is not a valid array index"),
    (
        "non-numeric index",
        {"l": [1]},
        [{"op": "add", "path": "/l/x", "value": 2}],
        "'x' is not a valid array index",
    ),
    (
        "'-' in replace",
        {"l": [1]},
        [{"op": "replace", "path": "/l/-", "value": 2}],
        "'-' (the end of the array) only works",
    ),
    (
        "pointer without leading slash",
        {"a": 1},
        [{"op": "remove", "path": "a"}],
        "path 'a' is not a JSON pointer",
    ),
    ("pointer with a bad escape", {"a~2": 1}, [{"op": "remove", "path": "/a~2"}], "invalid escape"),
    ("pointer that is not a string", {"a": 1}, [{"op": "remove", "path": 3}], '"path" must be a string'),
    (
        "traverse into a scalar",
        {"a": 1},
        [{"op": "add", "path": "/a/b/c", "value": 2}],
        "/a is a number, not an object or array",
    ),
    (
        "add below a scalar",
        {"a": 1},
        [{"op": "add", "path": "/a/b", "value": 2}],
        "path /a/b does not exist: its parent is a number",
    ),
    (
        "move into its own child",
        {"a": {"b": 1}},
        [{"op": "move", "from": "/a", "path": "/a/b/c"}],
        "cannot move /a into its own child /a/b/c",
    ),
    (
        "move from a missing path",
        {"a": 1},
        [{"op": "move", "from": "/x", "path": "/y"}],
        "op 0 (move): path /x does not exist",
    ),
    (
        "copy from a missing path",
        {"a": 1},
        [{"op": "copy", "from": "/x", "path": "/y"}],
        "op 0 (copy): path /x does not exist",
    ),
    ("missing value", {"a": 1}, [{"op": "add", "path": "/b"}], 'op 0 (add): missing "value"'),
    ("missing from", {"a": 1}, [{"op": "copy", "path": "/b"}], 'op 0 (copy): missing "from"'),
    ("missing path", {"a": 1}, [{"op": "remove"}], 'op 0 (remove): missing "path"'),
    (
        "unknown op",
        {"a": 1},
        [{"op": "increment", "path": "/a"}],
        'json patch op 0: unknown op "increment"; allowed: add, remove',
    ),
    ("missing op", {"a": 1}, [{"path": "/a"}], 'json patch op 0: missing "op"'),
    ("op that is not an object", {"a": 1}, ["remove /a"], "json patch op 0: must be an object, got string"),
    (
        "patch that is not a list",
        {"a": 1},
        {"op": "remove", "path": "/a"},
        "json patch must be an array of operations, got object",
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "patch", "message"), JSON_PATCH_ERRORS, ids=[c[0] for c in JSON_PATCH_ERRORS]
)
def test_json_patch_errors(name: str, doc: Any, patch: Any, message: str) -> None:
    before = _unchanged(doc, patch)
    with pytest.raises(PatchError) as caught:
        apply_json_patch(doc, patch)
    assert message in str(caught.value)
    assert _unchanged(doc, patch) == before  # a failed patch leaves nothing half-applied


@pytest.mark.parametrize(
    ("patch", "applicable"),
    [
        ({"op": "test"}, False),  # not a list: the patch cannot be read as one (400)
        (["add"], False),  # an operation that is not an object (400)
        ([{"op": 5}], True),  # read, but the op does not exist (422, as upstream)
        ([{"path": "/a"}], True),  # no op at all (422)
        ([{"op": "test", "path": "/a", "value": 2}], True),  # a failed test (422)
        ([{"op": "remove", "path": "/nope"}], True),  # a path that does not exist (422)
    ],
)
def test_json_patch_error_kind_follows_the_failure_not_the_message(patch: Any, applicable: bool) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch({"a": 1}, patch)
    assert isinstance(caught.value, PatchNotApplicable) is applicable


def test_json_patch_result_does_not_alias_the_patch() -> None:
    value = {"k": ["v"]}
    result = apply_json_patch({}, [{"op": "add", "path": "/x", "value": value}])
    result["x"]["k"].append("changed")
    assert value == {"k": ["v"]}


# --------------------------------------------------------------------------- RFC 7386

MERGE_PATCH_CASES = [
    # RFC 7386 appendix A, in order
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # the shapes clients send
    (
        {"spec": {"replicas": 1, "selector": {"app": "x"}}},
        {"spec": {"replicas": 3}},
        {"spec": {"replicas": 3, "selector": {"app": "x"}}},
    ),
    (
        {"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b"}]}},
        {"spec": {"containers": [{"name": "a", "image": "a:2"}]}},
        {"spec": {"containers": [{"name": "a", "image": "a:2"}]}},  # lists are replaced, never merged
    ),
    (
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"b": None, "c": "3"}}},
        {"metadata": {"labels": {"a": "1", "c": "3"}}},
    ),
    ({"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), MERGE_PATCH_CASES)
def test_merge_patch(doc: Any, patch: Any, expected: Any) -> None:
    before = _unchanged(doc, patch)
    assert apply_merge_patch(doc, patch) == expected
    assert _unchanged(doc, patch) == before


def test_merge_patch_result_does_not_alias_inputs() -> None:
    doc = {"keep": {"x": [1]}}
    patch = {"new": {"y": [2]}}
    result = apply_merge_patch(doc, patch)
    result["keep"]["x"].append(9)
    result["new"]["y"].append(9)
    assert doc == {"keep": {"x": [1]}}
    assert patch == {"new": {"y": [2]}}


# --------------------------------------------------------------------------- strategic merge


def _pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"containers": list(containers), **spec},
    }


def _deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
            **spec,
        },
    }


NGINX = {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
SIDECAR = {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "inf"]}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
    containers: list[dict[str, Any]] = spec["containers"]
    return containers


# Each case: (name, type_key, doc, patch, expected). "expected" is the whole result.
SMP_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "container merged by name: image changed, other container kept",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}},
        _pod(NGINX, {**SIDECAR, "image": "busybox:1.37"}),
    ),
    (
        "a new container without $setElementOrder goes first (upstream order rule)",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"name": "log", "image": "fluent-bit"}]}},
        _pod({"name": "log", "image": "fluent-bit"}, NGINX),
    ),
    (
        "env merged by name",
        "v1/Pod",
        _pod({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}),
        {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}]}]}},
        _pod({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]}),
    ),
    (
        "env entry: null removes one field of the entry",
        "v1/Pod",
        _pod(
            {
                "name": "a",
                "env": [
                    {"name": "X", "value": "1"},
                    {"name": "Y", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                ],
            }
        ),
        {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "v", "valueFrom": None}]}]}},
        _pod({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "v"}]}),
    ),
    (
        "ports merged by containerPort",
        "v1/Pod",
        _pod(
            {
                "name": "a",
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
            }
        ),
        {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 443, "hostPort": 8443}]}]}},
        _pod(
            {
                "name": "a",
                "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "https", "hostPort": 8443},
                ],
            }
        ),
    ),
    (
        "volumeMounts merged by mountPath",
        "v1/Pod",
        _pod(
            {
                "name": "a",
                "volumeMounts": [{"mountPath": "/data", "name": "d"}, {"mountPath": "/etc/x", "name": "x"}],
            }
        ),
        {"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}},
        _pod(
            {
                "name": "a",
                "volumeMounts": [
                    {"mountPath": "/data", "name": "d", "readOnly": True},
                    {"mountPath": "/etc/x", "name": "x"},
                ],
            }
        ),
    ),
    (
        "$patch: delete removes a container",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {"spec": {"containers": [{"name": "nginx", "$patch": "delete"}]}},
        _pod(SIDECAR),
    ),
    (
        "$patch: delete removes every element with that key",
        "v1/Pod",
        _pod({"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Z"}, {"name": "X", "value": "2"}]}),
        {"spec": {"containers": [{"name": "a", "env": [{"$patch": "delete", "name": "X"}]}]}},
        _pod({"name": "a", "env": [{"name": "Z"}]}),
    ),
    (
        "$patch: delete of an absent element is a no-op",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"name": "ghost", "$patch": "delete"}]}},
        _pod(NGINX),
    ),
    (
        "$patch: replace on a list replaces the whole list",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}},
        _pod({"name": "only", "image": "x"}),
    ),
    (
        "$patch: replace on a list alone empties it",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"$patch": "replace"}]}},
        _pod(),
    ),
    (
        "$patch: replace on a map replaces the whole map",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
        {**_pod(NGINX), "metadata": {"name": "p", "namespace": "default", "labels": {"only": "this"}}},
    ),
    (
        "$patch: delete on a map leaves it empty (upstream)",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"labels": {"$patch": "delete"}}},
        {**_pod(NGINX), "metadata": {"name": "p", "namespace": "default", "labels": {}}},
    ),
    (
        "$patch: merge is the explicit default",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"labels": {"$patch": "merge", "new": "1"}}},
        {
            **_pod(NGINX),
            "metadata": {
                "name": "p",
                "namespace": "default",
                "labels": {"app": "web", "tier": "fe", "new": "1"},
            },
        },
    ),
    (
        "null deletes labels",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"labels": {"tier": None, "ghost": None}}},
        {**_pod(NGINX), "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}}},
    ),
    (
        "null deletes a whole field",
        "v1/Pod",
        _pod(NGINX, nodeSelector={"disk": "ssd"}),
        {"spec": {"nodeSelector": None}},
        _pod(NGINX),
    ),
    (
        "$retainKeys: switching RollingUpdate to Recreate removes rollingUpdate",
        "apps/v1/Deployment",
        _deployment(
            [NGINX],
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        ),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        _deployment([NGINX], strategy={"type": "Recreate"}),
    ),
    (
        "$retainKeys with the null kubectl also sends",
        "apps/v1/Deployment",
        _deployment([NGINX], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}},
        _deployment([NGINX], strategy={"type": "Recreate"}),
    ),
    (
        "$retainKeys inside a volume: emptyDir becomes hostPath",
        "v1/Pod",
        _pod(NGINX, volumes=[{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]),
        {
            "spec": {
                "volumes": [
                    {"$retainKeys": ["hostPath", "name"], "name": "data", "hostPath": {"path": "/srv"}}
                ]
            }
        },
        _pod(
            NGINX,
            volumes=[
                {"name": "data", "hostPath": {"path": "/srv"}},
                {"name": "cfg", "configMap": {"name": "c"}},
            ],
        ),
    ),
    (
        "$setElementOrder reorders containers",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}},
        _pod(SIDECAR, NGINX),
    ),
    (
        "$setElementOrder places a new container",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "log"}, {"name": "sidecar"}],
                "containers": [{"name": "log", "image": "fluent-bit"}],
            }
        },
        _pod(NGINX, {"name": "log", "image": "fluent-bit"}, SIDECAR),
    ),
    (
        "$setElementOrder on env, with a deletion",
        "v1/Pod",
        _pod({"name": "a", "env": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "$setElementOrder/env": [{"name": "C"}, {"name": "D"}, {"name": "A"}],
                        "env": [{"name": "D", "value": "d"}, {"$patch": "delete", "name": "B"}],
                    }
                ]
            }
        },
        _pod({"name": "a", "env": [{"name": "C"}, {"name": "D", "value": "d"}, {"name": "A"}]}),
    ),
    (
        "$deleteFromPrimitiveList/finalizers removes finalizers",
        "v1/Pod",
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a/x", "b/y", "c/z"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b/y", "not/there"]}},
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a/x", "c/z"]}},
    ),
    (
        "$deleteFromPrimitiveList of an absent list adds nothing",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}},
        _pod(NGINX),
    ),
    (
        "finalizers are a set: union keeps server order",
        "v1/Pod",
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["b", "c"]}},
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a", "b", "c"]}},
    ),
    (
        "finalizers: add and delete with $setElementOrder (kubectl's shape)",
        "v1/Pod",
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a", "b", "c", "server"]}},
        {
            "metadata": {
                "$setElementOrder/finalizers": ["a", "d", "b"],
                "$deleteFromPrimitiveList/finalizers": ["c"],
                "finalizers": ["d"],
            }
        },
        {**_pod(NGINX), "metadata": {"name": "p", "finalizers": ["a", "d", "b", "server"]}},
    ),
    (
        "ownerReferences merged by uid",
        "v1/Pod",
        {
            **_pod(),
            "metadata": {"name": "p", "ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]},
        },
        {"metadata": {"ownerReferences": [{"uid": "1", "controller": True}]}},
        {
            **_pod(),
            "metadata": {
                "name": "p",
                "ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs", "controller": True}],
            },
        },
    ),
    (
        "a list with no patch strategy is replaced (tolerations)",
        "v1/Pod",
        _pod(NGINX, tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]),
        {"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}},
        _pod(NGINX, tolerations=[{"key": "c", "operator": "Exists"}]),
    ),
    (
        "a list of primitives with no strategy is replaced (args)",
        "v1/Pod",
        _pod(SIDECAR),
        {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "10"]}]}},
        _pod({**SIDECAR, "args": ["sleep", "10"]}),
    ),
    (
        "an unknown type: lists are replaced, metadata rules still apply",
        "example.com/v1/Widget",
        {
            "kind": "Widget",
            "metadata": {"finalizers": ["a"]},
            "spec": {"containers": [{"name": "a", "x": 1}, {"name": "b"}]},
        },
        {"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "a", "x": 2}]}},
        # a new finalizer without $setElementOrder goes first, as upstream does
        {
            "kind": "Widget",
            "metadata": {"finalizers": ["b", "a"]},
            "spec": {"containers": [{"name": "a", "x": 2}]},
        },
    ),
    (
        "Service ports merged by port",
        "v1/Service",
        {
            "kind": "Service",
            "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]},
        },
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
        {
            "kind": "Service",
            "spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}]},
        },
    ),
    (
        "Node status: conditions and addresses merged by type, images and taints replaced",
        "v1/Node",
        {
            "kind": "Node",
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "DiskPressure", "status": "False"},
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.0.1"},
                    {"type": "Hostname", "address": "n1"},
                ],
                "images": [{"names": ["a"]}],
            },
        },
        {
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                "images": [{"names": ["b"]}],
            },
        },
        {
            "kind": "Node",
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "DiskPressure", "status": "False"},
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.0.2"},
                    {"type": "Hostname", "address": "n1"},
                ],
                "images": [{"names": ["b"]}],
            },
        },
    ),
    (
        "Pod status: conditions merged by type, containerStatuses replaced",
        "v1/Pod",
        {
            "kind": "Pod",
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "PodScheduled", "status": "True"},
                ],
                "containerStatuses": [{"name": "a", "ready": False}, {"name": "b", "ready": False}],
            },
        },
        {
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "ready": True}],
            }
        },
        {
            "kind": "Pod",
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "PodScheduled", "status": "True"},
                ],
                "containerStatuses": [{"name": "a", "ready": True}],
            },
        },
    ),
    (
        "CronJob: containers deep in jobTemplate are merged",
        "batch/v1/CronJob",
        {
            "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [NGINX, SIDECAR]}}}}},
        },
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}
                }
            }
        },
        {
            "kind": "CronJob",
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{**NGINX, "image": "nginx:2"}, SIDECAR]}}}
                }
            },
        },
    ),
    (
        "Job: template containers merged, status conditions merged",
        "batch/v1/Job",
        {
            "kind": "Job",
            "spec": {"template": {"spec": {"containers": [NGINX, SIDECAR]}}},
            "status": {"conditions": [{"type": "Complete", "status": "False"}]},
        },
        {
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "b"}]}}},
            "status": {"conditions": [{"type": "Failed", "status": "True"}]},
        },
        {
            "kind": "Job",
            "spec": {"template": {"spec": {"containers": [NGINX, {**SIDECAR, "image": "b"}]}}},
            "status": {
                "conditions": [{"type": "Failed", "status": "True"}, {"type": "Complete", "status": "False"}]
            },
        },
    ),
    (
        "PodDisruptionBudget selector has patchStrategy replace",
        "policy/v1/PodDisruptionBudget",
        {"kind": "PodDisruptionBudget", "spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}},
        {"spec": {"selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]}}},
        {
            "kind": "PodDisruptionBudget",
            "spec": {
                "selector": {"matchExpressions": [{"key": "b", "operator": "Exists"}]},
                "minAvailable": 1,
            },
        },
    ),
    (
        "merge-strategy list given where the server has none",
        "v1/Pod",
        {"kind": "Pod", "spec": {}},
        {"spec": {"containers": [{"name": "hello", "env": None}, {"$patch": "delete", "name": "nope"}]}},
        {"kind": "Pod", "spec": {"containers": [{"name": "hello"}]}},
    ),
    (
        "an empty patch list leaves a merged list alone",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {"spec": {"containers": []}},
        _pod(NGINX, SIDECAR),
    ),
    (
        "patch order wins for elements it names; server-only ones keep their place",
        "v1/Pod",
        _pod({"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}),
        {"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}},
        _pod({"name": "2", "image": "b"}, {"name": "3", "image": "c"}, {"name": "1", "image": "a"}),
    ),
    (
        "fields that start with '$' but are real ($ref in a CRD schema) are merged",
        "apiextensions.k8s.io/v1/CustomResourceDefinition",
        {"spec": {"schema": {"$ref": "#/a"}}},
        {"spec": {"schema": {"$ref": "#/b"}}},
        {"spec": {"schema": {"$ref": "#/b"}}},
    ),
]


@pytest.mark.parametrize(
    ("name", "type_key", "doc", "patch", "expected"), SMP_CASES, ids=[c[0] for c in SMP_CASES]
)
def test_strategic_merge_patch(
    name: str, type_key: str, doc: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = _unchanged(doc, patch)
    assert apply_strategic_merge_patch(doc, patch, type_key) == expected
    assert _unchanged(doc, patch) == before


def test_kubectl_apply_image_change_and_label_removal() -> None:
    """The exact body client-side ``kubectl apply`` PATCHes (three-way diff against the
    last-applied annotation) after the user edits the image and drops a label."""
    last_applied_old: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25"},
                        {"name": "log", "image": "busybox"},
                    ]
                },
            },
        },
    }
    last_applied_new = copy.deepcopy(last_applied_old)
    del last_applied_new["metadata"]["labels"]["tier"]
    last_applied_new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    annotation = "kubectl.kubernetes.io/last-applied-configuration"

    live = copy.deepcopy(last_applied_old)
    live["metadata"].update(
        uid="u-1",
        resourceVersion="41",
        generation=1,
        annotations={annotation: json.dumps(last_applied_old), "deployment.kubernetes.io/revision": "1"},
    )
    live["spec"].update(replicas=1, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}})
    for c in live["spec"]["template"]["spec"]["containers"]:
        c.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log", resources={})
    live["status"] = {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}

    patch = {
        "metadata": {
            "annotations": {annotation: json.dumps(last_applied_new) + "\n"},
            "labels": {"tier": None},
        },
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                    "containers": [{"image": "nginx:1.27", "name": "web"}],
                }
            }
        },
    }

    result = apply_strategic_merge_patch(live, patch, "apps/v1/Deployment")

    expected = copy.deepcopy(live)
    expected["metadata"]["labels"] = {"app": "web"}
    expected["metadata"]["annotations"][annotation] = json.dumps(last_applied_new) + "\n"
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert result == expected
    # defaulted fields survive, the sidecar is untouched, order is kept
    assert [c["name"] for c in _containers(result)] == ["web", "log"]
    assert _containers(result)[0]["imagePullPolicy"] == "IfNotPresent"
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


SMP_ERRORS = [
    # (name, type_key, doc, patch, substring of the message)
    (
        "unknown $ directive",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"$frobnicate": 1}},
        "spec: unknown patch directive '$frobnicate'",
    ),
    (
        "unknown $patch value in a map",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"$patch": "explode"}},
        'metadata: unknown $patch directive "explode"',
    ),
    (
        "unknown $patch value in a list element",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"name": "nginx", "$patch": "explode"}]}},
        'spec.containers[0]: unknown $patch directive "explode"',
    ),
    (
        "element without its merge key",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"name": "nginx", "ports": [{"name": "http"}]}]}},
        "spec.containers[0].ports[0]: does not contain declared merge key 'containerPort'",
    ),
    (
        "$patch: delete without the merge key",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"containers": [{"$patch": "delete", "image": "nginx"}]}},
        "spec.containers[0]: $patch: delete needs the merge key 'name'",
    ),
    (
        "$setElementOrder that contradicts the patch list",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                "containers": [{"name": "sidecar", "image": "x"}, {"name": "nginx", "image": "y"}],
            }
        },
        "doesn't match $setElementOrder/containers",
    ),
    (
        "$setElementOrder entry without the merge key",
        "v1/Pod",
        _pod(NGINX),
        {"spec": {"$setElementOrder/containers": [{"image": "nginx"}]}},
        "does not contain declared merge key 'name'",
    ),
    (
        "$retainKeys that omits a key the patch sets",
        "apps/v1/Deployment",
        _deployment([NGINX], strategy={"type": "RollingUpdate"}),
        {
            "spec": {
                "strategy": {
                    "$retainKeys": ["type"],
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1},
                }
            }
        },
        "spec.strategy: the patch sets 'rollingUpdate' but $retainKeys",
    ),
    (
        "$retainKeys that is not a list",
        "apps/v1/Deployment",
        _deployment([NGINX]),
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        "$retainKeys must be a list",
    ),
    (
        "$deleteFromPrimitiveList with objects",
        "v1/Pod",
        _pod(NGINX),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": [{"a": 1}]}},
        "metadata.$deleteFromPrimitiveList/finalizers: must be a list of primitive values",
    ),
    (
        "mixed objects and primitives in a merged list",
        "v1/Pod",
        {**_pod(), "metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": [{"name": "b"}]}},
        "metadata.finalizers: list element types are not identical",
    ),
    (
        "patch that is not an object",
        "v1/Pod",
        _pod(NGINX),
        [{"op": "add"}],
        "strategic merge patch must be a JSON object, got array",
    ),
]


@pytest.mark.parametrize(
    ("name", "type_key", "doc", "patch", "message"), SMP_ERRORS, ids=[c[0] for c in SMP_ERRORS]
)
def test_strategic_merge_patch_errors(name: str, type_key: str, doc: Any, patch: Any, message: str) -> None:
    before = _unchanged(doc, patch)
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge_patch(doc, patch, type_key)
    assert message in str(caught.value)
    assert _unchanged(doc, patch) == before


def test_strategic_merge_result_does_not_alias_inputs() -> None:
    doc = _pod(NGINX, SIDECAR)
    patch = {"spec": {"containers": [{"name": "new", "args": ["a"]}]}}
    result = apply_strategic_merge_patch(doc, patch, "v1/Pod")
    for container in _containers(result):
        container.setdefault("args", []).append("mutated")
    assert doc == _pod(NGINX, SIDECAR)
    assert patch == {"spec": {"containers": [{"name": "new", "args": ["a"]}]}}


# --------------------------------------------------------------------------- the merge-key table


@pytest.mark.parametrize(
    ("type_key", "path", "strategy", "merge_key"),
    [
        ("v1/Pod", "spec.containers", "merge", "name"),
        ("v1/Pod", "spec.initContainers.env", "merge", "name"),
        ("v1/Pod", "spec.ephemeralContainers.volumeMounts", "merge", "mountPath"),
        ("v1/Pod", "spec.containers.ports", "merge", "containerPort"),
        ("v1/Pod", "spec.containers.volumeDevices", "merge", "devicePath"),
        ("v1/Pod", "spec.volumes", "merge,retainKeys", "name"),
        ("v1/Pod", "spec.imagePullSecrets", "merge", "name"),
        ("v1/Pod", "spec.hostAliases", "merge", "ip"),
        ("v1/Pod", "spec.topologySpreadConstraints", "merge", "topologyKey"),
        ("v1/Pod", "spec.resourceClaims", "merge,retainKeys", "name"),
        ("v1/Pod", "status.conditions", "merge", "type"),
        ("v1/Pod", "status.podIPs", "merge", "ip"),
        ("v1/Pod", "status.containerStatuses", "", None),
        ("v1/Pod", "metadata.finalizers", "merge", None),
        ("v1/Pod", "metadata.ownerReferences", "merge", "uid"),
        ("v1/Service", "spec.ports", "merge", "port"),
        ("v1/Node", "status.addresses", "merge", "type"),
        ("v1/Node", "status.images", "", None),
        ("v1/Node", "spec.taints", "", None),
        ("v1/Node", "spec.podCIDRs", "merge", None),
        ("apps/v1/Deployment", "spec.strategy", "retainKeys", None),
        ("apps/v1/Deployment", "spec.template.spec.containers.env", "merge", "name"),
        ("apps/v1/Deployment", "spec.template.metadata.finalizers", "merge", None),
        ("apps/v1/Deployment", "status.conditions", "merge", "type"),
        ("apps/v1/ReplicaSet", "spec.template.spec.volumes", "merge,retainKeys", "name"),
        ("apps/v1/StatefulSet", "spec.template.spec.containers", "merge", "name"),
        ("apps/v1/DaemonSet", "spec.template.spec.initContainers", "merge", "name"),
        ("batch/v1/Job", "spec.template.spec.containers.ports", "merge", "containerPort"),
        ("v1/ReplicationController", "spec.template.spec.containers", "merge", "name"),
        ("batch/v1/CronJob", "spec.jobTemplate.spec.template.spec.containers", "merge", "name"),
    ],
)
def test_merge_key_table(type_key: str, path: str, strategy: str, merge_key: str | None) -> None:
    meta = STRATEGIC_MERGE_FIELDS[type_key][path]
    assert (meta.strategy, meta.merge_key) == (strategy, merge_key)


def test_strategic_merge_supported() -> None:
    assert strategic_merge_supported("apps/v1/Deployment")
    assert strategic_merge_supported("v1/ConfigMap")
    assert not strategic_merge_supported("example.com/v1/Widget")


# --------------------------------------------------------------------------- two-way diff

DIFF_CASES = [
    (
        "image changed and label removed",
        "apps/v1/Deployment",
        _deployment([NGINX, SIDECAR]),
        {
            **_deployment([{**NGINX, "image": "nginx:1.27"}, SIDECAR]),
            "metadata": {"name": "web", "namespace": "default", "labels": {}},
        },
        {
            "metadata": {"labels": {"app": None}},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "nginx", "image": "nginx:1.27"}],
                        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    }
                }
            },
        },
    ),
    (
        "container removed",
        "v1/Pod",
        _pod(NGINX, SIDECAR),
        _pod(SIDECAR),
        {
            "spec": {
                "containers": [{"$patch": "delete", "name": "nginx"}],
                "$setElementOrder/containers": [{"name": "sidecar"}],
            }
        },
    ),
    (
        "finalizer removed and one added",
        "v1/Pod",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
        {
            "metadata": {
                "finalizers": ["c"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "$setElementOrder/finalizers": ["a", "c"],
            }
        },
    ),
    (
        "strategy switched: $retainKeys is built",
        "apps/v1/Deployment",
        _deployment([NGINX], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        _deployment([NGINX], strategy={"type": "Recreate"}),
        {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None, "$retainKeys": ["type"]}}},
    ),
    ("no change, no patch", "v1/Pod", _pod(NGINX, SIDECAR), _pod(NGINX, SIDECAR), {}),
    (
        "non-strategic list replaced",
        "v1/Pod",
        _pod(NGINX, tolerations=[{"key": "a"}]),
        _pod(NGINX, tolerations=[{"key": "b"}]),
        {"spec": {"tolerations": [{"key": "b"}]}},
    ),
]


@pytest.mark.parametrize(
    ("name", "type_key", "original", "modified", "expected"), DIFF_CASES, ids=[c[0] for c in DIFF_CASES]
)
def test_create_strategic_merge_patch(
    name: str, type_key: str, original: dict[str, Any], modified: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = _unchanged(original, modified)
    patch = create_strategic_merge_patch(original, modified, type_key)
    assert patch == expected
    assert apply_strategic_merge_patch(original, patch, type_key) == modified
    assert _unchanged(original, modified) == before


def test_create_then_apply_round_trips_a_reorder_with_changes() -> None:
    original = _pod(
        {"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y"}]},
        {"name": "b", "ports": [{"containerPort": 80}]},
        {"name": "c"},
        volumes=[{"name": "v", "emptyDir": {}}],
    )
    modified = _pod(
        {"name": "c", "image": "new"},
        {"name": "a", "env": [{"name": "Z"}, {"name": "X", "value": "2"}]},
        {"name": "d"},
        volumes=[{"name": "v", "hostPath": {"path": "/x"}}],
    )
    patch = create_strategic_merge_patch(original, modified, "v1/Pod")
    assert patch["spec"]["volumes"] == [
        {"name": "v", "hostPath": {"path": "/x"}, "emptyDir": None, "$retainKeys": ["hostPath", "name"]}
    ]
    assert apply_strategic_merge_patch(original, patch, "v1/Pod") == modified


# --------------------------------------------------------------------------- bounds


def test_json_patch_with_too_many_operations_is_too_large() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(
        PatchTooLarge, match="The allowed maximum operations in a JSON patch is 10000, got 10001"
    ):
        apply_json_patch({"a": 1}, ops)


def test_json_patch_copies_that_double_the_document_are_refused() -> None:
    # Each copy puts /a inside itself: forty of them would need 2**40 values.
    ops = [{"op": "copy", "from": "/a", "path": "/a/" + str(i)} for i in range(40)]
    with pytest.raises(PatchTooLarge, match="duplicate more than"):
        apply_json_patch({"a": {"x": "y"}}, ops)


def test_json_patch_copies_within_the_budget_apply() -> None:
    ops = [{"op": "copy", "from": "/a", "path": f"/b{i}"} for i in range(10)]
    result = apply_json_patch({"a": {"x": [1, 2, 3]}}, ops)
    assert result["b9"] == {"x": [1, 2, 3]}


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"n": value}
    return value


def test_merge_and_strategic_patches_at_the_depth_limit_do_not_overflow_the_stack() -> None:
    # The API server refuses bodies deeper than 100 levels; both patch engines must cope with that much.
    doc = {"kind": "ConfigMap", "data": _nested(100, "old")}
    patch = {"data": _nested(100, "new")}
    assert apply_merge_patch(doc, patch)["data"] == _nested(100, "new")
    assert apply_strategic_merge_patch(doc, patch, "v1/ConfigMap")["data"] == _nested(100, "new")
