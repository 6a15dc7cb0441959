"""The authenticator chain: who sent this request?

Each authenticator looks at one kind of credential and either names a user or passes;
the first that names one wins (upstream's *union* authenticator)::

    request ──► client certificate? ──► x509: signed by --client-ca-file?  ──► user
                     │ no / not valid
                     ▼
                bearer token? ──► static token file (--token-auth-file)     ──► user
                     │              │ unknown
                     │              ▼
                     │           ServiceAccount JWT (--service-account-key-file) ──► user
                     ▼ none of them
                   401 Unauthorized

Whoever it is also joins ``system:authenticated``. The same chain answers TokenReview
(``authn/endpoints.py``): "whose is this token, for these audiences?".

*Audiences.* A ServiceAccount token names the audiences it was issued for; the API server
accepts those made for one of its own (``--api-audiences``). A static token names none:
it is valid for the API server's audiences only (upstream's "audience-agnostic" tokens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from starlette.types import Scope

from minik.api.identity import UserInfo
from minik.apiserver.auth import TokenAuthenticator as TokenFile
from minik.apiserver.auth import User
from minik.apiserver.authn.serviceaccount import TokenResult
from minik.client.certauth import ClientCertAuthenticator
from minik.client.tlsscope import client_certificate


class TokenAuthenticator(Protocol):
    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None: ...


class StaticTokens:
    """``--token-auth-file`` tokens, valid for the API server's own audiences.

    The answer for each user is made once: the same few users ask all the time.
    """

    def __init__(self, tokens: TokenFile, api_audiences: Sequence[str]) -> None:
        self._tokens = tokens
        self._api_audiences = tuple(api_audiences)
        self._answers: dict[User, TokenResult] = {}

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        found = self._tokens.user_for(token)
        if found is None:
            return None
        answer = self._answers.get(found)
        if answer is None:
            user = UserInfo.of(found.name, found.groups, found.uid).authenticated()
            answer = self._answers[found] = TokenResult(user, self._api_audiences)
        if audiences == self._api_audiences:  # a request to the API server: the common case
            return answer
        granted = tuple(a for a in audiences if a in self._api_audiences)
        return TokenResult(answer.user, granted) if granted or not audiences else None


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of ``Authorization: Bearer <token>``, or ""."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Authenticator:
    def __init__(
        self,
        *,
        api_audiences: Sequence[str],
        client_certs: ClientCertAuthenticator | None = None,
        tokens: Sequence[TokenAuthenticator] = (),
    ) -> None:
        self.api_audiences = tuple(api_audiences)
        self.client_certs = client_certs
        self.tokens = list(tokens)

    def authenticate(self, scope: Scope, headers: Mapping[str, str]) -> UserInfo | None:
        """The user a request comes from (in ``system:authenticated``), or None: answer 401."""
        if self.client_certs is not None:
            user = self.client_certs.authenticate(client_certificate(scope))
            if user is not None:
                return user.authenticated()
        token = bearer_token(headers)
        if token:
            result = self.authenticate_token(token, self.api_audiences)
            if result is not None:
                return result.user
        return None

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult | None:
        """Whose token this is, if it is valid for one of ``audiences`` (TokenReview asks this too)."""
        for authenticator in self.tokens:
            result = authenticator.authenticate_token(token, audiences)
            if result is not None:
                user = result.user.authenticated()
                return result if user is result.user else TokenResult(user, result.audiences)
        return None
