"""From ``kubectl apply`` to ``kubectl apply --server-side``, with the real kubectl.

An object made by client-side apply is owned by ``kubectl-client-side-apply`` and
carries the last-applied annotation. Upstream lets the first server-side apply of a
changed manifest take those fields over without ``--force-conflicts`` (the upgrade
path, ``minik/apiserver/apply.py``), and kubectl then moves the client-side manager's
ownership into its own entry. A field someone else changed since stays a conflict.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.compat.test_kubectl import Kubectl, deployment, kubectl, kubectl_cache  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def _managers(kubectl: Kubectl, name: str) -> dict[tuple[str, str], Any]:  # noqa: F811
    obj = yaml.safe_load(kubectl("get", "deployment", name, "-o", "yaml", "--show-managed-fields"))
    return {(m["manager"], m["operation"]): m["fieldsV1"] for m in obj["metadata"]["managedFields"]}


def test_client_side_then_server_side_apply_needs_no_force(kubectl: Kubectl) -> None:  # noqa: F811
    path = kubectl.file("upgrade.yaml", deployment("upgrade", replicas=1))
    assert kubectl("apply", "-f", path).strip() == "deployment.apps/upgrade created"
    assert ("kubectl-client-side-apply", "Update") in _managers(kubectl, "upgrade")

    changed = kubectl.file("upgrade.yaml", deployment("upgrade", image="nginx:1.27", replicas=2))
    done = kubectl.run("apply", "--server-side", "-f", changed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deployment.apps/upgrade serverside-applied"

    live = yaml.safe_load(kubectl("get", "deployment", "upgrade", "-o", "yaml"))
    assert live["spec"]["replicas"] == 2
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # The annotation follows the server-side apply, so a later client-side apply still works.
    last = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 2
    managers = _managers(kubectl, "upgrade")
    assert ("kubectl-client-side-apply", "Update") not in managers  # kubectl migrated it
    assert managers[("kubectl", "Apply")]["f:spec"]["f:replicas"] == {}

    # Back to client-side apply: no error, the change lands.
    again = kubectl.file("upgrade.yaml", deployment("upgrade", image="nginx:1.27", replicas=3))
    kubectl("apply", "-f", again)
    assert kubectl("get", "deployment", "upgrade", "-o", "jsonpath={.spec.replicas}") == "3"


def test_a_field_changed_by_someone_else_still_conflicts(kubectl: Kubectl) -> None:  # noqa: F811
    kubectl("apply", "-f", kubectl.file("taken.yaml", deployment("taken", replicas=1)))
    kubectl(
        "patch",
        "deployment",
        "taken",
        "--field-manager=autoscaler",
        "--type=merge",
        "-p",
        '{"spec":{"replicas":5}}',
    )
    denied = kubectl.run(
        "apply", "--server-side", "-f", kubectl.file("taken.yaml", deployment("taken", replicas=2))
    )
    assert denied.returncode != 0
    assert 'conflict with "autoscaler"' in denied.stderr and ".spec.replicas" in denied.stderr
    assert kubectl("get", "deployment", "taken", "-o", "jsonpath={.spec.replicas}") == "5"


def test_another_field_manager_opts_out_of_the_upgrade(kubectl: Kubectl) -> None:  # noqa: F811
    kubectl("apply", "-f", kubectl.file("optout.yaml", deployment("optout", replicas=1)))
    denied = kubectl.run(
        "apply",
        "--server-side",
        "--field-manager=mine",
        "-f",
        kubectl.file("optout.yaml", deployment("optout", replicas=2)),
    )
    assert denied.returncode != 0
    assert 'conflict with "kubectl-client-side-apply"' in denied.stderr
