"""The API server never hands a caller's token to a kubelet (issue 15's token-theft path).

Anyone who may register a Node chooses the address the API server dials for
``kubectl logs``/``exec`` of pods bound to it. These tests play that attacker: a Node
whose InternalIP and kubelet port name a TLS listener the test runs, a pod bound to it,
and an administrator reading the pod's logs with a bearer token. The listener records
every byte it receives: it must never see the token -- only the API server's own client
certificate -- and the API server must not talk to it at all unless its serving
certificate comes from the cluster CA, nor at any address but the registered one.
"""

from __future__ import annotations

import http.server
import secrets
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from minik.client.certs import ensure_self_signed_certificate
from minik.cluster.pki import KUBELET_CLIENT_USER, ensure_serving_certificate
from tests.conftest import APIServerProcess

KUBECTL = str(Path(sys.executable).with_name("kubectl"))


@dataclass
class Seen:
    """What the impostor kubelet received."""

    requests: list[bytes] = field(default_factory=list)
    peer_subjects: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Recorder) and isinstance(self.connection, ssl.SSLSocket)
        raw = f"{self.requestline}\r\n".encode() + bytes(self.headers)
        self.server.seen.requests.append(raw)
        der = self.connection.getpeercert(binary_form=True)
        if der:
            cert = x509.load_der_x509_certificate(der)
            cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            self.server.seen.peer_subjects.append(str(cn))
        body = b"hello from the impostor\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Recorder(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that remembers what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = Seen()


@dataclass
class Listener:
    port: int
    seen: Seen


@pytest.fixture
def listener(
    request: pytest.FixtureRequest, apiserver: APIServerProcess, tmp_path: Path
) -> Iterator[Listener]:
    """A TLS listener on 127.0.0.1; ``trusted``: its certificate is from the cluster CA."""
    trusted: bool = request.param
    pki = apiserver.ca_file.parent
    if trusted:
        crt, key = ensure_serving_certificate(pki, "impostor", "impostor", ("127.0.0.1",))
    else:
        crt, key = ensure_self_signed_certificate(tmp_path, "impostor", "impostor", ("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    context.load_verify_locations(apiserver.ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL  # record whatever client certificate comes
    server = _Recorder()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Listener(int(server.server_address[1]), server.seen)
    finally:
        server.shutdown()
        server.server_close()


def _bind_pod_to_node(
    api: httpx.Client, ns: str, node: str, address: str, port: int, address_type: str = "InternalIP"
) -> None:
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}
    assert api.post("/api/v1/nodes", json=body).status_code == 201
    status = {
        "status": {
            "addresses": [{"type": address_type, "address": address}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        }
    }
    r = api.patch(
        f"/api/v1/nodes/{node}/status",
        json=status,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "victim"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201


@pytest.fixture
def node_name(api: httpx.Client) -> Iterator[str]:
    name = f"impostor-{secrets.token_hex(4)}"
    yield name
    api.delete(f"/api/v1/nodes/{name}")


def _no_secret_in(seen: Seen, token: str) -> None:
    for raw in seen.requests:
        assert token.encode() not in raw
        assert b"authorization:" not in raw.lower()


@pytest.mark.parametrize("listener", [True], indirect=True)
def test_logs_reach_a_registered_kubelet_with_the_apiservers_certificate_only(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, node_name: str, listener: Listener
) -> None:
    _bind_pod_to_node(api, ns, node_name, "127.0.0.1", listener.port)

    r = api.get(f"/api/v1/namespaces/{ns}/pods/victim/log")  # the admin's bearer token
    assert r.status_code == 200, r.text
    assert r.text == "hello from the impostor\n"
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(apiserver.kubeconfig), "-n", ns, "logs", "victim"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from the impostor\n"

    assert len(listener.seen.requests) == 2
    assert all(raw.startswith(f"GET /containerLogs/{ns}/victim/c".encode()) for raw in listener.seen.requests)
    _no_secret_in(listener.seen, apiserver.token)
    assert listener.seen.peer_subjects == [KUBELET_CLIENT_USER, KUBELET_CLIENT_USER]


@pytest.mark.parametrize("listener", [False], indirect=True)
def test_an_untrusted_kubelet_certificate_gets_nothing(
    api: httpx.Client, ns: str, node_name: str, listener: Listener, apiserver: APIServerProcess
) -> None:
    _bind_pod_to_node(api, ns, node_name, "127.0.0.1", listener.port)

    r = api.get(f"/api/v1/namespaces/{ns}/pods/victim/log")
    assert r.status_code == 503, r.text
    assert "certificate" in r.json()["message"].lower()
    assert listener.seen.requests == []  # the handshake failed: no request, no header


@pytest.mark.parametrize("listener", [True], indirect=True)
def test_only_the_registered_address_is_dialled(
    api: httpx.Client, ns: str, node_name: str, listener: Listener
) -> None:
    """No fallback to 127.0.0.1 when the Node's InternalIP does not answer."""
    with socket.socket() as probe:  # 127.0.0.2 is loopback too, but nothing listens there
        assert probe.connect_ex(("127.0.0.2", listener.port)) != 0
    _bind_pod_to_node(api, ns, node_name, "127.0.0.2", listener.port)

    r = api.get(f"/api/v1/namespaces/{ns}/pods/victim/log")
    assert r.status_code == 503, r.text
    assert listener.seen.requests == []


@pytest.mark.parametrize("listener", [True], indirect=True)
def test_a_node_without_an_internal_ip_is_not_dialled_at_loopback(
    api: httpx.Client, ns: str, node_name: str, listener: Listener
) -> None:
    """A kubelet listens on 127.0.0.1, but the Node registered only a Hostname: 503."""
    _bind_pod_to_node(api, ns, node_name, "impostor.example", listener.port, address_type="Hostname")

    r = api.get(f"/api/v1/namespaces/{ns}/pods/victim/log")
    assert (r.status_code, r.json()["reason"]) == (503, "ServiceUnavailable"), r.text
    assert r.json()["message"].startswith("no preferred addresses found")
    assert listener.seen.requests == []
