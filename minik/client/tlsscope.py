"""Client certificates from the TLS handshake, handed to the app as ASGI's TLS extension.

The API server asks every client for a certificate (``ssl.CERT_OPTIONAL`` with the
``--client-ca-file`` loaded: a client may send none, and one it sends must chain to that
CA, or OpenSSL ends the handshake). The certificate then has to reach the request
handler -- but an ASGI app never sees the socket, only a ``scope`` dict.

ASGI defines a place for it, the *TLS extension* (``scope["extensions"]["tls"]``, with
``client_cert_chain``: the PEM certificates the client sent, leaf first). uvicorn (0.55,
the version minik runs on) does not fill it in: its protocol objects keep the transport
to themselves. So minik subclasses the two protocol classes it serves with -- httptools
for HTTP/1.1 and websockets-sansio for WebSocket upgrades (``kubectl exec``) -- and adds
the extension when each builds its scope. The transport's ``ssl_object`` is Python's
``ssl.SSLObject``, whose ``getpeercert(binary_form=True)`` is the verified leaf
certificate (DER). The protocol classes are uvicorn's ``http=`` and ``ws=`` options.

Reading the extension (``client_certificate``) needs nothing from uvicorn, so if a later
uvicorn fills the extension in itself, only this module's classes become unnecessary.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


def tls_extension(transport: asyncio.BaseTransport) -> dict[object, object] | None:
    """The ASGI ``tls`` extension for a connection; None if it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
    }


def client_certificate(scope: Scope) -> str:
    """The PEM of the certificate the client presented ("" if none): the chain's leaf."""
    extensions = scope.get("extensions") or {}
    chain = (extensions.get("tls") or {}).get("client_cert_chain") or ()
    return str(chain[0]) if chain else ""


class TLSScopeMixin:
    """Put the TLS extension in every request's scope; mixed into an httptools protocol.

    It lives in the client layer because two servers need it: the API server (which mixes
    it into its deadline-keeping protocol, ``apiserver/authn/tls.py``) and the kubelet.
    """

    _tls: dict[object, object] | None = None
    scope: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._tls = tls_extension(transport)  # one handshake per connection: read it once

    def on_message_begin(self) -> None:
        super().on_message_begin()  # type: ignore[misc]
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}


class HttpProtocol(TLSScopeMixin, HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the TLS extension in every request's scope."""


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, plus the TLS extension (``kubectl exec`` with a certificate)."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        tls = tls_extension(self.transport)
        scope = getattr(self, "scope", None)
        if tls is not None and scope is not None:
            scope.setdefault("extensions", {})["tls"] = tls
