"""The local cluster: ``make up`` / ``make down`` / ``minikctl cluster status``.

Everything lives under ``$MINIK_HOME`` (default ``~/.minik``)::

    pki/            cluster CA and the apiserver's serving certificate
    tokens.csv      bearer tokens (admin + one per component)
    kubeconfig      admin kubeconfig: kubectl --kubeconfig ~/.minik/kubeconfig get ns
    etcd/           etcd's data directory
    logs/<name>.log each component's log
    run/<name>.pid  each component's process id

Components run as background processes; ``up`` is idempotent (a second call
reports what already runs) and ``down`` stops them all. So far the cluster is
etcd and the API server; later components join the same list.
"""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from minik.cluster.credentials import ensure_tokens, write_kubeconfig
from minik.cluster.etcd_process import start_etcd, wait_for_port
from minik.cluster.pki import ensure_pki


def minik_home() -> Path:
    return Path(os.environ.get("MINIK_HOME", Path.home() / ".minik")).expanduser()


@dataclass
class Layout:
    home: Path

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def tokens(self) -> Path:
        return self.home / "tokens.csv"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def _running_pid(layout: Layout, name: str) -> int | None:
    path = layout.pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _wait(what: str, check: object, timeout: float) -> None:
    """Wait for ``check()`` with a visible spinner, never a silent pause."""
    frames = "|/-\\"
    deadline = time.monotonic() + timeout
    i = 0
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            print(f"\r    {what}: ready   ", flush=True)
            return
        print(f"\r    {what}: waiting {frames[i % 4]}", end="", flush=True)
        i += 1
        time.sleep(0.2)
    print()
    raise SystemExit(f"{what} did not become ready within {timeout:.0f}s")


def _apiserver_ready(url: str, ca: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(f"{url}/readyz", context=context, timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def up(args: argparse.Namespace) -> None:
    layout = Layout(minik_home())
    for d in (layout.home, layout.logs, layout.run):
        d.mkdir(parents=True, exist_ok=True)
    ca, crt, key = ensure_pki(layout.pki)
    tokens = ensure_tokens(layout.tokens)
    url = f"https://127.0.0.1:{args.apiserver_port}"
    write_kubeconfig(layout.kubeconfig, url, ca, tokens["admin"])

    if _running_pid(layout, "etcd"):
        _say(f"etcd already running (pid {_running_pid(layout, 'etcd')})")
    else:
        _say(f"starting etcd on 127.0.0.1:{args.etcd_port} (data in {layout.home / 'etcd'})")
        proc = start_etcd(layout.home / "etcd", client_port=args.etcd_port, peer_port=args.etcd_port + 1,
                          log_file=layout.log_file("etcd"))
        layout.pid_file("etcd").write_text(str(proc.pid))
        wait_for_port(args.etcd_port)

    if _running_pid(layout, "apiserver"):
        _say(f"apiserver already running (pid {_running_pid(layout, 'apiserver')})")
    else:
        _say(f"starting minik-apiserver on {url}")
        with open(layout.log_file("apiserver"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "minik.apiserver.main",
                 "--etcd-servers", f"http://127.0.0.1:{args.etcd_port}",
                 "--secure-port", str(args.apiserver_port),
                 "--tls-cert-file", str(crt), "--tls-private-key-file", str(key),
                 "--token-auth-file", str(layout.tokens)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        layout.pid_file("apiserver").write_text(str(proc.pid))
    _wait("apiserver", lambda: _apiserver_ready(url, ca), 60)
    print(f"""
minik is up: etcd + the API server.

  kubeconfig: {layout.kubeconfig}
  logs:       {layout.logs}/

Try:
  export KUBECONFIG={layout.kubeconfig}
  .venv/bin/kubectl get namespaces
  .venv/bin/kubectl create configmap hello --from-literal=greeting=hi
  .venv/bin/kubectl get configmap hello -o yaml
  .venv/bin/python -m minik.cluster.local status

Stop it with: make down
""")


def down(args: argparse.Namespace) -> None:
    layout = Layout(minik_home())
    for name in ("apiserver", "etcd"):
        pid = _running_pid(layout, name)
        if pid is None:
            _say(f"{name}: not running")
            continue
        _say(f"stopping {name} (pid {pid})")
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running_pid(layout, name):
            time.sleep(0.1)
        if _running_pid(layout, name):
            os.killpg(pid, signal.SIGKILL)
        layout.pid_file(name).unlink(missing_ok=True)
    if getattr(args, "purge", False):
        import shutil

        shutil.rmtree(layout.home / "etcd", ignore_errors=True)
        _say("removed etcd data")


def status(args: argparse.Namespace) -> None:
    layout = Layout(minik_home())
    url = f"https://127.0.0.1:{args.apiserver_port}"
    for name in ("etcd", "apiserver"):
        pid = _running_pid(layout, name)
        health = "not running"
        if pid:
            health = "running"
            if name == "apiserver":
                health = "ready" if _apiserver_ready(url, layout.pki / "ca.crt") else "running, not ready"
        print(f"{name:<12} {health:<20} {'pid ' + str(pid) if pid else ''}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="minik-cluster", description="Run a local minik cluster.")
    parser.add_argument("--apiserver-port", type=int, default=int(os.environ.get("MINIK_APISERVER_PORT", "6443")))
    parser.add_argument("--etcd-port", type=int, default=int(os.environ.get("MINIK_ETCD_PORT", "2379")))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the cluster (idempotent)")
    d = sub.add_parser("down", help="stop everything `up` started")
    d.add_argument("--purge", action="store_true", help="also delete etcd's data")
    sub.add_parser("status", help="show each component's health")
    args = parser.parse_args(argv)
    {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    main()
