"""minik.cluster.pki: the cluster CA and the API server's serving certificate really verify."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from minik.cluster.pki import DNS_NAMES, _load_ca, client_certificate, ensure_client_certificate, ensure_pki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def handshake(ca: Path, crt: Path, key: Path, hostname: str) -> None:
    """A TLS handshake in memory: the server presents ``crt``, the client trusts only ``ca``."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(crt, key)
    client_ctx = ssl.create_default_context(cafile=str(ca))
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, obj in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


@pytest.fixture()
def pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    return ensure_pki(tmp_path / "pki", extra_ips=("10.96.0.1",), extra_names=("apiserver.example",))


def test_files_and_private_keys_are_owner_only(pki: tuple[Path, Path, Path]) -> None:
    ca, crt, key = pki
    directory = ca.parent
    assert {p.name for p in directory.iterdir()} == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key"}
    assert (crt.name, key.name) == ("apiserver.crt", "apiserver.key")
    for private in (directory / "ca.key", key):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_ca_is_a_ca(pki: tuple[Path, Path, Path]) -> None:
    ca = load(pki[0])
    assert ca.subject == ca.issuer  # self-signed
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    ca.verify_directly_issued_by(ca)
    now = datetime.datetime.now(datetime.UTC)
    assert ca.not_valid_before_utc <= now < ca.not_valid_after_utc
    assert ca.not_valid_after_utc - now > datetime.timedelta(days=3000)


def test_serving_certificate_names_usage_and_lifetime(pki: tuple[Path, Path, Path]) -> None:
    ca, crt = load(pki[0]), load(pki[1])
    crt.verify_directly_issued_by(ca)
    assert crt.issuer == ca.subject
    sans = crt.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {*DNS_NAMES, "apiserver.example"}
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.96.0.1"),
    }
    eku = crt.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not any(isinstance(e.value, x509.BasicConstraints) and e.value.ca for e in crt.extensions)
    now = datetime.datetime.now(datetime.UTC)
    assert crt.not_valid_before_utc <= now  # valid at once, even with a little clock skew
    assert datetime.timedelta(days=800) < crt.not_valid_after_utc - now <= datetime.timedelta(days=825)
    private = serialization.load_pem_private_key(pki[2].read_bytes(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.public_key() == crt.public_key()


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost", "kubernetes.default.svc", "10.96.0.1"])
def test_tls_clients_trusting_the_ca_accept_the_server(pki: tuple[Path, Path, Path], hostname: str) -> None:
    handshake(*pki, hostname=hostname)


def test_tls_clients_reject_a_name_not_in_the_certificate(pki: tuple[Path, Path, Path]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"mismatch|doesn't match"):
        handshake(*pki, hostname="evil.example")


def test_strict_webpki_verifier_builds_the_chain(pki: tuple[Path, Path, Path]) -> None:
    """``cryptography``'s verifier (rustls/webpki rules) needs the key identifiers too."""
    ca, crt = load(pki[0]), load(pki[1])
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("kubernetes"))
    chain = verifier.verify(crt, [])
    assert chain == [crt, ca]
    wrong_name = PolicyBuilder().store(Store([ca])).build_server_verifier(x509.DNSName("other.example"))
    with pytest.raises(VerificationError):
        wrong_name.verify(crt, [])


def test_another_ca_does_not_verify_the_server(pki: tuple[Path, Path, Path], tmp_path: Path) -> None:
    other_ca, _, _ = ensure_pki(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(other_ca, pki[1], pki[2], hostname="localhost")


def test_second_call_keeps_everything(pki: tuple[Path, Path, Path]) -> None:
    before = {p: p.read_bytes() for p in pki[0].parent.iterdir()}
    assert ensure_pki(pki[0].parent) == pki
    assert {p: p.read_bytes() for p in pki[0].parent.iterdir()} == before


def test_a_new_ca_reissues_the_serving_certificate(pki: tuple[Path, Path, Path]) -> None:
    ca_file, crt_file, key_file = pki
    old_crt = crt_file.read_bytes()
    ca_file.unlink()
    ensure_pki(ca_file.parent)
    assert crt_file.read_bytes() != old_crt
    load(crt_file).verify_directly_issued_by(load(ca_file))
    handshake(ca_file, crt_file, key_file, hostname="127.0.0.1")


def test_a_missing_serving_key_is_reissued_under_the_same_ca(pki: tuple[Path, Path, Path]) -> None:
    ca_file, crt_file, key_file = pki
    old_ca = ca_file.read_bytes()
    key_file.unlink()
    ensure_pki(ca_file.parent)
    assert ca_file.read_bytes() == old_ca
    handshake(ca_file, crt_file, key_file, hostname="localhost")


def test_a_client_certificate_is_kept_while_it_is_current(pki: tuple[Path, Path, Path]) -> None:
    directory = pki[0].parent
    crt, _ = ensure_client_certificate(directory, "ops", "alice", ("ops", "dev"))
    before = crt.read_bytes()
    ensure_client_certificate(directory, "ops", "alice", ("dev", "ops"))  # the order does not matter
    assert crt.read_bytes() == before


@pytest.mark.parametrize(("user", "groups"), [("bob", ("ops",)), ("alice", ("ops", "admins")), ("alice", ())])
def test_a_client_certificate_for_someone_else_is_reissued(
    pki: tuple[Path, Path, Path], user: str, groups: tuple[str, ...]
) -> None:
    directory = pki[0].parent
    ensure_client_certificate(directory, "ops", "alice", ("ops",))
    crt, _ = ensure_client_certificate(directory, "ops", user, groups)
    subject = load(crt).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [user]
    assert sorted(a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)) == sorted(
        groups
    )


def test_a_client_certificate_about_to_expire_is_reissued(pki: tuple[Path, Path, Path]) -> None:
    directory = pki[0].parent
    crt, key = directory / "ops.crt", directory / "ops.key"
    cert_pem, key_pem = client_certificate(*_load_ca(directory), "alice", ("ops",), days=10)
    crt.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    ensure_client_certificate(directory, "ops", "alice", ("ops",))
    left = load(crt).not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert left > datetime.timedelta(days=300)
