"""Kubeconfig loading: from a file (or flags) to a :class:`ClientConfig`.

A kubeconfig names *clusters* (a server URL and how to trust it), *users* (how
to authenticate) and *contexts* (a cluster + a user + a default namespace); the
``current-context`` picks one. minik reads the parts its API server uses:

* cluster ``server``, ``certificate-authority-data`` (base64 PEM) or
  ``certificate-authority`` (a file), ``insecure-skip-tls-verify``;
* user ``token`` or ``tokenFile`` (a bearer token);
* context ``namespace``.

Relative file paths are resolved against the kubeconfig's own directory, as
kubectl does. Client certificates, exec plugins and auth providers are not
supported and are rejected with a message saying so, rather than silently
ignored (a request without credentials fails much later and less clearly).

Where to look, first match wins: an explicit path, ``$KUBECONFIG`` (the first
existing file of the list), ``$MINIK_HOME/kubeconfig`` (``~/.minik`` by
default; ``make up`` writes it), ``~/.kube/config``.

Every component also takes flags (``--server``, ``--token``, ...); flags given
override what the kubeconfig says, see :meth:`ClientConfig.from_flags`.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig is missing, malformed, or asks for something unsupported."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything :class:`~minik.client.rest.APIClient` needs to reach a server.

    ``ca_data`` is PEM bytes; ``verify=False`` skips TLS verification
    (``insecure-skip-tls-verify``). ``namespace`` is the context's default,
    which tools like ``minikctl`` use when no namespace is given; the client
    itself never guesses a namespace.
    """

    server: str
    ca_data: bytes | None = None
    token: str | None = None
    verify: bool = True
    namespace: str = "default"

    def __post_init__(self) -> None:
        if not self.server.startswith(("https://", "http://")):
            raise KubeconfigError(f"server {self.server!r} must be an http:// or https:// URL")

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What to hand httpx as ``verify``: a context trusting ``ca_data``,
        ``False`` when verification is off, ``True`` for the system store."""
        if not self.verify:
            return False
        if self.ca_data:
            try:
                return ssl.create_default_context(cadata=self.ca_data.decode("ascii"))
            except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
                raise KubeconfigError(f"certificate authority data is not a PEM certificate: {exc}") from exc
        return True

    @classmethod
    def from_flags(
        cls,
        *,
        server: str | None = None,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        certificate_authority: str | os.PathLike[str] | None = None,
        insecure_skip_tls_verify: bool | None = None,
        namespace: str | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ) -> ClientConfig:
        """Build a config from command-line flags, over a kubeconfig if needed.

        With ``server`` the flags alone describe the connection (no file is
        read unless ``kubeconfig`` is passed explicitly). Without it the
        kubeconfig is loaded and any flag that was given overrides its value.
        """
        if server is not None and kubeconfig is None:
            base = cls(server=server)
        else:
            base = load_kubeconfig(kubeconfig, context=context)
            if server is not None:
                base = replace(base, server=server)
        if certificate_authority is not None:
            base = replace(base, ca_data=_read_file(Path(certificate_authority), "certificate authority"))
        if token_file is not None:
            base = replace(base, token=_read_token(Path(token_file)))
        if token is not None:
            base = replace(base, token=token)
        if insecure_skip_tls_verify is not None:
            base = replace(base, verify=not insecure_skip_tls_verify)
        if namespace is not None:
            base = replace(base, namespace=namespace)
        return base


def minik_home() -> Path:
    """``$MINIK_HOME``, or ``~/.minik``."""
    return Path(os.environ.get("MINIK_HOME") or Path.home() / ".minik")


def default_kubeconfig_path() -> Path:
    """Where :func:`load_kubeconfig` looks when given no path (see module docs)."""
    env = os.environ.get("KUBECONFIG")
    if env:
        candidates = [Path(p) for p in env.split(os.pathsep) if p]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        if candidates:
            return candidates[0]
    minik = minik_home() / "kubeconfig"
    if minik.is_file():
        return minik
    return Path.home() / ".kube" / "config"


def load_kubeconfig(
    path: str | os.PathLike[str] | None = None, *, context: str | None = None
) -> ClientConfig:
    """Read a kubeconfig file and resolve ``context`` (default: the current one)."""
    file = Path(path) if path is not None else default_kubeconfig_path()
    try:
        text = file.read_text()
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {file}: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {file} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {file} is not a mapping")
    return parse_kubeconfig(doc, context=context, base_dir=file.parent, source=str(file))


def parse_kubeconfig(
    doc: dict[str, Any],
    *,
    context: str | None = None,
    base_dir: Path | None = None,
    source: str = "kubeconfig",
) -> ClientConfig:
    """Resolve an already-decoded kubeconfig document (see :func:`load_kubeconfig`)."""
    base = base_dir or Path.cwd()
    context_name = context or doc.get("current-context")
    if not context_name:
        raise KubeconfigError(f"{source}: no context given and current-context is not set")
    ctx = _named(doc, "contexts", "context", str(context_name), source)
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeconfigError(f"{source}: context {context_name!r} names no cluster")
    cluster = _named(doc, "clusters", "cluster", str(cluster_name), source)
    user_name = ctx.get("user")
    user = _named(doc, "users", "user", str(user_name), source) if user_name else {}

    server = cluster.get("server")
    if not server or not isinstance(server, str):
        raise KubeconfigError(f"{source}: cluster {cluster_name!r} has no server")

    ca_data: bytes | None = None
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeconfigError(
                f"{source}: cluster {cluster_name!r}: certificate-authority-data is not base64: {exc}"
            ) from exc
    elif cluster.get("certificate-authority"):
        ca_data = _read_file(_resolve(base, str(cluster["certificate-authority"])), "certificate-authority")

    unsupported = [
        k for k in ("client-certificate", "client-certificate-data", "exec", "auth-provider") if user.get(k)
    ]
    token: str | None = None
    if user.get("token"):
        token = str(user["token"])
    elif user.get("tokenFile"):
        token = _read_token(_resolve(base, str(user["tokenFile"])))
    elif unsupported:
        raise KubeconfigError(
            f"{source}: user {user_name!r} uses {', '.join(unsupported)}, which minik does not support; "
            "use a bearer token (token or tokenFile)"
        )

    return ClientConfig(
        server=server.rstrip("/"),
        ca_data=ca_data,
        token=token,
        verify=not bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=str(ctx.get("namespace") or "default"),
    )


def _named(doc: dict[str, Any], section: str, field: str, name: str, source: str) -> dict[str, Any]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"{source}: {section} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(field) or {}
            if not isinstance(body, dict):
                raise KubeconfigError(f"{source}: {section} entry {name!r} has no {field} mapping")
            return body
    known = ", ".join(repr(e.get("name")) for e in entries if isinstance(e, dict)) or "none"
    raise KubeconfigError(f"{source}: no {field} named {name!r} (known: {known})")


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KubeconfigError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc


def _read_token(path: Path) -> str:
    token = _read_file(path, "token").decode("utf-8", errors="replace").strip()
    if not token:
        raise KubeconfigError(f"token file {path} is empty")
    return token
