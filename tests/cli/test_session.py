"""minik.cli.session: kubeconfig on demand, namespace choice, resource names, typed HTTP errors."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from minik.api.errors import APIError
from minik.cli.errors import CLIError
from minik.cli.session import Session, error_response, kind_name
from minik.client.errors import APIConnectionError, NotFoundError
from minik.client.kinds import DEPLOYMENTS, NODES, PODS
from minik.client.kubeconfig import KubeconfigError
from minik.cluster.etcd_process import free_port
from tests.cli.fakes import GADGETS, WIDGETS, OfflineSession
from tests.conftest import APIServerProcess


def kubeconfig(tmp_path: Path, **cluster: Any) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "main",
        "clusters": [
            {"name": "a", "cluster": {"server": "http://127.0.0.1:1", **cluster}},
            {"name": "b", "cluster": {"server": "http://127.0.0.1:2"}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "main", "context": {"cluster": "a", "user": "u", "namespace": "ctx-ns"}},
            {"name": "other", "context": {"cluster": "b", "user": "u"}},
        ],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_kubeconfig_is_read_only_when_needed(tmp_path: Path) -> None:
    session = Session(kubeconfig=str(tmp_path / "missing"), namespace_flag="x")
    assert session.namespace == "x"  # -n given: no need to read the file
    assert session.known_server() is None
    with pytest.raises(KubeconfigError):
        _ = session.config


def test_namespace_from_flag_else_context(tmp_path: Path) -> None:
    path = str(kubeconfig(tmp_path))
    assert Session(kubeconfig=path).namespace == "ctx-ns"
    assert Session(kubeconfig=path, namespace_flag="n").namespace == "n"
    other = Session(kubeconfig=path, context="other")
    assert other.namespace == "default"
    assert other.known_server() is not None and other.known_server() == "http://127.0.0.1:2"


def test_tls_for_websockets(tmp_path: Path, apiserver: APIServerProcess) -> None:
    assert Session(kubeconfig=str(kubeconfig(tmp_path))).ssl_context() is None  # plain http
    ctx = Session(kubeconfig=str(apiserver.kubeconfig)).ssl_context()
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
    insecure = kubeconfig(tmp_path, **{"insecure-skip-tls-verify": True})
    insecure.write_text(insecure.read_text().replace("http://127.0.0.1:1", "https://127.0.0.1:1"))
    ctx = Session(kubeconfig=str(insecure)).ssl_context()
    assert ctx is not None and ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


def test_error_answers_become_typed_errors() -> None:
    status = {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "x" not found'}
    err = error_response(httpx.Response(404, json=status))
    assert isinstance(err, NotFoundError) and err.message == 'pods "x" not found'
    plain = error_response(httpx.Response(502, text="<html>bad gateway</html>"))
    assert isinstance(plain, APIError) and plain.code == 502
    assert plain.message == "the server responded with HTTP 502: <html>bad gateway</html>"


def test_kind_names_in_messages() -> None:
    assert kind_name(PODS) == "pod"
    assert kind_name(DEPLOYMENTS) == "deployment.apps"
    assert kind_name(WIDGETS) == "widget.example.com"


async def test_resolve_built_ins_then_discovery() -> None:
    session = OfflineSession()
    assert await session.resolve("no") == NODES
    assert session.discovery_calls == 0
    assert await session.resolve("gadgets.example.com") == GADGETS
    assert await session.resolve_kind("example.com/v1", "Widget") == WIDGETS
    assert await session.resolve_kind("apps/v1", "Deployment") == DEPLOYMENTS
    with pytest.raises(CLIError) as info:
        await session.resolve_kind("example.com/v2", "Widget")
    assert info.value.message == 'no resource for kind "Widget" in version "example.com/v2" on this server'


async def test_resolve_many_only_expands_categories() -> None:
    session = OfflineSession()
    assert await session.resolve_many("pods") == [PODS]
    with pytest.raises(CLIError, match="sprockets"):
        await session.resolve_many("sprockets")


# -- against the API server ------------------------------------------------------------------


@pytest.mark.integration
async def test_discovery_of_a_real_server(apiserver: APIServerProcess) -> None:
    session = Session(kubeconfig=str(apiserver.kubeconfig))
    try:
        found = await session.discovery()
        by_name = {r.ref.group_resource: r for r in found}
        assert "pods/log" not in by_name and not any("/" in r.ref.plural for r in found)
        pods = by_name["pods"]
        assert pods.ref == PODS and pods.singular == "pod"
        assert {"get", "list", "watch", "create", "delete"} <= set(pods.verbs)
        assert by_name["deployments.apps"].ref.api_version == "apps/v1"
        assert not by_name["nodes"].ref.namespaced
        assert await session.discovery() is found  # asked once per invocation
        version = await session.get_json("/version")
        assert version["gitVersion"].startswith("v1.")
        with pytest.raises(NotFoundError):
            await session.raw("GET", "/api/v1/namespaces/default/pods/no-such-pod")
    finally:
        await session.aclose()


@pytest.mark.integration
async def test_an_unreachable_server_is_a_connection_error(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path)
    port = free_port()
    path.write_text(path.read_text().replace("http://127.0.0.1:1", f"http://127.0.0.1:{port}"))
    session = Session(kubeconfig=str(path))
    try:
        with pytest.raises(APIConnectionError, match=f"GET http://127.0.0.1:{port}/version"):
            await session.get_json("/version")
    finally:
        await session.aclose()
