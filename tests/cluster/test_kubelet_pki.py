"""The certificates the kubelet API needs, as the cluster tooling issues them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from minik.client.certs import ensure_self_signed_certificate
from minik.cluster.pki import KUBELET_CLIENT_USER, ensure_kubelet_certificates, ensure_pki


def _sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in names}


def test_kubelet_serving_certificates_name_the_node_and_chain_to_the_ca(tmp_path: Path) -> None:
    ca, _, _ = ensure_pki(tmp_path)
    ensure_kubelet_certificates(tmp_path, ["n1", "n2"], "192.0.2.7")
    assert _sans(tmp_path / "kubelet-n1.crt") == {"n1", str(ipaddress.ip_address("192.0.2.7")), "127.0.0.1"}
    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    serving = x509.load_pem_x509_certificate((tmp_path / "kubelet-n2.crt").read_bytes())
    serving.verify_directly_issued_by(ca_cert)  # raises if another key signed it
    client = x509.load_pem_x509_certificate((tmp_path / "apiserver-kubelet-client.crt").read_bytes())
    client.verify_directly_issued_by(ca_cert)
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == KUBELET_CLIENT_USER
    assert client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []  # not system:masters


def test_a_new_node_ip_reissues_the_certificate(tmp_path: Path) -> None:
    ensure_pki(tmp_path)
    ensure_kubelet_certificates(tmp_path, ["n1"], "192.0.2.7")
    first = (tmp_path / "kubelet-n1.crt").read_bytes()
    ensure_kubelet_certificates(tmp_path, ["n1"], "192.0.2.7")
    assert (tmp_path / "kubelet-n1.crt").read_bytes() == first  # unchanged names: kept
    ensure_kubelet_certificates(tmp_path, ["n1"], "192.0.2.8")
    assert "192.0.2.8" in _sans(tmp_path / "kubelet-n1.crt")


def test_a_self_signed_certificate_is_not_the_clusters(tmp_path: Path) -> None:
    ca, _, _ = ensure_pki(tmp_path / "pki")
    crt, _ = ensure_self_signed_certificate(tmp_path / "own", "kubelet", "n1", ("127.0.0.1",))
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    assert cert.issuer == cert.subject
    assert cert.issuer != x509.load_pem_x509_certificate(ca.read_bytes()).subject
