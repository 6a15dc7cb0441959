"""The authenticators on their own: ServiceAccount JWTs, client certificates, the chain."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minik.api.identity import UserInfo, split_service_account_user
from minik.apiserver.auth import TokenAuthenticator as TokenFile
from minik.apiserver.auth import User
from minik.apiserver.authn.chain import Authenticator, StaticTokens
from minik.apiserver.authn.serviceaccount import (
    Binding,
    ServiceAccountTokenAuthenticator,
    TokenIssuer,
    key_id,
    load_signing_key,
    load_verification_key,
)
from minik.client.certauth import ClientCertAuthenticator
from minik.cluster.pki import client_certificate, ensure_pki, ensure_service_account_key

ISSUER = "https://kubernetes.default.svc.cluster.local"
Obj = dict[str, Any]


class Objects:
    """A stand-in for the watch cache: (kind, namespace, name) → object."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Obj] = {}

    def add(self, kind: str, namespace: str, name: str, uid: str) -> Obj:
        obj: Obj = {"kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": uid}}
        self.items[(kind, namespace, name)] = obj
        return obj

    def __call__(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.items.get((kind, namespace, name))


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def objects() -> Objects:
    objects = Objects()
    objects.add("ServiceAccount", "web", "builder", "sa-uid-1")
    objects.add("Pod", "web", "builder-x", "pod-uid-1")
    return objects


def sa(objects: Objects) -> Obj:
    return objects.items[("ServiceAccount", "web", "builder")]


def verifier(key: rsa.RSAPrivateKey, objects: Objects) -> ServiceAccountTokenAuthenticator:
    return ServiceAccountTokenAuthenticator([key.public_key()], [ISSUER], objects)


# -- ServiceAccount tokens --------------------------------------------------------------------


def test_a_token_names_its_service_account(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    token, expires = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 3600)
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience=ISSUER)
    assert claims["sub"] == "system:serviceaccount:web:builder" and claims["iss"] == ISSUER
    assert claims["exp"] == expires and expires - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["kid"] == key_id(key.public_key())
    result = verifier(key, objects).authenticate_token(token, [ISSUER])
    assert result is not None
    assert result.user.name == "system:serviceaccount:web:builder"
    assert result.user.uid == "sa-uid-1"
    assert result.user.groups == ("system:serviceaccounts", "system:serviceaccounts:web")
    assert result.audiences == (ISSUER,)
    assert split_service_account_user(result.user.name) == ("web", "builder")


def test_an_expired_token_is_refused(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    token, _ = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 600, now=time.time() - 601)
    assert verifier(key, objects).authenticate_token(token, [ISSUER]) is None
    fresh, _ = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 600, now=time.time() - 590)
    assert verifier(key, objects).authenticate_token(fresh, [ISSUER]) is not None


def test_audience_must_match(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    token, _ = TokenIssuer(key, ISSUER).issue(sa(objects), ["vault", "minio"], 3600)
    check = verifier(key, objects)
    assert check.authenticate_token(token, [ISSUER]) is None
    result = check.authenticate_token(token, ["minio", "other"])
    assert result is not None and result.audiences == ("minio",)


def test_wrong_key_or_issuer_or_tampering_is_refused(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    check = verifier(key, objects)
    forged, _ = TokenIssuer(other, ISSUER).issue(sa(objects), [ISSUER], 3600)
    assert check.authenticate_token(forged, [ISSUER]) is None
    foreign, _ = TokenIssuer(key, "https://elsewhere").issue(sa(objects), [ISSUER], 3600)
    assert check.authenticate_token(foreign, [ISSUER]) is None
    token, _ = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 3600)
    header, _, signature = token.split(".")
    # Claim another (existing) account, keeping the signature: the signature no longer fits.
    objects.add("ServiceAccount", "web", "admin", "sa-uid-9")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "system:serviceaccount:web:admin"
    claims["kubernetes.io"]["serviceaccount"] = {"name": "admin", "uid": "sa-uid-9"}
    swapped = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert check.authenticate_token(f"{header}.{swapped}.{signature}", [ISSUER]) is None
    # "alg: none" is never accepted.
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]  # no key: unsigned
    assert check.authenticate_token(unsigned, [ISSUER]) is None
    assert check.authenticate_token("not-a-jwt", [ISSUER]) is None


