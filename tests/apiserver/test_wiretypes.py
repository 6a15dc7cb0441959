"""The JSON types and integer ranges upstream's decoder enforces (``wiretypes.py``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from minik.api import errors
from minik.apiserver import wiretypes
from minik.apiserver.auth import TokenAuthenticator, User
from minik.apiserver.rest import INT64_MAX, parse_int64

DEPLOYMENT = wiretypes.shape_for("apps", "v1", "Deployment")
SERVICE = wiretypes.shape_for("", "v1", "Service")
POD = wiretypes.shape_for("", "v1", "Pod")


def deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec}


def paths(obj: Any, shape: wiretypes.Shape | None) -> list[str]:
    return [m.path for m in wiretypes.mismatches(obj, shape)]


@pytest.mark.parametrize("replicas", [0, 1, 2**31 - 1, -(2**31), None])
def test_int32_values_that_fit(replicas: Any) -> None:
    assert paths(deployment(replicas=replicas), DEPLOYMENT) == []


@pytest.mark.parametrize(
    "replicas", [2**31, -(2**31) - 1, 2**64, 1e30, 1.5, 1.0, "3", True, [1], {"a": 1}, math.inf]
)
def test_int32_values_that_do_not(replicas: Any) -> None:
    assert paths(deployment(replicas=replicas), DEPLOYMENT) == ["spec.replicas"]


def test_int64_fields_take_int64_range() -> None:
    def pod(grace: Any) -> dict[str, Any]:
        return {"spec": {"terminationGracePeriodSeconds": grace, "containers": []}}

    assert paths(pod(2**63 - 1), POD) == []
    assert paths(pod(-(2**63)), POD) == []
    assert paths(pod(2**63), POD) == ["spec.terminationGracePeriodSeconds"]


def test_paths_name_list_items_and_map_keys() -> None:
    pod = {
        "metadata": {"labels": {"ok": "x", "app": 1}},
        "spec": {"containers": [{"name": "c"}, {"name": "d", "ports": [{"containerPort": 2**40}]}]},
    }
    assert paths(pod, POD) == ["metadata.labels[app]", "spec.containers[1].ports[0].containerPort"]


def test_quantities_and_int_or_string_take_either_type() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "resources": {"limits": {"cpu": 1, "memory": "1Gi", "x": 0.5}},
                    "livenessProbe": {"httpGet": {"port": "http"}},
                    "readinessProbe": {"httpGet": {"port": 8080}},
                }
            ]
        }
    }
    assert paths(pod, POD) == []
    container = pod["spec"]["containers"][0]
    container["resources"]["limits"]["cpu"] = [1]
    container["readinessProbe"]["httpGet"]["port"] = 2**31
    assert paths(pod, POD) == [
        "spec.containers[0].resources.limits[cpu]",
        "spec.containers[0].readinessProbe.httpGet.port",
    ]


def test_wrong_containers() -> None:
    assert paths({"spec": {"containers": {"name": "c"}}}, POD) == ["spec.containers"]
    assert paths({"spec": {"containers": ["c"]}}, POD) == ["spec.containers[0]"]
    assert paths({"spec": 5}, POD) == ["spec"]
    assert paths([], POD) == [""]  # the whole body: messages call it <root>


def test_null_unknown_and_free_form_fields_are_left_alone() -> None:
    obj = {
        "metadata": {
            "name": None,
            "managedFields": [{"fieldsV1": {"f:spec": {"f:replicas": {}}}, "manager": "m"}],
        },
        "spec": {"replicaz": "many", "replicas": None},
        "status": {"conditions": None},
    }
    assert paths(obj, DEPLOYMENT) == []
    assert wiretypes.mismatches({"anything": [1, "x"]}, None) == []


def test_service_ports() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": "web", "nodePort": 2**32}]}}
    assert paths(svc, SERVICE) == ["spec.ports[0].nodePort"]


def test_check_body_is_a_400_naming_the_field() -> None:
    with pytest.raises(errors.APIError) as e:
        wiretypes.check_body(deployment(replicas=2**31), DEPLOYMENT, "Deployment", "v1")
    status = e.value.to_status()
    assert status["code"] == 400 and status["reason"] == "BadRequest"
    assert status["message"].startswith('Deployment in version "v1" cannot be handled as a Deployment: ')
    assert "spec.replicas" in status["message"] and "int32" in status["message"]
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.replicas"]


def test_check_result_is_a_422_naming_the_field() -> None:
    with pytest.raises(errors.APIError) as e:
        wiretypes.check_result(deployment(replicas=1.5), DEPLOYMENT, "Deployment", "d", "apps")
    status = e.value.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.replicas"]


def test_subresource_bodies_have_shapes() -> None:
    delete_options = wiretypes.shape_of("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    assert paths({"preconditions": "x", "gracePeriodSeconds": 1.5}, delete_options) == [
        "preconditions",
        "gracePeriodSeconds",
    ]
    binding = wiretypes.shape_of("io.k8s.api.core.v1.Binding")
    assert paths({"target": "node"}, binding) == ["target"]


@pytest.mark.parametrize("text", ["0", "-5", str(INT64_MAX), str(-INT64_MAX - 1)])
def test_int64_query_values(text: str) -> None:
    assert parse_int64(text, "limit") == int(text)


@pytest.mark.parametrize(
    "text",
    ["abc", "1.5", str(INT64_MAX + 1), "99999999999999999999", "", " 5", "5_000", "\u0665", "9" * 5000],
)
def test_query_values_beyond_int64_are_400(text: str) -> None:
    with pytest.raises(errors.APIError) as e:
        parse_int64(text, "limit")
    assert e.value.code == 400 and "limit" in e.value.to_status()["message"]


def test_a_token_with_non_ascii_characters_is_just_unknown() -> None:
    auth = TokenAuthenticator({"secret": User("u", "1", ())})
    assert auth.user_for("secret") is not None
    for token in ("sécret", "日本", "\udcff", "secret\u00a0"):
        assert auth.user_for(token) is None
