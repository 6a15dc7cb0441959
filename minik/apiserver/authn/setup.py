"""The authenticator chain the API server's flags describe.

=====================================  ==================================================
``--client-ca-file``                   accept client certificates signed by this CA
``--token-auth-file``                  accept the static tokens of this file
``--service-account-signing-key-file`` sign TokenRequest tokens with this private key
``--service-account-key-file``         accept ServiceAccount tokens signed by these keys
                                       (default: the signing key's public half)
``--service-account-issuer``           the ``iss`` of the tokens it signs and accepts
``--api-audiences``                    the audiences a token must name (default: the issuer)
=====================================  ==================================================

With none of the credential flags the API server authenticates nobody and serves
everyone (for tests only; ``make up`` always passes them).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from minik.apiserver.auth import TokenAuthenticator as TokenFile
from minik.apiserver.authn.chain import Authenticator, StaticTokens, TokenAuthenticator
from minik.apiserver.authn.serviceaccount import (
    Lookup,
    Obj,
    ServiceAccountTokenAuthenticator,
    TokenIssuer,
    load_signing_key,
    load_verification_key,
)
from minik.apiserver.registry import Registry
from minik.apiserver.watchcache import WatchCache
from minik.client.certauth import ClientCertAuthenticator


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build(args: argparse.Namespace, lookup: Lookup) -> tuple[Authenticator | None, TokenIssuer | None]:
    """The chain and the token issuer of these flags (None, None: no authentication at all)."""
    issuer_name = args.service_account_issuer
    audiences = _list(args.api_audiences) or [issuer_name]
    issuer = None
    if args.service_account_signing_key_file:
        issuer = TokenIssuer(load_signing_key(args.service_account_signing_key_file), issuer_name)
    keys = [load_verification_key(path) for path in _list(args.service_account_key_file)]
    if not keys and issuer is not None:
        keys = [issuer.key.public_key()]
    tokens: list[TokenAuthenticator] = []
    if args.token_auth_file:
        tokens.append(StaticTokens(TokenFile.from_file(args.token_auth_file), audiences))
    if keys:
        tokens.append(ServiceAccountTokenAuthenticator(keys, [issuer_name], lookup))
    certs = ClientCertAuthenticator.from_file(args.client_ca_file) if args.client_ca_file else None
    if not tokens and certs is None:
        return None, issuer
    return Authenticator(api_audiences=audiences, client_certs=certs, tokens=tokens), issuer


def watch_cache_lookup(registry: Registry, cache: Callable[[], WatchCache | None]) -> Lookup:
    """Read core objects by kind, namespace and name from the watch cache (a dict lookup)."""
    by_kind = {rt.kind: rt for rt in registry if rt.group == ""}

    def lookup(kind: str, namespace: str, name: str) -> Obj | None:
        current = cache()
        rt = by_kind.get(kind)
        if current is None or rt is None:
            return None
        entry = current.cache(rt).objects.get(f"{namespace}/{name}" if rt.namespaced else name)
        return entry.obj if entry is not None else None

    return lookup
