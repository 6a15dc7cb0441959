"""minik.cluster.compose: the settings check, what ``init`` writes, ``run``'s wait, ``kubeconfig``.

``bootstrap`` and ``cleanup`` need the compose cluster itself (tests/compose covers them).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from minik.apiserver.auth import TokenAuthenticator
from minik.client.kubeconfig import load_kubeconfig
from minik.cluster import compose
from minik.cluster.credentials import COMPONENTS


def test_default_settings_pass_the_check() -> None:
    compose.check_settings("10.244.0.0/16", "10.244.0.1", "10.96.0.0/12")


def test_a_gateway_that_is_not_the_first_address_names_the_fix() -> None:
    with pytest.raises(SystemExit, match=r"MINIK_POD_GATEWAY=10\.50\.0\.1$") as info:
        compose.check_settings("10.50.0.0/16", "10.244.0.1", "10.96.0.0/12")
    assert "must be the first address of MINIK_CLUSTER_CIDR=10.50.0.0/16" in str(info.value)


def test_overlapping_pod_and_service_ranges_are_refused() -> None:
    with pytest.raises(SystemExit, match=r"overlaps MINIK_SERVICE_CIDR=10\.96\.0\.0/12"):
        compose.check_settings("10.100.0.0/16", "10.100.0.1", "10.96.0.0/12")


def test_a_malformed_range_is_refused_with_its_variable() -> None:
    with pytest.raises(SystemExit, match="MINIK_CLUSTER_CIDR/MINIK_SERVICE_CIDR"):
        compose.check_settings("10.244.0.0/33", "10.244.0.1", "10.96.0.0/12")


def test_directory_and_host_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINIK_COMPOSE_DIR", raising=False)
    monkeypatch.delenv("MINIK_APISERVER_PORT", raising=False)
    assert compose.compose_dir() == Path(compose.DEFAULT_DIR)
    assert compose.host_url() == "https://127.0.0.1:6443"
    monkeypatch.setenv("MINIK_COMPOSE_DIR", "/srv/minik")
    monkeypatch.setenv("MINIK_APISERVER_PORT", "16443")
    assert compose.compose_dir() == Path("/srv/minik")
    assert compose.compose_dir("/explicit") == Path("/explicit")  # --dir wins
    assert compose.host_url() == "https://127.0.0.1:16443"


@pytest.fixture()
def initialised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("MINIK_SERVICE_CIDR", "MINIK_CLUSTER_CIDR", "MINIK_POD_GATEWAY"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "shared"
    compose.main(["--dir", str(directory), "init", "--server", "https://127.0.0.1:16443"])
    return directory


def test_init_writes_credentials_for_both_networks(initialised: Path) -> None:
    d = initialised
    assert (d / "ready").exists()
    assert (d / "kubelet").is_dir() and (d / "proxy").is_dir()
    tokens = TokenAuthenticator.from_file(d / "tokens.csv")
    admin = load_kubeconfig(d / "kubeconfig")
    assert admin.server == "https://127.0.0.1:16443"
    assert admin.ca_data == (d / "pki" / "ca.crt").read_bytes()
    user = tokens.user_for(admin.token or "")
    assert user is not None and user.name == "admin"
    for component in COMPONENTS:
        if component == "admin":
            continue
        inside = load_kubeconfig(d / f"kubeconfig-{component}")
        host = load_kubeconfig(d / f"kubeconfig-{component}-host")
        assert inside.server == compose.IN_NETWORK_URL
        assert host.server == "https://127.0.0.1:16443"
        assert inside.token == host.token
        who = tokens.user_for(inside.token or "")
        assert who is not None and who.name == f"system:minik:{component}"
        doc = yaml.safe_load((d / f"kubeconfig-{component}").read_text())
        assert doc["users"][0]["name"] == f"system:minik:{component}"


def test_init_certificate_names_the_compose_service_and_first_service_ip(initialised: Path) -> None:
    from cryptography import x509

    crt = x509.load_pem_x509_certificate((initialised / "pki" / "apiserver.crt").read_bytes())
    sans = crt.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "apiserver" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.96.0.1"]


def test_init_issues_the_kubelet_api_certificates(initialised: Path) -> None:
    """Each kubelet's serving certificate names the pod gateway, where the API server dials it;
    the API server's kubelet-client certificate exists; docker-compose.yml passes them."""
    from cryptography import x509

    for node in ("minik-compose-node-1", "minik-compose-node-2"):
        crt = x509.load_pem_x509_certificate((initialised / "pki" / f"kubelet-{node}.crt").read_bytes())
        sans = crt.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "10.244.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    assert (initialised / "pki" / "apiserver-kubelet-client.key").exists()
    spec = (Path(__file__).parents[2] / "docker-compose.yml").read_text()
    assert spec.count("--client-ca-file $$MINIK_COMPOSE_DIR/pki/ca.crt") == 3  # the apiserver, 2 kubelets
    assert "--kubelet-client-certificate $$MINIK_COMPOSE_DIR/pki/apiserver-kubelet-client.crt" in spec
    assert "pki/kubelet-$${MINIK_CLUSTER_NAME}-node-2.crt" in spec


def test_init_again_keeps_tokens_and_the_ca(initialised: Path) -> None:
    before = {p: p.read_bytes() for p in (initialised / "tokens.csv", initialised / "pki" / "ca.crt")}
    compose.init(initialised, "https://127.0.0.1:16443")
    assert {p: p.read_bytes() for p in before} == before


def test_init_checks_the_settings_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK_CLUSTER_CIDR", "10.96.0.0/16")  # inside the service range
    monkeypatch.setenv("MINIK_POD_GATEWAY", "10.96.0.1")
    with pytest.raises(SystemExit, match="overlaps"):
        compose.init(tmp_path / "shared", "https://127.0.0.1:6443")
    assert not (tmp_path / "shared").exists()


def test_wait_ready_gives_up_naming_init(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="did the init service fail"):
        compose.wait_ready(tmp_path, timeout=0.3)


def test_copy_kubeconfig(initialised: Path, tmp_path: Path) -> None:
    out = compose.copy_kubeconfig(initialised, tmp_path / "home" / ".minik" / "compose-kubeconfig")
    assert out.read_bytes() == (initialised / "kubeconfig").read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SystemExit, match="is the compose cluster up"):
        compose.copy_kubeconfig(tmp_path / "nothing", tmp_path / "out")


def run_compose(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minik.cluster.compose", *argv], capture_output=True, text=True, timeout=60
    )


def test_run_waits_for_init_then_execs(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "minik.cluster.compose", "--dir", str(shared), "run", "--", "echo", "hello"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # the command must not run before init has finished
        assert proc.poll() is None
        (shared / "ready").write_text("now")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0 and out == "hello\n"


def test_run_without_a_command_is_a_usage_error(tmp_path: Path) -> None:
    done = run_compose("--dir", str(tmp_path), "run")
    assert done.returncode == 2 and "nothing to run" in done.stderr
