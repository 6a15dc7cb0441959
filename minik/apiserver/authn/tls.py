"""The API server's HTTP protocol: connection deadlines plus the client certificate.

uvicorn takes one protocol class (its ``http=`` option). The API server needs two
things from it: the header and body deadlines of ``deadlines.py`` and the TLS extension
in each request's scope (``minik/client/tlsscope.py`` explains why uvicorn needs help
there). This class is both.
"""

from __future__ import annotations

from minik.apiserver.deadlines import DeadlineHttpToolsProtocol
from minik.client.tlsscope import TLSScopeMixin, WebSocketProtocol, client_certificate, tls_extension


class HttpProtocol(TLSScopeMixin, DeadlineHttpToolsProtocol):
    """The server's HTTP protocol: deadlines (``deadlines.py``) and the TLS extension."""


__all__ = ["HttpProtocol", "WebSocketProtocol", "client_certificate", "tls_extension"]
