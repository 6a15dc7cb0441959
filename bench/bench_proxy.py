"""kube-proxy benchmark: first full sync and network programming latency, per mode.

Run as root: ``.venv/bin/python bench/bench_proxy.py [--sizes 1000,5000,10000] [--changes 5]``.

For each size N (Services x 3 endpoints, fake EndpointSlices, no pods) and each mode it
creates a scratch network namespace (nothing leaves it; it is deleted afterwards) and prints:

* ``first sync``: time for the applier's first full sync (trap + all rules) of N services;
* ``restore``: in the same run, one plain ``iptables-restore --noflush`` (iptables) or
  ``nft -f`` (nftables) of the very same full ruleset into an empty namespace — the
  baseline every full sync pays on this backend;
* ``change p50/max``: network programming latency — from an EndpointSlice event (one
  endpoint replaced in one Service) to the rules being in the kernel: ChangeTracker.take()
  + the applier's partial sync, over ``--changes`` events;
* ``raw p50`` (nftables): the kernel-side floor, measured against the same loaded table
  after the applier's changes: the very same kind of one-endpoint delta applied by a plain
  ``ip netns exec … nft -f -`` process (what the applier did before it used libnftables).

Bars (issue 7): one change at 10k services <= 500 ms in iptables mode, <= 100 ms in nftables.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minik.proxy.hostexec import Runner
from minik.proxy.iptables import IptablesConfig, full_restore, render_ruleset
from minik.proxy.iptables_applier import IptablesApplier
from minik.proxy.model import ChangeTracker
from minik.proxy.nftables import NftConfig, compute_delta, render_service_port, render_table
from minik.proxy.nftables_applier import NftablesApplier
from minik.proxy.safety import Trap


@contextmanager
def scratch_netns() -> Iterator[Runner]:
    name = f"minik-bench-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield Runner(netns=name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _ip(base: int, i: int) -> str:
    return f"10.{base + i // 65536}.{(i // 256) % 256}.{i % 256}"


def fake_service(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"svc-{i}", "namespace": "bench"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": _ip(96, i),
            "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
        },
    }


def fake_slice(i: int, generation: int = 0) -> dict[str, Any]:
    eps = [_ip(200 + e, i + generation * 7919 * (e == 2)) for e in range(3)]
    return {
        "metadata": {
            "name": f"svc-{i}-x",
            "namespace": "bench",
            "labels": {"kubernetes.io/service-name": f"svc-{i}"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "node-a"} for ip in eps],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
    }


def tracker_for(n: int) -> ChangeTracker:
    tracker = ChangeTracker("node-a", ["192.168.0.1"])
    for i in range(n):
        tracker.service_updated(fake_service(i))
        tracker.slice_updated(fake_slice(i))
    return tracker


def measure(
    n: int, changes: int, make: Callable[[Runner, Path], Any]
) -> tuple[float, list[float], list[float]]:
    """(first sync, change latencies, raw ``nft -f`` latencies of the same kind of delta)."""
    tracker = tracker_for(n)
    model = tracker.take().model
    raw: list[float] = []
    with scratch_netns() as runner, tempfile.TemporaryDirectory() as tmp:
        applier = make(runner, Path(tmp))
        t0 = time.perf_counter()
        applier.sync(model)
        first = time.perf_counter() - t0
        latencies = []
        for k in range(changes):
            i = (k * 7717) % n
            t0 = time.perf_counter()
            tracker.slice_updated(fake_slice(i, generation=k + 1))  # the event arrives
            ch = tracker.take()
            applier.sync(ch.model, ch.changed)
            latencies.append(time.perf_counter() - t0)
        if isinstance(applier, NftablesApplier):
            raw = raw_nft_changes(tracker, applier, changes)
        runner.close()
    return first, latencies, raw


def raw_nft_changes(tracker: ChangeTracker, applier: NftablesApplier, changes: int) -> list[float]:
    """Time one-endpoint deltas (rendered like the applier's) through a plain ``nft -f -``."""
    n = len(tracker.model)
    out = []
    for k in range(changes):
        i = (k * 7717 + 13) % n
        tracker.slice_updated(fake_slice(i, generation=changes + k + 1))
        ch = tracker.take()
        new = {s: render_service_port(ch.model[s], applier.config, applier.slots.get(s)) for s in ch.changed}
        delta = compute_delta(applier.config.table, applier.fragments, new, ch.changed, applier.hairpin)
        t0 = time.perf_counter()
        applier.runner.run(["nft", "-f", "-"], input=delta.text())
        out.append(time.perf_counter() - t0)
        applier.fragments.update(new)
        for ip, d in delta.hairpin_diff.items():
            applier.hairpin[ip] += d
    return out


def plain_restore(n: int) -> tuple[float, int]:
    model = tracker_for(n).take().model
    ruleset, _ = render_ruleset(model, IptablesConfig(cluster_cidr="10.244.0.0/16"))
    text = full_restore(ruleset).text()
    with scratch_netns() as runner:
        t0 = time.perf_counter()
        runner.run(["iptables-restore", "--noflush", "--wait"], input=text)
        return time.perf_counter() - t0, text.count("\n")


def plain_nft(n: int) -> float:
    model = tracker_for(n).take().model
    cfg = NftConfig(cluster_cidr="10.244.0.0/16")
    frags = {s: render_service_port(model[s], cfg, slot) for slot, s in enumerate(sorted(model), 1)}
    text = render_table(frags, cfg, ["10.96.0.0/12"])
    with scratch_netns() as runner:
        t0 = time.perf_counter()
        runner.run(["nft", "-f", "-"], input=text)
        return time.perf_counter() - t0


def new_iptables_applier(runner: Runner, tmp: Path) -> IptablesApplier:
    trap = Trap(runner, bridge="mbtrap", state_file=tmp / "trap.json")
    return IptablesApplier(IptablesConfig(cluster_cidr="10.244.0.0/16"), runner=runner, trap=trap)


def new_nftables_applier(runner: Runner, tmp: Path) -> NftablesApplier:
    trap = Trap(runner, bridge="mbtrap", state_file=tmp / "trap.json")
    return NftablesApplier(NftConfig(cluster_cidr="10.244.0.0/16"), runner=runner, trap=trap)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1000,5000", help="comma-separated service counts (default 1000,5000)"
    )
    parser.add_argument("--changes", type=int, default=5, help="endpoint changes to time per size and mode")
    parser.add_argument("--modes", default="iptables,nftables", help="modes to measure")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    print(
        f"{'services':>8} {'mode':<9} {'first sync':>11} {'restore':>9} {'change p50':>11} "
        f"{'change max':>11} {'raw p50':>9}"
    )
    for n in sizes:
        baseline, lines = plain_restore(n) if "iptables" in modes else (float("nan"), 0)
        for mode in modes:
            make = new_iptables_applier if mode == "iptables" else new_nftables_applier
            first, lat, raw = measure(n, args.changes, make)
            base = plain_nft(n) if mode == "nftables" else baseline
            raw_ms = f"{statistics.median(raw) * 1000:>7.1f}ms" if raw else f"{'-':>9}"
            print(
                f"{n:>8} {mode:<9} {first:>10.2f}s {base:>8.2f}s "
                f"{statistics.median(lat) * 1000:>9.1f}ms {max(lat) * 1000:>9.1f}ms {raw_ms}",
                flush=True,
            )
        if lines:
            print(
                f"{'':>8} (plain iptables-restore of the same {lines}-line ruleset: {baseline:.2f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
