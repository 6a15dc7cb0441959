"""The admission chain and LimitRanger's rules, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api import errors
from minik.api.defaults import apply_defaults
from minik.api.validation import validate_create
from minik.apiserver.admission import CREATE, Attributes, Chain
from minik.apiserver.admission.limitranger import LimitRanger, claim_problems, default_pod, pod_problems

Obj = dict[str, Any]


def limit_range(*items: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "lr", "namespace": "ns"},
        "spec": {"limits": list(items)},
    }


def pod(**resources: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "app", "image": "x", "resources": resources}]},
    }


def test_defaults_fill_what_containers_leave_out() -> None:
    ranges = [
        limit_range(
            {
                "type": "Container",
                "default": {"cpu": "1", "memory": "1Gi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            }
        )
    ]
    p = pod(limits={"memory": "512Mi"})
    default_pod(p, ranges)
    resources = p["spec"]["containers"][0]["resources"]
    # the memory limit given stays, and its request will follow it (pod defaulting)
    assert resources == {"limits": {"memory": "512Mi", "cpu": "1"}, "requests": {"cpu": "100m"}}
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu request for container app; cpu limit for container app"
    )


def test_bounds_per_container_and_per_pod() -> None:
    ranges = [
        limit_range(
            {"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}},
            {"type": "Pod", "max": {"cpu": "2"}},
        )
    ]
    assert pod_problems(pod(requests={"cpu": "50m"}, limits={"memory": "2Gi"}), ranges) == [
        "minimum cpu usage per Container is 100m, but request is 50m",
        "maximum memory usage per Container is 1Gi, but limit is 2Gi",
        "maximum cpu usage per Pod is 2.  No limit is specified",
    ]
    assert pod_problems(pod(limits={"memory": "1Gi", "cpu": "1"}, requests={"cpu": "1"}), ranges) == []
    ratio = [limit_range({"type": "Container", "maxLimitRequestRatio": {"memory": "2"}})]
    assert pod_problems(pod(requests={"memory": "1Gi"}, limits={"memory": "3Gi"}), ratio) == [
        "memory max limit to request ratio per Container is 2, but provided ratio is 3.000000"
    ]
    assert pod_problems(pod(limits={"memory": "3Gi"}), ratio) == [
        "memory max limit to request ratio per Container is 2, but no request is specified or request is 0"
    ]


def test_claims_are_bounded_by_their_request() -> None:
    ranges = [
        limit_range({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "5Gi"}})
    ]

    def claim(size: str) -> Obj:
        return {"spec": {"resources": {"requests": {"storage": size}}}}

    assert claim_problems(claim("2Gi"), ranges) == []
    assert claim_problems(claim("500Mi"), ranges) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    ]
    assert claim_problems(claim("10Gi"), ranges) == [
        "maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi"
    ]


def test_limit_range_defaulting_and_validation() -> None:
    lr = limit_range({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}})
    apply_defaults(lr)
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    assert validate_create(lr, namespaced=True, kind=("", "LimitRange")) == []

    def problems(*items: Obj) -> list[str]:
        return [
            f"{e.field}: {e.detail}"
            for e in validate_create(limit_range(*items), namespaced=True, kind=("", "LimitRange"))
        ]

    assert problems({"type": "Container", "default": {"cpu": "3"}, "max": {"cpu": "2"}}) == [
        "spec.limits[0].default[cpu]: default value 3 is greater than max value 2"
    ]
    assert problems({"type": "Container", "defaultRequest": {"cpu": "2"}, "default": {"cpu": "1"}}) == [
        "spec.limits[0].defaultRequest[cpu]: default request value 2 is greater than default limit value 1"
    ]
    assert problems({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}) == [
        "spec.limits[0].maxLimitRequestRatio[cpu]: ratio 500m is less than 1"
    ]
    assert problems({"type": "Container"}, {"type": "Container"}) == ["spec.limits[1].type: "]
    assert problems({"type": "PersistentVolumeClaim"}) == [
        "spec.limits[0].limits: either minimum or maximum storage value is required, but neither was provided"
    ]


async def test_the_chain_runs_mutating_then_validating_and_refuses_with_403() -> None:
    ranger = LimitRanger(
        lambda ns: [limit_range({"type": "Container", "default": {"cpu": "5"}, "max": {"cpu": "1"}})]
    )
    chain = Chain(mutating=(ranger,), validating=(ranger,))
    p = pod()
    attrs = Attributes(CREATE, "", "v1", "Pod", "pods", "ns", "p", p)
    await chain.admit(attrs)
    assert p["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "5"}
    with pytest.raises(errors.APIError) as refused:
        await chain.validate(attrs)
    assert refused.value.code == 403
    assert (
        refused.value.message == 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 5'
    )
    # a pod update is not LimitRanger's business (containers cannot change)
    assert not ranger.handles(Attributes("UPDATE", "", "v1", "Pod", "pods", "ns", "p", p, p))
