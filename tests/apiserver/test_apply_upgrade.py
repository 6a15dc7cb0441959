"""The client-side → server-side apply upgrade path, on the pure functions of ``apply.py``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from minik.api import errors
from minik.apiserver import apply
from tests.apiserver.test_apply import DEPLOY, deployment, run

CSA = "kubectl-client-side-apply"


def client_side_applied(replicas: int = 1, image: str = "x:1") -> dict[str, Any]:
    """A Deployment as ``kubectl apply`` creates it: the annotation, owned by an Update manager."""
    config = deployment([{"name": "a", "image": image}], replicas=replicas)
    obj = copy.deepcopy(config)
    obj["metadata"]["annotations"] = {apply.LAST_APPLIED: json.dumps(config) + "\n"}
    apply.track_update(obj, None, DEPLOY, CSA, "apps/v1", None, True)
    return obj


def owners(obj: dict[str, Any]) -> dict[str, set[apply.Path]]:
    return {m["manager"]: apply.from_fields_v1(m["fieldsV1"]) for m in obj["metadata"]["managedFields"]}


REPLICAS = ("f:spec", "f:replicas")


def test_kubectl_takes_over_fields_that_still_hold_the_last_applied_value() -> None:
    live = client_side_applied(replicas=1)
    applied = run(live, deployment([{"name": "a", "image": "x:2"}], replicas=2), "kubectl")
    assert applied["spec"]["replicas"] == 2
    assert REPLICAS in owners(applied)["kubectl"] and REPLICAS not in owners(applied)[CSA]
    # The annotation now holds what kubectl applied (without itself), for a later client-side apply.
    last = json.loads(applied["metadata"]["annotations"][apply.LAST_APPLIED])
    assert last["spec"]["replicas"] == 2 and "annotations" not in last["metadata"]
    assert live["metadata"]["annotations"][apply.LAST_APPLIED].startswith('{"apiVersion"')  # live untouched


@pytest.mark.parametrize(
    "why",
    ["another manager", "changed since", "no annotation", "another apiVersion"],
)
def test_everything_else_still_conflicts(why: str) -> None:
    live = client_side_applied(replicas=1)
    manager = "kubectl"
    if why == "another manager":
        manager = "someone"
    elif why == "changed since":  # live differs from the annotation: not the user's own value
        live["spec"]["replicas"] = 5
        apply.track_update(live, client_side_applied(), DEPLOY, CSA, "apps/v1", None, True)
    elif why == "no annotation":
        del live["metadata"]["annotations"]
    else:
        annotation = json.loads(live["metadata"]["annotations"][apply.LAST_APPLIED])
        live["metadata"]["annotations"][apply.LAST_APPLIED] = json.dumps(
            {**annotation, "apiVersion": "apps/v1beta1"}
        )
    with pytest.raises(errors.APIError) as e:
        run(live, deployment([{"name": "a", "image": "x:1"}], replicas=2), manager)
    assert e.value.code == 409 and ".spec.replicas" in e.value.message


def test_an_apply_by_another_manager_leaves_the_annotation_alone() -> None:
    live = client_side_applied()
    before = live["metadata"]["annotations"][apply.LAST_APPLIED]
    applied = run(live, deployment([{"name": "b", "image": "y:1"}]), "someone")
    assert applied["metadata"]["annotations"][apply.LAST_APPLIED] == before


def test_an_update_carrying_managed_fields_rewrites_them() -> None:
    """kubectl's last step: a JSON patch of managedFields moves the client-side entry into its own."""
    old = run(client_side_applied(), deployment([{"name": "a", "image": "x:1"}], replicas=2), "kubectl")
    new = copy.deepcopy(old)
    entries = new["metadata"]["managedFields"]
    merged = apply.to_fields_v1(set().union(*(apply.from_fields_v1(e["fieldsV1"]) for e in entries)))
    new["metadata"]["managedFields"] = [
        {**entries[-1], "manager": "kubectl", "operation": "Apply", "fieldsV1": merged}
    ]
    apply.track_update(new, old, DEPLOY, "kubectl", "apps/v1", None, True)
    assert set(owners(new)) == {"kubectl"}
    # On a subresource, the recorded ones stay.
    status = copy.deepcopy(new)
    status["metadata"]["managedFields"] = []
    apply.track_update(status, new, DEPLOY, "ctrl", "apps/v1", "status", True)
    assert "kubectl" in owners(status)