def test_a_bound_token_dies_with_its_pod(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    binding = Binding("Pod", "builder-x", "pod-uid-1", node_name="node-1", node_uid="n-1")
    token, _ = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 3600, binding)
    check = verifier(key, objects)
    result = check.authenticate_token(token, [ISSUER])
    assert result is not None
    assert result.user.extra_dict()["authentication.kubernetes.io/pod-name"] == ["builder-x"]
    assert result.user.extra_dict()["authentication.kubernetes.io/pod-uid"] == ["pod-uid-1"]
    assert result.user.extra_dict()["authentication.kubernetes.io/node-name"] == ["node-1"]
    # Being deleted gracefully: valid until the deletion comes due.
    pod = objects.items[("Pod", "web", "builder-x")]
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    pod["metadata"]["deletionTimestamp"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert check.authenticate_token(token, [ISSUER]) is not None
    pod["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert check.authenticate_token(token, [ISSUER]) is None
    del objects.items[("Pod", "web", "builder-x")]
    assert check.authenticate_token(token, [ISSUER]) is None
    objects.add("Pod", "web", "builder-x", "pod-uid-2")  # same name, another pod
    assert check.authenticate_token(token, [ISSUER]) is None


def test_a_token_dies_with_its_service_account(key: rsa.RSAPrivateKey, objects: Objects) -> None:
    token, _ = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 3600)
    check = verifier(key, objects)
    objects.add("ServiceAccount", "web", "builder", "sa-uid-2")  # deleted and made again
    assert check.authenticate_token(token, [ISSUER]) is None


def test_keys_load_from_files(tmp_path: Path) -> None:
    path = ensure_service_account_key(tmp_path)
    private = load_signing_key(path)
    assert isinstance(private, rsa.RSAPrivateKey)
    public_file = tmp_path / "sa.pub"
    public_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert key_id(load_verification_key(public_file)) == key_id(load_verification_key(path))
    ec_file = tmp_path / "ec.key"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_file.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    objects = Objects()
    account = objects.add("ServiceAccount", "a", "b", "u")
    token, _ = TokenIssuer(load_signing_key(ec_file), ISSUER).issue(account, [ISSUER], 600)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    check = ServiceAccountTokenAuthenticator([load_verification_key(ec_file)], [ISSUER], objects)
    assert check.authenticate_token(token, [ISSUER]) is not None


# -- client certificates ----------------------------------------------------------------------


def ca_of(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_crt, _, _ = ensure_pki(directory)
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    return x509.load_pem_x509_certificate(ca_crt.read_bytes()), ca_key


def test_a_certificate_from_the_cluster_ca_names_user_and_groups(tmp_path: Path) -> None:
    ca, ca_key = ca_of(tmp_path / "pki")
    cert_pem, _ = client_certificate(ca, ca_key, "jane", ("devs", "system:masters"))
    users = ClientCertAuthenticator.from_file(tmp_path / "pki" / "ca.crt")
    assert users.authenticate(cert_pem.decode()) == UserInfo("jane", ("devs", "system:masters"))
    a_year_on = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)
    assert users.authenticate(cert_pem.decode(), now=a_year_on) is None  # expired


def test_a_certificate_from_another_ca_is_no_user(tmp_path: Path) -> None:
    ca_of(tmp_path / "ours")
    other, other_key = ca_of(tmp_path / "theirs")
    cert_pem, _ = client_certificate(other, other_key, "mallory", ("system:masters",))
    users = ClientCertAuthenticator.from_file(tmp_path / "ours" / "ca.crt")
    assert users.authenticate(cert_pem.decode()) is None
    assert users.authenticate("garbage") is None


def test_a_serving_certificate_is_no_user(tmp_path: Path) -> None:
    ca_of(tmp_path / "pki")
    serving = (tmp_path / "pki" / "apiserver.crt").read_text()  # signed by the CA, for serverAuth only
    assert ClientCertAuthenticator.from_file(tmp_path / "pki" / "ca.crt").authenticate(serving) is None


def test_a_certificate_without_common_name_is_no_user(tmp_path: Path) -> None:
    ca, ca_key = ca_of(tmp_path / "pki")
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert ClientCertAuthenticator.from_file(tmp_path / "pki" / "ca.crt").authenticate(pem) is None


# -- the chain ----------------------------------------------------------------------------------


def scope_with_certificate(pem: str) -> dict[str, Any]:
    """A request scope as ``authn/tls.py`` fills it in (the ASGI TLS extension)."""
    return {"type": "http", "extensions": {"tls": {"client_cert_chain": [pem]}}}


def test_the_chain_tries_certificate_then_tokens(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    ca, ca_key = ca_of(tmp_path / "pki")
    objects = Objects()
    account = objects.add("ServiceAccount", "web", "builder", "u-1")
    static = StaticTokens(TokenFile({"s3cret": User("admin", "7", ("system:masters",))}), [ISSUER])
    chain = Authenticator(
        api_audiences=[ISSUER],
        client_certs=ClientCertAuthenticator.from_file(tmp_path / "pki" / "ca.crt"),
        tokens=[static, ServiceAccountTokenAuthenticator([key.public_key()], [ISSUER], objects)],
    )
    cert_pem = client_certificate(ca, ca_key, "jane", ("devs",))[0].decode()
    jane = chain.authenticate(scope_with_certificate(cert_pem), {"authorization": "Bearer s3cret"})
    assert jane == UserInfo("jane", ("devs", "system:authenticated"))
    admin = chain.authenticate({"type": "http"}, {"authorization": "Bearer s3cret"})
    assert admin == UserInfo("admin", ("system:masters", "system:authenticated"), "7")
    token, _ = TokenIssuer(key, ISSUER).issue(account, [ISSUER], 3600)
    builder = chain.authenticate({"type": "http"}, {"authorization": f"bearer {token}"})
    assert builder is not None and builder.groups[-1] == "system:authenticated"
    other, other_key = ca_of(tmp_path / "other")
    foreign = client_certificate(other, other_key, "mallory", ("system:masters",))[0].decode()
    assert chain.authenticate(scope_with_certificate(foreign), {}) is None
    assert chain.authenticate({"type": "http"}, {"authorization": "Bearer wrong"}) is None
    assert chain.authenticate({"type": "http"}, {"authorization": "Basic s3cret"}) is None


def test_static_tokens_only_serve_the_api_servers_audience() -> None:
    static = StaticTokens(TokenFile({"s3cret": User("admin", "7", ())}), [ISSUER])
    result = static.authenticate_token("s3cret", [ISSUER, "vault"])
    assert result is not None and result.audiences == (ISSUER,)
    assert static.authenticate_token("s3cret", ["vault"]) is None


def test_the_tls_extension_carries_the_peer_certificate(tmp_path: Path) -> None:
    from minik.client.tlsscope import client_certificate as from_scope
    from minik.client.tlsscope import tls_extension

    class Transport:
        def __init__(self, ssl_object: object) -> None:
            self.ssl_object = ssl_object

        def get_extra_info(self, name: str) -> object:
            return self.ssl_object if name == "ssl_object" else None

    ca, ca_key = ca_of(tmp_path / "pki")
    pem = client_certificate(ca, ca_key, "jane")[0].decode()

    class Peer(ssl.SSLObject):
        def __init__(self) -> None:  # no real connection needed: only the certificate is read
            pass

        def getpeercert(self, binary_form: bool = False) -> Any:
            return ssl.PEM_cert_to_DER_cert(pem) if binary_form else {}

    assert tls_extension(Transport(None)) is None  # type: ignore[arg-type]  # plain HTTP
    extension = tls_extension(Transport(Peer()))  # type: ignore[arg-type]
    assert extension is not None
    assert from_scope({"extensions": {"tls": extension}}).strip() == pem.strip()
    assert from_scope({"type": "http"}) == ""


def test_a_checked_token_still_expires(
    key: rsa.RSAPrivateKey, objects: Objects, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signature is checked once per token; expiry and the objects on every request."""
    token, expires = TokenIssuer(key, ISSUER).issue(sa(objects), [ISSUER], 600)
    check = verifier(key, objects)
    assert check.authenticate_token(token, [ISSUER]) is not None
    monkeypatch.setattr(time, "time", lambda: expires + 1.0)
    assert check.authenticate_token(token, [ISSUER]) is None
    monkeypatch.undo()
    assert check.authenticate_token(token, [ISSUER]) is not None
    del objects.items[("ServiceAccount", "web", "builder")]
    assert check.authenticate_token(token, [ISSUER]) is None
