"""How the API server talks to kubelets: its own credential, the node's endpoint, verified TLS.

``kubectl logs`` and ``kubectl exec`` reach a container through the API server, which
calls the pod's kubelet (:mod:`minik.apiserver.podproxy`). Three rules keep that call
from becoming a way to steal credentials or to talk to an impostor:

* **Its own credential, never the caller's.** The API server presents a client
  certificate of its own (``--kubelet-client-certificate``/``--kubelet-client-key``;
  the cluster tooling issues ``CN=kube-apiserver-kubelet-client``, whom the default RBAC
  policy binds to ``system:kubelet-api-admin``).
  Forwarding the caller's bearer token would hand it to whoever the Node object names:
  anyone allowed to register a Node could point it at their own listener and collect an
  administrator's token the next time they ran ``kubectl logs``. The caller was already
  authenticated and authorized (``pods/log``, ``pods/exec``) by the API server.
* **Only the node's registered endpoint**: ``https://<InternalIP>:<daemonEndpoints.
  kubeletEndpoint.Port>`` of the pod's Node (:func:`minik.apiserver.subresources.kubelet_endpoint`).
* **The kubelet proves who it is**: its serving certificate must chain to
  ``--kubelet-certificate-authority`` and name the address dialled. Without the flag
  minik uses the cluster CA (``--client-ca-file``), where upstream would skip the check;
  with neither, it refuses to call kubelets at all.
"""

from __future__ import annotations

import argparse
import ipaddress
import ssl

import httpx

from minik.api import errors


class KubeletClientConfig:
    """The flags above, and the TLS context built from them (once: loading files is slow)."""

    def __init__(self, certificate: str = "", key: str = "", authority: str = "") -> None:
        self.certificate = certificate
        self.key = key or certificate
        self.authority = authority
        self._context: ssl.SSLContext | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> KubeletClientConfig:
        return cls(
            args.kubelet_client_certificate,
            args.kubelet_client_key,
            args.kubelet_certificate_authority or args.client_ca_file,
        )

    def ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            if not self.authority:
                raise errors.service_unavailable(
                    "the API server cannot verify kubelets: start it with --kubelet-certificate-authority"
                )
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.authority)
            if self.certificate:
                context.load_cert_chain(self.certificate, self.key)
            self._context = context
        return self._context

    def client(self, timeout: httpx.Timeout) -> httpx.AsyncClient:
        """A client for one proxied request: verified TLS, our certificate, no headers of the caller."""
        return httpx.AsyncClient(verify=self.ssl_context(), timeout=timeout, trust_env=False)


def kubelet_url(address: str, port: int, path: str) -> str:
    try:
        host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        host = address
    return f"https://{host}:{port}{path}"
