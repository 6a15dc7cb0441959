"""The docker-compose learning cluster's helpers (see docker-compose.yml and docs/compose.md).

Every compose service runs the same image; this module holds the little glue they need:

``init``
    One-shot, before anything else: the CA and the API server's certificate, one bearer
    token per identity, and a kubeconfig per component — two flavours, because some
    components live on the compose network (they reach ``https://apiserver:6443``) and
    some in the host's network namespace (kubelets, kube-proxy, dns: they reach the
    published ``https://127.0.0.1:$MINIK_APISERVER_PORT``). The admin's kubeconfig,
    ``<dir>/kubeconfig``, is the one for the host's kubectl. Writes ``<dir>/ready`` last.
``run -- ARGV``
    Wait until ``init`` has finished, then exec ``ARGV`` (every long-running service's
    entrypoint, so that start order never matters, even where ``depends_on`` conditions
    are not honoured, e.g. ``docker-compose run``).
``bootstrap``
    Wait for the API server, then create the ``kube-dns`` Service and its hand-made
    Endpoints (the same objects ``make up`` creates: :func:`minik.cluster.local.dns_objects`).
``cleanup``
    One-shot, on request (``docker-compose run --rm cleanup``, before ``down``): remove
    what lives on the host rather than in the compose project. It first stops the
    cluster's host-network services (the kubelets would restart the pods, kube-proxy would
    rewrite its rules), then removes kube-proxy's chains, routes and sysctls, the pod
    containers and volumes (by the cluster's owner label) and the pod network.
``kubeconfig``
    On the host: copy the admin kubeconfig out of the shared directory (default
    ``~/.minik/compose-kubeconfig``).

The shared directory (``$MINIK_COMPOSE_DIR``) is bind-mounted at the *same* path inside
every container: the kubelets create pod containers on the host's Docker with bind
mounts of files under their root dir, and Docker resolves those paths on the host.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from minik.cluster.credentials import COMPONENTS, ensure_tokens, write_kubeconfig
from minik.cluster.pki import (
    ensure_client_certificate,
    ensure_kubelet_certificates,
    ensure_pki,
    ensure_service_account_key,
)

IN_NETWORK_URL = "https://apiserver:6443"
DEFAULT_DIR = "/tmp/minik-compose"
DEFAULT_CLUSTER = "minik-compose"
#: Set on every container a kubelet creates (the node's name): tells pod containers apart
#: from the compose services, which carry the cluster label too.
NODE_LABEL = "io.minik.node"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def compose_dir(value: str | None = None) -> Path:
    return Path(value or _env("MINIK_COMPOSE_DIR", DEFAULT_DIR))


def host_url() -> str:
    """The API server as the host (and the host-network services) reach it."""
    return f"https://127.0.0.1:{_env('MINIK_APISERVER_PORT', '6443')}"


def check_settings(cluster_cidr: str, pod_gateway: str, service_cidr: str) -> None:
    """Fail early, with the fix, on settings docker-compose.yml cannot check itself."""
    try:
        cidr = ipaddress.IPv4Network(cluster_cidr)
        services = ipaddress.IPv4Network(service_cidr)
    except ValueError as exc:
        raise SystemExit(f"MINIK_CLUSTER_CIDR/MINIK_SERVICE_CIDR: {exc}") from None
    first = str(cidr.network_address + 1)
    if pod_gateway != first:
        raise SystemExit(
            f"MINIK_POD_GATEWAY={pod_gateway} must be the first address of MINIK_CLUSTER_CIDR={cluster_cidr} "
            f"(the pod bridge's gateway): set MINIK_POD_GATEWAY={first}"
        )
    if cidr.overlaps(services):
        raise SystemExit(f"MINIK_CLUSTER_CIDR={cluster_cidr} overlaps MINIK_SERVICE_CIDR={service_cidr}")


def init(directory: Path, server: str) -> None:
    service_cidr = _env("MINIK_SERVICE_CIDR", "10.96.0.0/12")
    check_settings(
        _env("MINIK_CLUSTER_CIDR", "10.244.0.0/16"), _env("MINIK_POD_GATEWAY", "10.244.0.1"), service_cidr
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ready").unlink(missing_ok=True)
    first_service_ip = str(ipaddress.IPv4Network(service_cidr).network_address + 1)
    ca, _crt, _key = ensure_pki(directory / "pki", extra_ips=(first_service_ip,), extra_names=("apiserver",))
    ensure_service_account_key(directory / "pki")
    admin_cert = ensure_client_certificate(directory / "pki", "admin", "admin", ("system:masters",))
    cluster = _env("MINIK_CLUSTER_NAME", "minik-compose")
    # Both kubelets serve on the pod bridge's gateway (host network), where the API server dials them.
    nodes = [f"{cluster}-node-1", f"{cluster}-node-2"]
    ensure_kubelet_certificates(directory / "pki", nodes, _env("MINIK_POD_GATEWAY", "10.244.0.1"))
    tokens = ensure_tokens(directory / "tokens.csv")
    write_kubeconfig(directory / "kubeconfig", server, ca, tokens["admin"], client_cert=admin_cert)
    for component in COMPONENTS:
        if component == "admin":
            continue
        user = f"system:minik:{component}"
        write_kubeconfig(
            directory / f"kubeconfig-{component}", IN_NETWORK_URL, ca, tokens[component], user=user
        )
        write_kubeconfig(directory / f"kubeconfig-{component}-host", server, ca, tokens[component], user=user)
    for sub in ("kubelet", "proxy"):
        (directory / sub).mkdir(exist_ok=True)
    (directory / "ready").write_text(str(time.time()))
    print(f"minik compose: credentials in {directory}; for the host: {directory / 'kubeconfig'}", flush=True)


def wait_ready(directory: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not (directory / "ready").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{directory}/ready did not appear: did the init service fail?")
        time.sleep(0.2)


def bootstrap(directory: Path, url: str) -> None:
    from minik.cluster import local

    wait_ready(directory)
    tokens = ensure_tokens(directory / "tokens.csv")
    api = local.API(url, directory / "pki" / "ca.crt", tokens["admin"])
    deadline = time.monotonic() + 180
    while not api.ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"the API server at {url} did not become ready")
        time.sleep(0.5)
    settings = local.Settings(
        home=directory,
        cluster_cidr=_env("MINIK_CLUSTER_CIDR", "10.244.0.0/16"),
        cluster_dns=_env("MINIK_CLUSTER_DNS", "10.96.0.10"),
        dns_port=int(_env("MINIK_DNS_PORT", "1053")),
    )
    for obj in local.dns_objects(settings):
        code = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code = api.apply(obj)
            if code in (200, 201):
                break
            time.sleep(1)  # e.g. kube-system not created yet
        else:
            raise SystemExit(f"could not create {obj['kind']} kube-system/kube-dns (HTTP {code})")
    print("minik compose: kube-system/kube-dns Service and Endpoints created", flush=True)


def cleanup(directory: Path, cluster: str) -> None:
    import docker
    import docker.errors

    from minik.cluster.local import OWNER_LABEL

    client = docker.from_env()
    # First stop what would put it all back: the kubelets restart pods, kube-proxy rewrites
    # its rules. Those are this cluster's compose services in the host's network (`down`
    # removes them afterwards); a one-off container (this one) is never among them.
    services = {"label": [f"{OWNER_LABEL}={cluster}", "com.docker.compose.service"]}
    for container in client.containers.list(filters=services):
        labels = container.labels
        if labels.get("com.docker.compose.oneoff") == "True" or labels.get(NODE_LABEL):
            continue
        if container.attrs.get("HostConfig", {}).get("NetworkMode") == "host":
            print(f"minik compose: stopping {container.name}", flush=True)
            with contextlib.suppress(docker.errors.NotFound):
                container.stop(timeout=10)
    subprocess.run(
        [sys.executable, "-m", "minik.proxy.main", "--cleanup", "--state-dir", str(directory / "proxy")],
        check=False,
    )
    owned = {"label": [f"{OWNER_LABEL}={cluster}", NODE_LABEL]}  # pods only, never the services
    removed = 0
    for container in client.containers.list(all=True, filters=owned):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    volumes = 0
    for volume in client.volumes.list(filters=owned):
        try:
            volume.remove(force=True)
            volumes += 1
        except docker.errors.APIError as exc:
            print(f"could not remove volume {volume.name}: {exc}", file=sys.stderr)
    for net in client.networks.list(names=[f"{cluster}-pods"]):
        if net.name != f"{cluster}-pods":  # the filter also matches prefixes
            continue
        try:
            net.remove()
        except docker.errors.APIError as exc:
            print(f"could not remove network {net.name}: {exc}", file=sys.stderr)
    print(
        f"minik compose: proxy rules removed; {removed} pod container(s), {volumes} volume(s) "
        f"and the pod network {cluster}-pods removed",
        flush=True,
    )


def copy_kubeconfig(directory: Path, out: Path) -> Path:
    src = directory / "kubeconfig"
    if not src.exists():
        raise SystemExit(f"{src} does not exist yet: is the compose cluster up (its init service done)?")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    out.chmod(0o600)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m minik.cluster.compose",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dir", default=None, help=f"the shared directory [MINIK_COMPOSE_DIR, {DEFAULT_DIR}]")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("init", help="certificates, tokens, kubeconfigs (one-shot)")
    i.add_argument(
        "--server",
        default=None,
        help="the URL in the host's kubeconfigs [https://127.0.0.1:$MINIK_APISERVER_PORT]",
    )
    r = sub.add_parser("run", help="wait for init, then exec the command after --")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    b = sub.add_parser("bootstrap", help="create the kube-dns Service and Endpoints (one-shot)")
    b.add_argument("--server", default=IN_NETWORK_URL)
    c = sub.add_parser(
        "cleanup", help="remove the proxy's host rules, the pods' containers, volumes, network"
    )
    c.add_argument("--cluster", default=_env("MINIK_CLUSTER_NAME", DEFAULT_CLUSTER))
    k = sub.add_parser("kubeconfig", help="copy the admin kubeconfig out for the host")
    k.add_argument("--out", default=str(Path.home() / ".minik" / "compose-kubeconfig"))
    return p


def main(argv: list[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    directory = compose_dir(args.dir)
    if args.command == "init":
        init(directory, args.server or host_url())
    elif args.command == "run":
        cmd = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not cmd:
            p.error("run: nothing to run (run -- COMMAND ...)")
        wait_ready(directory)
        sys.stdout.flush()
        os.execvp(cmd[0], cmd)
    elif args.command == "bootstrap":
        bootstrap(directory, args.server)
    elif args.command == "cleanup":
        cleanup(directory, args.cluster)
    else:
        print(copy_kubeconfig(directory, Path(args.out).expanduser()))


if __name__ == "__main__":
    main()
