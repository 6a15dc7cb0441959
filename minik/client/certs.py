"""Serving certificates: the pieces both the cluster tooling and a kubelet need.

The cluster tooling (``minik/cluster/pki.py``) signs every serving certificate with the
cluster CA; a kubelet started without one makes a self-signed certificate for itself,
as upstream's does. Both build the same kind of certificate -- an EC key, the names as
subject alternative names, server-auth usage, key identifiers -- so the builder lives
here, in the client layer, where components and the tooling above them can both use it.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def alt_names(ips: tuple[str, ...], dns_names: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(dns_names)]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(ips)]
    return names


def serving_certificate(
    subject: str,
    sans: list[x509.GeneralName],
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    days: int = 825,
) -> tuple[bytes, bytes]:
    """A serving certificate (PEM) and key (PEM) for ``sans``; self-signed if ``issuer`` is None."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    signer = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(signer, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def names_match(crt: Path, sans: list[x509.GeneralName]) -> bool:
    """Does the certificate at ``crt`` carry exactly ``sans``? (A node's IP may change.)"""
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    try:
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return set(have) == set(sans)


def write_pair(crt: Path, key: Path, pair: tuple[bytes, bytes]) -> None:
    key.write_bytes(pair[1])
    key.chmod(0o600)
    crt.write_bytes(pair[0])


def ensure_self_signed_certificate(
    directory: Path, name: str, subject: str, ips: tuple[str, ...], dns_names: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """A self-signed serving certificate: what a kubelet started without ``--tls-cert-file``
    makes for itself, as upstream's does. Nobody who verifies against the cluster CA
    (the API server) trusts it -- the cluster tooling gives every kubelet a CA-signed one."""
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    names = alt_names(ips, dns_names)
    if not (crt.exists() and key.exists() and names_match(crt, names)):
        write_pair(crt, key, serving_certificate(subject, names, None, days=365))
    return crt, key
