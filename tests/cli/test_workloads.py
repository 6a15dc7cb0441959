"""minikctl scale / rollout / expose / describe / get -w / logs / exec, against a real apiserver.

No controller manager runs here: the ReplicaSets a Deployment controller would
create are written by hand, with the revision annotations it would put on them.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import httpx
import pytest

from minik.cli.errors import CLIError
from minik.cli.workloads import rollout_progress, template_of
from tests.cli.conftest import Run

pytestmark = pytest.mark.integration

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 8080}]}]
            },
        },
    },
}


def _deploy(api: httpx.Client, ns: str) -> dict[str, Any]:
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=DEPLOY)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _rs(api: httpx.Client, ns: str, deploy: dict[str, Any], revision: int, image: str) -> None:
    template = copy.deepcopy(DEPLOY["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    template["metadata"]["labels"]["pod-template-hash"] = f"h{revision}"
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-h{revision}",
            "labels": template["metadata"]["labels"],
            "annotations": {
                "deployment.kubernetes.io/revision": str(revision),
                "kubernetes.io/change-cause": f"image {image}",
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": deploy["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
        },
    }
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=rs)
    assert r.status_code == 201, r.text


def test_scale(ctl: Run, api: httpx.Client, ns: str) -> None:
    _deploy(api, ns)
    r = ctl("scale", "deployment", "web", "--replicas=5")
    assert r.code == 0, r.err
    assert r.out.strip() == "deployment.apps/web scaled"
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()["spec"]["replicas"] == 5
    r = ctl("scale", "deploy/nope", "--replicas=1")
    assert r.code == 1 and 'deployments "nope" not found' in r.err


def test_rollout_history_undo_restart(ctl: Run, api: httpx.Client, ns: str) -> None:
    deploy = _deploy(api, ns)
    _rs(api, ns, deploy, 1, "nginx:1.25")
    _rs(api, ns, deploy, 2, "nginx:1.26")
    r = ctl("rollout", "history", "deployment/web")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "deployment.apps/web"
    assert lines[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert "image nginx:1.25" in lines[2]
    r = ctl("rollout", "history", "deploy", "web", "--revision=1")
    assert "nginx:1.25" in r.out

    r = ctl("rollout", "undo", "deployment/web")
    assert r.code == 0, r.err
    assert r.out.strip() == "deployment.apps/web rolled back"
    template = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    r = ctl("rollout", "undo", "deployment/web", "--to-revision=1")
    assert "skipped rollback" in r.out
    r = ctl("rollout", "undo", "deployment/web", "--to-revision=7")
    assert r.code == 1 and "revision 7" in r.err

    r = ctl("rollout", "restart", "deployment/web")
    assert r.out.strip() == "deployment.apps/web restarted"
    annotations = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_rollout_status(ctl: Run, api: httpx.Client, ns: str) -> None:
    deploy = _deploy(api, ns)
    r = ctl("rollout", "status", "deployment/web", "--watch=false")
    assert r.code == 0 and "Waiting for deployment" in r.out

    def finish() -> None:  # what the Deployment controller would report
        time.sleep(1)
        status = {
            "status": {
                "observedGeneration": deploy["metadata"]["generation"],
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
            }
        }
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/web/status",
            json=status,
            headers={"Content-Type": "application/merge-patch+json"},
        )

    thread = threading.Thread(target=finish)
    thread.start()
    r = ctl("rollout", "status", "deploy/web", "--timeout=20")
    thread.join()
    assert r.code == 0, r.err
    assert r.out.strip() == 'deployment "web" successfully rolled out'


def test_expose_and_describe(ctl: Run, api: httpx.Client, ns: str) -> None:
    _deploy(api, ns)
    r = ctl("expose", "deployment", "web", "--port=80", "--target-port=8080", "--type=NodePort")
    assert r.code == 0, r.err
    assert r.out.strip() == "service/web exposed"
    svc = api.get(f"/api/v1/namespaces/{ns}/services/web").json()
    assert svc["spec"]["selector"] == {"app": "web"} and svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["targetPort"] == 8080
    r = ctl("expose", "deploy/web", "--name=web2")  # port from the container
    assert api.get(f"/api/v1/namespaces/{ns}/services/web2").json()["spec"]["ports"][0]["port"] == 8080

    api.post(
        f"/api/v1/namespaces/{ns}/events",
        json={
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.1"},
            "involvedObject": {
                "kind": "Service",
                "namespace": ns,
                "name": "web",
                "uid": svc["metadata"]["uid"],
            },
            "reason": "Hello",
            "message": "an event about web",
            "type": "Normal",
            "source": {"component": "test"},
        },
    )
    r = ctl("describe", "svc", "web")
    assert r.code == 0, r.err
    assert "Name:           web" in r.out and "ClusterIP:" in r.out and "NodePort" in r.out
    assert "an event about web" in r.out and "Hello" in r.out
    r = ctl("describe", "deployment/web")
    assert "nginx:1.26" in r.out and "Events:         <none>" in r.out


def test_get_watch(ctl: Run, api: httpx.Client, ns: str) -> None:
    def change() -> None:
        time.sleep(1.5)
        api.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}},
        )

    api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "early"}},
    )
    thread = threading.Thread(target=change)
    thread.start()
    r = ctl("--request-timeout=4", "get", "cm", "-w")
    thread.join()
    assert r.code == 0, r.err
    names = [line.split()[0] for line in r.out.splitlines()]
    assert names[0] == "NAME" and "early" in names and "late" in names


def test_logs_and_exec_say_kubelet_unavailable(ctl: Run, api: httpx.Client, ns: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"nodeName": "ghost-node", "containers": [{"name": "c", "image": "busybox"}]},
    }
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
    r = ctl("logs", "p", "--tail=5")
    assert r.code == 1
    assert 'cannot get logs of pod "p": the API server could not reach its kubelet' in r.err
    assert "minikctl get nodes" in r.err and "Traceback" not in r.err
    r = ctl("exec", "p", "--", "echo", "hi")
    assert r.code == 1
    assert 'cannot exec into pod "p": the API server could not reach its kubelet' in r.err
    r = ctl("logs", "nope")
    assert r.code == 1 and 'pods "nope" not found' in r.err
    r = ctl("exec", "p")
    assert r.code == 1 and "at least one command" in r.err


# -- the pure parts: rollout progress and revision templates ---------------------------------


def _status(want: int = 3, **status: int) -> dict[str, Any]:
    """A deployment wanting ``want`` replicas, its controller reporting ``status``."""
    return {
        "metadata": {"name": "web", "generation": 4},
        "spec": {"replicas": want},
        "status": {"observedGeneration": 4, **status},
    }


@pytest.mark.parametrize(
    ("deploy", "done", "message"),
    [
        (
            {**_status(), "status": {"observedGeneration": 3}},
            False,
            'Waiting for deployment "web" spec update to be observed...',
        ),
        (
            _status(updatedReplicas=1),
            False,
            'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
        ),
        (
            _status(updatedReplicas=3, replicas=4, availableReplicas=3),
            False,
            'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
        ),
        (
            _status(updatedReplicas=3, replicas=3, availableReplicas=2),
            False,
            'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
        ),
        (
            _status(updatedReplicas=3, replicas=3, availableReplicas=3),
            True,
            'deployment "web" successfully rolled out',
        ),
    ],
)
def test_rollout_progress(deploy: dict[str, Any], done: bool, message: str) -> None:
    assert rollout_progress(deploy) == (done, message)


def test_rollout_progress_defaults_to_one_replica() -> None:
    deploy = {"metadata": {"name": "web"}, "spec": {}, "status": {"updatedReplicas": 1, "replicas": 1}}
    assert rollout_progress(deploy) == (
        False,
        'Waiting for deployment "web" rollout to finish: 0 of 1 updated replicas are available...',
    )


def test_a_deployment_past_its_deadline_is_an_error() -> None:
    deploy = _status(updatedReplicas=1)
    deploy["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    ]
    with pytest.raises(CLIError, match='deployment "web" exceeded its progress deadline'):
        rollout_progress(deploy)


def test_a_revisions_template_drops_only_the_hash_label() -> None:
    rs: dict[str, Any] = {
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "h1"}, "annotations": {"a": "1"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            }
        }
    }
    template = template_of(rs)
    assert template["metadata"] == {"labels": {"app": "web"}, "annotations": {"a": "1"}}
    assert template["spec"] == rs["spec"]["template"]["spec"]
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h1"  # not mutated


def test_run_refuses_malformed_labels_and_env(ctl: Run) -> None:
    r = ctl("run", "x", "--image=busybox", "--labels=app=x,broken")
    assert r.code == 1 and "--labels: 'broken' is not KEY=VALUE" in r.err
    r = ctl("run", "x", "--image=busybox", "--env", "=1")
    assert r.code == 1 and "--env: '=1' is not KEY=VALUE" in r.err


def test_rollout_verbs_are_for_deployments(ctl: Run, api: httpx.Client, ns: str) -> None:
    assert (
        api.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "c"}}).status_code == 201
    )
    r = ctl("rollout", "undo", "cm/c")
    assert r.code == 1 and "rollout undo supports deployments only, not configmaps" in r.err
    _deploy(api, ns)
    r = ctl("rollout", "undo", "deploy/web")  # one revision only: nothing to go back to
    assert r.code == 1 and 'no rollout history found for deployment "web"' in r.err
    r = ctl("scale", "deploy/web", "--replicas=-1")
    assert r.code == 1 and "--replicas must be 0 or more" in r.err
