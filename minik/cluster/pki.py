"""The cluster's certificate authority, the API server's serving certificate, client
certificates, and the key that signs ServiceAccount tokens.

kubectl refuses to send a bearer token over plain HTTP, so the API server speaks
HTTPS from the start. Setup makes a CA once (``ca.crt``/``ca.key``) and signs a
serving certificate for the names clients use: ``127.0.0.1``, ``localhost``, the
in-cluster Service names (``kubernetes.default.svc.cluster.local`` …) and the
first ClusterIP. The kubeconfig carries the CA so clients verify the server.
Both certificates carry key identifiers (the CA's subject key id is the serving
certificate's authority key id), as RFC 5280 asks and strict verifiers (rustls/webpki,
``cryptography``'s) require.

The same CA signs *client* certificates (:func:`ensure_client_certificate`): the
Common Name is the user, each Organization a group -- the admin's is
``CN=admin, O=system:masters``. And ``sa.key`` (:func:`ensure_service_account_key`)
is the RSA key the API server signs ServiceAccount tokens with.

For the kubelet's API (:func:`ensure_kubelet_certificates`): each kubelet serves HTTPS with
a certificate from this CA naming its node's address, and the API server calls kubelets
with its own client certificate, ``CN=kube-apiserver-kubelet-client``.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minik.client.certs import (
    alt_names,
    names_match,
    serving_certificate,
    write_pair,
)

DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "minik-apiserver",
    "apiserver",
)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def ensure_pki(
    directory: Path, *, extra_ips: tuple[str, ...] = ("10.96.0.1",), extra_names: tuple[str, ...] = ()
) -> tuple[Path, Path, Path]:
    """Create (once) the CA and serving certificate; returns (ca.crt, server.crt, server.key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_crt, ca_key = directory / "ca.crt", directory / "ca.key"
    srv_crt, srv_key = directory / "apiserver.crt", directory / "apiserver.key"
    now = datetime.datetime.now(datetime.UTC)
    if not (ca_crt.exists() and ca_key.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik-ca")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write_key(ca_key, key)
        ca_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        srv_crt.unlink(missing_ok=True)
    if not (srv_crt.exists() and srv_key.exists()):
        ca_cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        assert isinstance(ca_private, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in (*DNS_NAMES, *extra_names)]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", *extra_ips)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik-apiserver")]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_private.public_key()), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_private, hashes.SHA256())
        )
        _write_key(srv_key, key)
        srv_crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca_crt, srv_crt, srv_key


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    ca_private = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_private, ec.EllipticCurvePrivateKey)
    return ca_cert, ca_private


def client_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    user: str,
    groups: tuple[str, ...] = (),
    *,
    days: int = 365,
) -> tuple[bytes, bytes]:
    """A client certificate (PEM) and its key (PEM) for ``user`` in ``groups``, signed by the CA."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


#: A client certificate this close to its end is issued afresh by ``make up``.
RENEW_BEFORE = datetime.timedelta(days=30)


def ensure_client_certificate(
    directory: Path, name: str, user: str, groups: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """``<name>.crt``/``<name>.key`` for ``user`` in ``groups``; needs :func:`ensure_pki` first.

    Issued when missing, and again when the one there names someone else (the user or
    groups asked for changed) or expires within :data:`RENEW_BEFORE` — otherwise a
    cluster that has been up for a year would find its components locked out.
    """
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    if not (crt.exists() and key.exists() and _client_certificate_current(crt, user, groups)):
        write_pair(crt, key, client_certificate(*_load_ca(directory), user, groups))
    return crt, key


def _client_certificate_current(crt: Path, user: str, groups: tuple[str, ...]) -> bool:
    """Does ``crt`` name ``user`` (CN) in exactly ``groups`` (O), and stay valid a while yet?"""
    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
    except ValueError:
        return False
    subject = cert.subject
    names = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if names != [user] or sorted(orgs) != sorted(groups):
        return False
    return cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > RENEW_BEFORE


def ensure_service_account_key(directory: Path) -> Path:
    """Create (once) ``sa.key``, the RSA key ServiceAccount tokens are signed with (RS256, as upstream)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sa.key"
    if not path.exists():
        _write_key(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return path


def ensure_serving_certificate(
    directory: Path, name: str, subject: str, ips: tuple[str, ...], dns_names: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """Create ``<name>.crt``/``<name>.key``: a serving certificate signed by the cluster CA.

    A kubelet's: the API server dials ``https://<InternalIP>:<port>`` and checks the
    certificate against the CA and that address, so the node's IPs (and host name) are
    its subject alternative names. Re-issued when the names change (a new node IP);
    needs :func:`ensure_pki` first.
    """
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    names = alt_names(ips, dns_names)
    if not (crt.exists() and key.exists() and names_match(crt, names)):
        write_pair(crt, key, serving_certificate(subject, names, _load_ca(directory)))
    return crt, key


#: The API server's identity towards kubelets (kubeadm's name). No group: it is not an
#: administrator of the API server, only of kubelets -- the default RBAC policy binds it to
#: ``system:kubelet-api-admin`` (``minik/apiserver/authz/bootstrap.py``).
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUPS: tuple[str, ...] = ()


def ensure_kubelet_certificates(directory: Path, nodes: list[str], node_ip: str) -> None:
    """What the kubelet API needs: the API server's client certificate for calling kubelets
    (``apiserver-kubelet-client``) and one serving certificate per node (``kubelet-<node>``)
    naming the node's InternalIP, 127.0.0.1 and its name."""
    ensure_client_certificate(
        directory, "apiserver-kubelet-client", KUBELET_CLIENT_USER, KUBELET_CLIENT_GROUPS
    )
    for node in nodes:
        ensure_serving_certificate(
            directory, f"kubelet-{node}", node, tuple(dict.fromkeys((node_ip, "127.0.0.1"))), (node,)
        )
