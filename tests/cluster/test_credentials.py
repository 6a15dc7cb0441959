"""minik.cluster.credentials: the token file the API server reads and the kubeconfigs clients read."""

from __future__ import annotations

import base64
import csv
import stat
from pathlib import Path

import yaml

from minik.apiserver.auth import TokenAuthenticator, User
from minik.client.kubeconfig import load_kubeconfig
from minik.cluster.credentials import COMPONENTS, ensure_tokens, write_kubeconfig
from minik.cluster.pki import ensure_pki


def test_one_token_per_identity_in_upstreams_format(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.csv"
    tokens = ensure_tokens(path)
    assert set(tokens) == set(COMPONENTS)
    assert len(set(tokens.values())) == len(COMPONENTS)  # every identity its own secret
    assert all(len(t) >= 40 and "," not in t for t in tokens.values())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.reader(path.read_text().splitlines()))
    assert len(rows) == len(COMPONENTS)
    by_user = {row[1]: row for row in rows}
    assert set(by_user) == {"admin", *(f"system:minik:{c}" for c in COMPONENTS if c != "admin")}
    assert by_user["admin"][0] == tokens["admin"] and by_user["admin"][3] == "system:masters"
    assert by_user["system:minik:kubelet"][0] == tokens["kubelet"]
    assert by_user["system:minik:kubelet"][3] == "system:minik"
    uids = [row[2] for row in rows]
    assert len(set(uids)) == len(uids) and all(u.isdigit() for u in uids)


def test_the_api_servers_authenticator_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    tokens = ensure_tokens(path)
    auth = TokenAuthenticator.from_file(path)
    admin = auth.user_for(tokens["admin"])
    assert admin is not None and admin.name == "admin" and admin.groups == ("system:masters",)
    scheduler = auth.user_for(tokens["scheduler"])
    assert isinstance(scheduler, User)
    assert scheduler.name == "system:minik:scheduler" and scheduler.groups == ("system:minik",)
    assert auth.user_for("not-a-token") is None


def test_existing_tokens_are_kept_and_missing_ones_added(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    first = ensure_tokens(path, identities=("admin", "kubelet"))
    assert set(first) == {"admin", "kubelet"}
    text = path.read_text()
    assert ensure_tokens(path, identities=("admin", "kubelet")) == first
    assert path.read_text() == text  # nothing to add: the file is not rewritten differently
    more = ensure_tokens(path, identities=("admin", "kubelet", "dns"))
    assert more["admin"] == first["admin"] and more["kubelet"] == first["kubelet"]
    assert set(more) == {"admin", "kubelet", "dns"}
    dns = TokenAuthenticator.from_file(path).user_for(more["dns"])
    assert dns is not None and (dns.name, dns.groups) == ("system:minik:dns", ("system:minik",))


def test_kubeconfig_carries_server_ca_and_token(tmp_path: Path) -> None:
    ca, _, _ = ensure_pki(tmp_path / "pki")
    path = write_kubeconfig(
        tmp_path / "out" / "kubeconfig-dns", "https://127.0.0.1:6443", ca, "secret", user="system:minik:dns"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "minik"
    assert doc["users"] == [{"name": "system:minik:dns", "user": {"token": "secret"}}]
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443"
    assert config.token == "secret"
    assert config.ca_data == ca.read_bytes()
    assert config.namespace == "default"
