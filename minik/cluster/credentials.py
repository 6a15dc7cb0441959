"""Bearer tokens and kubeconfig files.

Setup writes one token per identity (the admin, and one per component) into a
token file the API server reads, and a kubeconfig per identity that carries the
server URL, the cluster CA and the token: the file ``kubectl --kubeconfig`` and
``kubernetes.config.load_kube_config`` read as they are. The admin's kubeconfig also
carries a client certificate (``CN=admin, O=system:masters``, ``pki.py``), which the
API server checks first; the token stays beside it for clients that only speak tokens.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import yaml

COMPONENTS = ("admin", "controller-manager", "scheduler", "kubelet", "proxy", "dns")


def ensure_tokens(path: Path, identities: tuple[str, ...] = COMPONENTS) -> dict[str, str]:
    """Read the token file, adding a fresh token for any identity that lacks one."""
    tokens: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(",")
            if len(parts) >= 3:
                tokens[parts[1].removeprefix("system:minik:")] = parts[0]
    changed = False
    for ident in identities:
        if ident not in tokens:
            tokens[ident] = secrets.token_urlsafe(32)
            changed = True
    if changed or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for i, (ident, token) in enumerate(sorted(tokens.items())):
            user = "admin" if ident == "admin" else f"system:minik:{ident}"
            groups = '"system:masters"' if ident == "admin" else '"system:minik"'
            lines.append(f"{token},{user},{1000 + i},{groups}")
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    return tokens


def kubeconfig(
    server: str,
    ca_pem: bytes,
    token: str,
    user: str = "admin",
    client_cert: tuple[bytes, bytes] | None = None,
) -> dict[str, object]:
    """A kubeconfig for one identity: a bearer token and/or a client certificate (PEM, key PEM)."""
    credentials: dict[str, str] = {}
    if client_cert is not None:
        credentials["client-certificate-data"] = base64.b64encode(client_cert[0]).decode()
        credentials["client-key-data"] = base64.b64encode(client_cert[1]).decode()
    if token:
        credentials["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "minik",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "minik", "context": {"cluster": "minik", "user": user}}],
        "current-context": "minik",
        "preferences": {},
    }


def write_kubeconfig(
    path: Path,
    server: str,
    ca_file: Path,
    token: str,
    user: str = "admin",
    client_cert: tuple[Path, Path] | None = None,
) -> Path:
    """Write a kubeconfig; ``client_cert`` is (certificate, key) files to embed."""
    pems = (client_cert[0].read_bytes(), client_cert[1].read_bytes()) if client_cert else None
    path.parent.mkdir(parents=True, exist_ok=True)
    config = kubeconfig(server, ca_file.read_bytes(), token, user, pems)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
