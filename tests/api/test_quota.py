"""Quota arithmetic: what objects cost, which quotas match them, what is exceeded."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from minik.api import quota as q

Obj = dict[str, Any]


def pod(*containers: Obj, init: tuple[Obj, ...] = (), **spec: Any) -> Obj:
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": list(containers), "initContainers": list(init), **spec},
    }


def ctr(name: str = "app", **resources: Obj) -> Obj:
    return {"name": name, "resources": resources}


def test_pod_usage_sums_containers_and_takes_the_biggest_init_container() -> None:
    p = pod(
        ctr("a", requests={"cpu": "250m", "memory": "64Mi"}, limits={"cpu": "500m"}),
        ctr("b", requests={"cpu": "250m"}),
        init=(ctr("setup", requests={"cpu": "1"}),),
    )
    usage = q.pod_usage(p)
    assert usage["pods"] == 1 and usage["count/pods"] == 1
    assert usage["requests.cpu"] == usage["cpu"] == 1  # the init container's 1 beats 250m + 250m
    assert usage["requests.memory"] == usage["memory"] == 64 * 2**20
    assert usage["limits.cpu"] == Fraction(1, 2)


def test_finished_and_long_terminating_pods_use_no_compute() -> None:
    done = pod(ctr(requests={"cpu": "1"}))
    done["status"] = {"phase": "Succeeded"}
    assert q.pod_usage(done) == {"count/pods": 1}
    stuck = pod(ctr(requests={"cpu": "1"}))
    stuck["metadata"] |= {"deletionTimestamp": "2000-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30}
    assert q.pod_usage(stuck) == {"count/pods": 1}


def test_services_claims_and_counts() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert q.service_usage(svc) | {} == {
        "services": 1,
        "count/services": 1,
        "services.nodeports": 2,
        "services.loadbalancers": 1,
    }
    claim = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    usage = q.claim_usage(claim)
    assert usage["requests.storage"] == 2**30
    assert usage["fast.storageclass.storage.k8s.io/requests.storage"] == 2**30
    assert usage["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] == 1
    assert q.usage_of("deployments", "apps", {}) == {"count/deployments.apps": 1}
    assert q.usage_of("configmaps", "", {}) == {"count/configmaps": 1, "configmaps": 1}


def test_which_resources_a_kind_is_charged_for() -> None:
    assert q.tracked_by("pods", "", "requests.cpu") and q.tracked_by("pods", "", "memory")
    assert not q.tracked_by("pods", "", "requests.storage")
    assert q.tracked_by("persistentvolumeclaims", "", "requests.storage")
    assert q.tracked_by("services", "", "services.nodeports")
    assert q.tracked_by("deployments", "apps", "count/deployments.apps")
    assert not q.tracked_by("deployments", "apps", "pods")


def test_scopes() -> None:
    best_effort = pod(ctr())
    sized = pod(ctr(requests={"cpu": "100m"}), activeDeadlineSeconds=60, priorityClassName="high")
    assert q.scope_matches("BestEffort", best_effort) and not q.scope_matches("BestEffort", sized)
    assert q.scope_matches("NotBestEffort", sized)
    assert q.scope_matches("Terminating", sized) and q.scope_matches("NotTerminating", best_effort)

    def scoped(**spec: Any) -> Obj:
        return {"spec": {"hard": {"pods": "1"}, **spec}}

    selector = {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}
    assert q.quota_matches(scoped(scopeSelector=selector), "pods", "", sized)
    assert not q.quota_matches(scoped(scopeSelector=selector), "pods", "", best_effort)
    not_in = {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}]}
    assert q.quota_matches(scoped(scopeSelector=not_in), "pods", "", best_effort)
    assert q.quota_matches(scoped(scopes=["BestEffort", "NotTerminating"]), "pods", "", best_effort)
    assert not q.quota_matches(scoped(scopes=["BestEffort"]), "configmaps", "", {})  # scopes are for pods
    assert q.quota_matches(scoped(), "configmaps", "", {})


def test_exceeded_and_its_message_parts() -> None:
    hard = q.parse_list({"pods": "2", "requests.memory": "1Gi"})
    used = q.parse_list({"pods": "2", "requests.memory": "600Mi"})
    requested = q.parse_list({"pods": "1", "requests.memory": "300Mi"})
    assert q.exceeded(hard, used, requested) == ["pods"]
    assert q.exceeded(hard, used, q.parse_list({"pods": "0", "requests.memory": "500Mi"})) == [
        "requests.memory"
    ]
    like = {"pods": "2", "requests.memory": "1Gi"}
    assert q.pretty(used, ["pods", "requests.memory"], like) == "pods=2,requests.memory=600Mi"
    assert q.format_list(q.add(used, requested), like) == {"pods": "3", "requests.memory": "900Mi"}
    assert q.subtract(hard, used) == {"pods": 0, "requests.memory": 424 * 2**20}


def test_containers_must_say_what_a_compute_quota_tracks() -> None:
    p = pod(ctr("a", requests={"cpu": "1"}), ctr("b"))
    assert q.missing_resources(p, ["requests.cpu", "pods"]) == ["must specify requests.cpu"]
    assert q.missing_resources(p, ["limits.memory", "cpu"]) == [
        "must specify limits.memory",
        "must specify cpu,limits.memory",
    ]
    assert q.missing_resources(p, ["pods"]) == []
