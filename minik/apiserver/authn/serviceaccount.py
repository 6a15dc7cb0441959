"""ServiceAccount tokens: JSON Web Tokens the API server signs, and checks on every request.

A ServiceAccount is an identity for software (a controller in a pod, a CI job). Its
credential is a *token* the API server issues through the TokenRequest API
(``POST .../serviceaccounts/<name>/token``, ``kubectl create token``): a JWT, i.e.
three base64url parts ``header.claims.signature``, signed with the API server's key
(``--service-account-signing-key-file``). The claims say everything needed to check it
later without storing it anywhere::

    {"iss": "https://kubernetes.default.svc.cluster.local",    who issued it
     "aud": ["https://kubernetes.default.svc.cluster.local"],  who may accept it
     "sub": "system:serviceaccount:web:builder",               who it is
     "iat": 1765152000, "nbf": 1765152000, "exp": 1765155600,  when it is valid
     "jti": "2f0c...",                                         its id (for audit)
     "kubernetes.io": {"namespace": "web",
                       "serviceaccount": {"name": "builder", "uid": "..."},
                       "pod": {"name": "builder-x", "uid": "..."}}}   optional binding

Checking one (:class:`ServiceAccountTokenAuthenticator`, on every request that carries
one) means: the signature is one of ``--service-account-key-file``'s keys; the issuer is
ours (``--service-account-issuer``); one audience is the API server's
(``--api-audiences``, by default the issuer); it has not expired; and the objects it
names still exist *with the same uid*: the ServiceAccount, and the pod (or Secret) it is
bound to. So deleting a pod revokes its tokens at once, even though nothing was stored
-- the check reads the API server's watch cache, which costs a dictionary lookup.

minik uses PyJWT for the JWT format and ``cryptography`` for the keys (RSA → RS256,
P-256 → ES256, as upstream accepts).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from minik.api import identity
from minik.api.identity import UserInfo

Obj = dict[str, Any]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
#: ``(kind, namespace, name) -> object or None``: the API server's current objects.
Lookup = Callable[[str, str, str], Obj | None]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: Upstream's bounds for ``spec.expirationSeconds`` of a TokenRequest, and its default.
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
DEFAULT_EXPIRATION_SECONDS = 3600
#: The kinds a token can be bound to (the token dies with the object).
BINDABLE_KINDS = ("Pod", "Secret")
_VERIFIED_LIMIT = 4096
_PRIVATE_CLAIM = "kubernetes.io"


# -- keys ---------------------------------------------------------------------------------


def load_signing_key(path: str | Path) -> PrivateKey:
    """The private key tokens are signed with (PEM, RSA or ECDSA P-256)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if isinstance(key, rsa.RSAPrivateKey) or (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    raise ValueError(f"{path}: a service account key must be RSA or ECDSA P-256")


def load_verification_key(path: str | Path) -> PublicKey:
    """A key tokens are checked with: a public key, or the public half of a private key file."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key
    raise ValueError(f"{path}: a service account key must be RSA or ECDSA P-256")


def key_id(key: PublicKey) -> str:
    """Upstream's ``kid``: the base64url SHA-256 of the public key (DER) -- names the key in the header."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def _algorithm(key: PrivateKey | PublicKey) -> str:
    return "RS256" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "ES256"


# -- issuing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """The object a token is bound to (its ``boundObjectRef``), and the pod's node if any."""

    kind: str
    name: str
    uid: str
    node_name: str = ""
    node_uid: str = ""


class TokenIssuer:
    def __init__(self, key: PrivateKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer
        self._kid = key_id(key.public_key())

    def issue(
        self,
        service_account: Obj,
        audiences: Sequence[str],
        expiration_seconds: int,
        binding: Binding | None = None,
        now: float | None = None,
    ) -> tuple[str, int]:
        """A signed token for ``service_account`` and its expiry (seconds since the epoch)."""
        meta = service_account.get("metadata", {})
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        issued = int(time.time() if now is None else now)
        expires = issued + int(expiration_seconds)
        private: Obj = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": str(meta.get("uid", ""))},
        }
        if binding is not None:
            private[binding.kind.lower()] = {"name": binding.name, "uid": binding.uid}
            if binding.node_name:
                private["node"] = {"name": binding.node_name, "uid": binding.node_uid}
        claims = {
            "iss": self.issuer,
            "sub": identity.service_account_user(namespace, name),
            "aud": list(audiences),
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "jti": str(uuid.uuid4()),
            _PRIVATE_CLAIM: private,
        }
        token = jwt.encode(claims, self.key, algorithm=_algorithm(self.key), headers={"kid": self._kid})
        return token, expires


# -- checking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenResult:
    """An authenticated token: its user, and which of the audiences asked for it is valid for."""

    user: UserInfo
    audiences: tuple[str, ...]


def _deleted_before(obj: Obj, now: float) -> bool:
    """Has ``obj``'s deletion come due (a graceful delete keeps it valid until then)?"""
    stamp = obj.get("metadata", {}).get("deletionTimestamp")
    if not stamp:
        return False
    try:
        when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return when <= now


class ServiceAccountTokenAuthenticator:
    def __init__(self, keys: Sequence[PublicKey], issuers: Sequence[str], lookup: Lookup) -> None:
        self._keys = {key_id(k): k for k in keys}
        self._issuers = list(issuers)
        self._lookup = lookup
        #: Claims of tokens whose signature was checked, by (token, audiences): a pod sends
        #: the same token for an hour, and checking an RSA signature costs far more than the
        #: rest. Expiry and the objects it names are still checked on every request.
        self._verified: dict[tuple[str, tuple[str, ...]], Obj] = {}

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        """The ServiceAccount a token belongs to, if every check passes; None otherwise."""
        if token.count(".") != 2:
            return None  # not a JWT at all (a static token, say)
        claims = self._verified_claims(token, audiences)
        if claims is None:
            return None
        private = claims.get(_PRIVATE_CLAIM)
        if not isinstance(private, dict):
            return None
        namespace = str(private.get("namespace") or "")
        sa_ref = private.get("serviceaccount") or {}
        if not isinstance(sa_ref, dict) or not namespace:
            return None
        sa_name, sa_uid = str(sa_ref.get("name") or ""), str(sa_ref.get("uid") or "")
        if claims.get("sub") != identity.service_account_user(namespace, sa_name):
            return None
        current = time.time()
        if not self._still_there("ServiceAccount", namespace, sa_name, sa_uid, current):
            return None
        extra: dict[str, list[str]] = {}
        for kind in BINDABLE_KINDS:
            ref = private.get(kind.lower())
            if ref is None:
                continue
            if not isinstance(ref, dict):
                return None
            name, uid = str(ref.get("name") or ""), str(ref.get("uid") or "")
            if not self._still_there(kind, namespace, name, uid, current):
                return None  # the token died with the object it was bound to
            if kind == "Pod":
                extra[identity.EXTRA_POD_NAME] = [name]
                extra[identity.EXTRA_POD_UID] = [uid]
        node = private.get("node")
        if isinstance(node, dict) and node.get("name"):
            extra[identity.EXTRA_NODE_NAME] = [str(node["name"])]
        if claims.get("jti"):
            extra[identity.EXTRA_CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
        user = UserInfo.of(
            identity.service_account_user(namespace, sa_name),
            identity.service_account_groups(namespace),
            sa_uid,
            extra,
        )
        token_audiences = claims.get("aud")
        granted = token_audiences if isinstance(token_audiences, list) else [token_audiences]
        return TokenResult(user, tuple(a for a in audiences if a in granted))

    def _verified_claims(self, token: str, audiences: Sequence[str]) -> Obj | None:
        """The claims, if the signature, issuer, audience and validity window check out."""
        key = (token, tuple(audiences))
        claims = self._verified.get(key)
        if claims is not None:
            return claims if time.time() < claims["exp"] else None  # expired since it was checked
        claims = self._decode(token, audiences)
        if claims is not None:
            if len(self._verified) >= _VERIFIED_LIMIT:
                self._verified.clear()
            self._verified[key] = claims
        return claims

    def _decode(self, token: str, audiences: Sequence[str]) -> Obj | None:
        """PyJWT's checks: signature (by the header's ``kid``), issuer, audience, times."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        key = self._keys.get(str(header.get("kid", "")))
        candidates = [key] if key is not None else list(self._keys.values())
        for candidate in candidates:
            try:
                claims: Obj = jwt.decode(
                    token,
                    candidate,
                    algorithms=[_algorithm(candidate)],
                    audience=list(audiences),
                    issuer=self._issuers,
                    options={"require": ["exp", "iat", "iss", "sub", "aud"]},
                )
            except jwt.InvalidTokenError:
                continue
            return claims
        return None

    def _still_there(self, kind: str, namespace: str, name: str, uid: str, now: float) -> bool:
        obj = self._lookup(kind, namespace, name)
        if obj is None or _deleted_before(obj, now):
            return False
        return not uid or str(obj.get("metadata", {}).get("uid", "")) == uid
