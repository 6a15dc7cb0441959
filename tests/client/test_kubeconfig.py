"""Kubeconfig parsing, path resolution and flag overrides."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minik.client.kubeconfig import (
    ClientConfig,
    KubeconfigError,
    default_kubeconfig_path,
    load_kubeconfig,
)


@pytest.fixture(scope="module")
def ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def kubeconfig(
    *,
    cluster: dict[str, Any],
    user: dict[str, Any] | None = None,
    namespace: str | None = None,
    extra_contexts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"cluster": "minik", "user": "admin"}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "minik",
        "clusters": [{"name": "minik", "cluster": cluster}],
        "users": [{"name": "admin", "user": user or {}}],
        "contexts": [{"name": "minik", "context": context}, *(extra_contexts or [])],
    }


def test_ca_data_and_token(tmp_path: Path, ca_pem: bytes) -> None:
    path = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            cluster={
                "server": "https://127.0.0.1:6443/",
                "certificate-authority-data": base64.b64encode(ca_pem).decode(),
            },
            user={"token": "s3cret"},
            namespace="shop",
        ),
    )
    config = load_kubeconfig(path)
    assert config == ClientConfig(
        server="https://127.0.0.1:6443", ca_data=ca_pem, token="s3cret", verify=True, namespace="shop"
    )
    context = config.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_relative_ca_file_and_token_file(tmp_path: Path, ca_pem: bytes) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(ca_pem)
    (tmp_path / "token").write_text("from-file\n")
    path = write(
        tmp_path / "kubeconfig",
        kubeconfig(
            cluster={"server": "https://h:6443", "certificate-authority": "pki/ca.crt"},
            user={"tokenFile": "token"},
        ),
    )
    config = load_kubeconfig(path)
    assert config.ca_data == ca_pem
    assert config.token == "from-file"
    assert config.namespace == "default"


def test_insecure_skip_tls_verify(tmp_path: Path) -> None:
    path = write(
        tmp_path / "k", kubeconfig(cluster={"server": "https://h:6443", "insecure-skip-tls-verify": True})
    )
    config = load_kubeconfig(path)
    assert not config.verify
    assert config.ssl_context() is False
    assert config.token is None


def test_explicit_context(tmp_path: Path) -> None:
    doc = kubeconfig(
        cluster={"server": "https://h:6443"},
        extra_contexts=[
            {"name": "other", "context": {"cluster": "minik", "user": "admin", "namespace": "x"}}
        ],
    )
    path = write(tmp_path / "k", doc)
    assert load_kubeconfig(path, context="other").namespace == "x"
    with pytest.raises(KubeconfigError, match="no context named 'nope'"):
        load_kubeconfig(path, context="nope")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("current-context"), "current-context is not set"),
        (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
        (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": "!!"}), "not base64"),
        (lambda d: d["users"][0]["user"].update({"exec": {"command": "x"}}), "does not support"),
        (
            lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "/nonexistent"}),
            "cannot read",
        ),
        (lambda d: d["clusters"][0]["cluster"].update({"server": "h:6443"}), "must be an http"),
    ],
)
def test_errors_are_specific(tmp_path: Path, mutate: object, message: str) -> None:
    doc = kubeconfig(cluster={"server": "https://h:6443"})
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(KubeconfigError, match=message):
        load_kubeconfig(write(tmp_path / "k", doc))


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "missing")
    (tmp_path / "bad").write_text("- just\n- a list\n")
    with pytest.raises(KubeconfigError, match="not a mapping"):
        load_kubeconfig(tmp_path / "bad")


def test_bad_ca_data_fails_clearly() -> None:
    with pytest.raises(KubeconfigError, match="not a PEM certificate"):
        ClientConfig(server="https://h", ca_data=b"garbage").ssl_context()


def test_default_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    minik_home = tmp_path / "minik"
    minik_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MINIK_HOME", str(minik_home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert default_kubeconfig_path() == home / ".kube" / "config"
    (minik_home / "kubeconfig").write_text("{}")
    assert default_kubeconfig_path() == minik_home / "kubeconfig"
    explicit = tmp_path / "explicit"
    explicit.write_text("{}")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{explicit}")
    assert default_kubeconfig_path() == explicit


def test_from_flags_alone_and_over_a_kubeconfig(tmp_path: Path, ca_pem: bytes) -> None:
    (tmp_path / "ca.crt").write_bytes(ca_pem)
    (tmp_path / "tok").write_text("file-token")
    config = ClientConfig.from_flags(
        server="https://10.0.0.1:6443", token_file=tmp_path / "tok", certificate_authority=tmp_path / "ca.crt"
    )
    assert config == ClientConfig(server="https://10.0.0.1:6443", ca_data=ca_pem, token="file-token")

    path = write(tmp_path / "k", kubeconfig(cluster={"server": "https://h:6443"}, user={"token": "kc"}))
    merged = ClientConfig.from_flags(
        kubeconfig=path, token="flag", insecure_skip_tls_verify=True, namespace="n"
    )
    assert merged == ClientConfig(server="https://h:6443", token="flag", verify=False, namespace="n")
    overridden = ClientConfig.from_flags(kubeconfig=path, server="https://other:1")
    assert overridden.server == "https://other:1" and overridden.token == "kc"
