"""minikctl get / apply / create / delete / label / annotate / run / errors, against a real apiserver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli.conftest import Run
from tests.conftest import APIServerProcess

pytestmark = pytest.mark.integration

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: demo}
data:
  colour: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
"""


def test_apply_twice_then_get(ctl: Run, tmp_path: Path, ns: str) -> None:
    f = tmp_path / "app.yaml"
    f.write_text(MANIFEST)
    r = ctl("apply", "-f", str(f))
    assert r.code == 0, r.err
    assert r.out.splitlines() == ["configmap/settings created", "deployment.apps/web created"]
    r = ctl("apply", "-f", str(f))
    assert r.out.splitlines() == ["configmap/settings unchanged", "deployment.apps/web unchanged"]
    f.write_text(MANIFEST.replace("colour: blue", "colour: red"))
    r = ctl("apply", "-f", str(tmp_path))  # a directory
    assert r.out.splitlines() == ["configmap/settings configured", "deployment.apps/web unchanged"]

    r = ctl("get", "deploy")
    assert r.code == 0
    header, row = r.out.splitlines()
    assert header.split()[:2] == ["NAME", "READY"] and row.split()[0] == "web"
    assert "\x1b[" not in r.out  # not a TTY: plain text
    r = ctl("get", "deploy", "-o", "wide")
    assert "IMAGES" in r.out and "nginx:1.25" in r.out
    r = ctl("get", "cm", "settings", "-o", "yaml")
    doc = yaml.safe_load(r.out)
    assert doc["data"] == {"colour": "red"} and "managedFields" not in doc["metadata"]
    r = ctl("get", "configmaps,deployments", "-o", "json")
    doc = json.loads(r.out)
    assert doc["kind"] == "List" and {i["kind"] for i in doc["items"]} >= {"ConfigMap", "Deployment"}
    r = ctl("get", "deploy,cm", "-l", "app=demo", "-o", "name")
    assert r.out.splitlines() == ["deployment.apps/web", "configmap/settings"]
    r = ctl("get", "deployments", "-A", namespace=None)
    assert r.out.splitlines()[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [ns, "web"] for line in r.out.splitlines())
    r = ctl("get", "cm", "--field-selector", "metadata.name=settings", "-o", "name")
    assert r.out.strip() == "configmap/settings"
    r = ctl("get", "pods")
    assert r.code == 0 and f"No resources found in {ns} namespace." in r.err


def test_apply_from_stdin_and_create(ctl: Run) -> None:
    r = ctl("apply", "-f", "-", stdin=MANIFEST.split("---")[0])
    assert r.code == 0 and r.out.strip() == "configmap/settings created"
    r = ctl("create", "-f", "-", stdin=MANIFEST.split("---")[1])
    assert r.code == 0 and r.out.strip() == "deployment.apps/web created"
    r = ctl("create", "-f", "-", stdin=MANIFEST.split("---")[1])
    assert r.code == 1
    assert "already exists" in r.err and "minikctl apply -f" in r.err and "Traceback" not in r.err


def test_not_found_and_invalid_messages(ctl: Run, ns: str) -> None:
    r = ctl("get", "pods", "x")
    assert r.code == 1
    assert f'pods "x" not found in namespace "{ns}"' in r.err
    assert f"minikctl get pods -n {ns}" in r.err
    r = ctl("get", "widgets")
    assert r.code == 1 and 'doesn\'t have a resource type "widgets"' in r.err and "api-resources" in r.err
    bad = MANIFEST.split("---")[1].replace("replicas: 2", "replicas: -1")
    r = ctl("apply", "-f", "-", stdin=bad)
    assert r.code == 1
    assert "spec.replicas" in r.err and "Traceback" not in r.err


def test_connection_error_is_a_message(tmp_path: Path) -> None:
    cfg = tmp_path / "kc"
    cfg.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    r = subprocess.run(
        [sys.executable, "-m", "minik.cli.main", "--kubeconfig", str(cfg), "get", "pods"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "cannot reach the API server at https://127.0.0.1:1" in r.stderr and "Traceback" not in r.stderr


def test_delete_by_label_waits(ctl: Run, api: httpx.Client, ns: str) -> None:
    for i in range(3):
        ctl(
            "apply",
            "-f",
            "-",
            stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"
            f"  labels: {{group: {'a' if i < 2 else 'b'}}}\n",
        )
    r = ctl("delete", "cm", "-l", "group=a")
    assert r.code == 0, r.err
    assert sorted(r.out.splitlines()) == ['configmap "c0" deleted', 'configmap "c1" deleted']
    names = [i["metadata"]["name"] for i in api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["items"]]
    assert "c0" not in names and "c1" not in names and "c2" in names
    r = ctl("delete", "configmap/c2", "--wait=false", "--cascade=background", "--grace-period=0")
    assert r.code == 0 and r.out.strip() == 'configmap "c2" deleted'
    r = ctl("delete", "cm", "c2")
    assert r.code == 1 and 'configmaps "c2" not found' in r.err
    f = MANIFEST.split("---")[0]
    ctl("apply", "-f", "-", stdin=f)
    r = ctl("delete", "-f", "-", stdin=f)
    assert r.out.strip() == 'configmap "settings" deleted'


def test_label_annotate_run(ctl: Run, api: httpx.Client, ns: str) -> None:
    r = ctl("run", "nginx", "--image=nginx:1.25", "--port=80", "--env", "A=1", "--", "sleep", "10")
    assert r.code == 0 and r.out.strip() == "pod/nginx created"
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/nginx").json()
    c = pod["spec"]["containers"][0]
    assert (
        c["image"] == "nginx:1.25"
        and c["args"] == ["sleep", "10"]
        and pod["metadata"]["labels"] == {"run": "nginx"}
    )
    r = ctl("label", "pod", "nginx", "tier=front", "run-")
    assert r.code == 0 and r.out.strip() == "pod/nginx labeled"
    assert api.get(f"/api/v1/namespaces/{ns}/pods/nginx").json()["metadata"]["labels"] == {"tier": "front"}
    r = ctl("label", "pod/nginx", "tier=back")
    assert r.code == 1 and "--overwrite" in r.err
    r = ctl("label", "pod/nginx", "tier=back", "--overwrite")
    assert r.code == 0
    r = ctl("annotate", "pods", "nginx", "note=hello world")
    assert r.out.strip() == "pod/nginx annotated"
    meta = api.get(f"/api/v1/namespaces/{ns}/pods/nginx").json()["metadata"]
    assert meta["labels"] == {"tier": "back"} and meta["annotations"]["note"] == "hello world"
    r = ctl("get", "pods", "--show-labels")
    assert "tier=back" in r.out and "Pending" in r.out


def test_subprocess_get_and_version(apiserver: APIServerProcess, ns: str) -> None:
    base = [sys.executable, "-m", "minik.cli.main", "--kubeconfig", str(apiserver.kubeconfig)]
    r = subprocess.run([*base, "version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Client Version: minikctl") and "Server Version: v1." in r.stdout
    r = subprocess.run([*base, "get", "ns", ns, "-o", "name"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == f"namespace/{ns}"
