"""Client certificates: the user is the certificate's Common Name, its groups the Organizations.

This is how kubeadm- and kind-style kubeconfigs authenticate (``client-certificate-data``):
a certificate signed by the cluster CA for ``CN=kubernetes-admin, O=system:masters`` *is*
an identity, checked without asking anyone -- and valid until it expires (Kubernetes
has no revocation for them; that is why ServiceAccount tokens are short-lived instead).

The TLS layer already checked the chain during the handshake (``authn/tls.py``). The
authenticator checks again -- signed by a ``--client-ca-file`` CA, inside its validity
window, usable for client authentication -- so that it stands on its own (a test can
hand it any certificate) and so that a certificate from another CA can never become a
user, however the connection was set up.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minik.api.identity import UserInfo

#: Parsed certificates by PEM text: a client sends the same one on every connection.
_CACHE_LIMIT = 1024


def load_cas(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (``--client-ca-file``)."""
    cas = x509.load_pem_x509_certificates(Path(path).read_bytes())
    if not cas:
        raise ValueError(f"{path}: no certificate in it")
    return cas


class ClientCertAuthenticator:
    def __init__(self, cas: Sequence[x509.Certificate]) -> None:
        self._cas = list(cas)
        self._parsed: dict[str, tuple[x509.Certificate, UserInfo] | None] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> ClientCertAuthenticator:
        return cls(load_cas(path))

    def authenticate(self, pem: str, now: datetime.datetime | None = None) -> UserInfo | None:
        """The user a client certificate names, or None if the certificate is not valid here."""
        if not pem:
            return None
        if pem not in self._parsed:
            if len(self._parsed) >= _CACHE_LIMIT:
                self._parsed.clear()
            self._parsed[pem] = self._verify(pem)
        found = self._parsed[pem]
        if found is None:
            return None
        cert, user = found
        now = now or datetime.datetime.now(datetime.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        return user

    def _verify(self, pem: str) -> tuple[x509.Certificate, UserInfo] | None:
        """Parse, check the signature and usage, read the names (all of which never change)."""
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            return None
        if not any(_issued_by(cert, ca) for ca in self._cas):
            return None
        try:
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
            return None  # a serving certificate is not a user
        name = _attribute(cert, NameOID.COMMON_NAME)
        if not name:
            return None
        groups = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        return cert, UserInfo.of(name[0], groups)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]
