"""nftables mode, kernel side: whole-table replacement once, element/chain deltas after.

The first sync (and a periodic full resync that repairs drift) loads the table atomically
(``render_table``).  Every later sync renders only the service ports the ChangeTracker
reports and sends the :class:`~minik.proxy.nftables.NftDelta` — a handful of ``add element``
/ ``delete element`` / ``flush chain`` / ``add rule`` lines — through ``nft -f -``.  nft
applies a file as one transaction: either all of it or nothing, so a failed delta leaves the
previous rules in place and the next sync falls back to a full one.

Safety first: :meth:`NftablesProxier.setup` creates the trap bridge/routes and a table whose
``trapped`` set and ``trap-*`` chains reject the service range *before* any service element
exists; new LoadBalancer/external IPs are added to ``trapped`` in the same transaction that
adds their map elements (and ahead of them in the file).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minik.proxy.hostexec import CommandError, Runner
from minik.proxy.model import ServicePortInfo, ServicePortName
from minik.proxy.nftables import (
    TRAPPED,
    NftConfig,
    NftFragment,
    base_chains,
    compute_delta,
    render_service_port,
    render_table,
)
from minik.proxy.safety import Trap


@dataclass
class NftSyncResult:
    full: bool
    seconds: float
    commands: int
    service_ports: int


class NftablesProxier:
    """Keeps table ``config.table`` equal to the rendering of the model."""

    def __init__(
        self,
        config: NftConfig,
        *,
        runner: Runner | None = None,
        trap: Trap | None = None,
        localhost_nodeports: bool = True,
    ) -> None:
        self.config = config
        self.runner = runner or Runner()
        self.trap = trap or Trap(self.runner)
        self.localhost_nodeports = localhost_nodeports
        self.fragments: dict[ServicePortName, NftFragment] = {}
        self._synced = False
        self._trapped: list[str] = []

    def nft(self, script: str) -> None:
        if script:
            self.runner.run(["nft", "-f", "-"], input=script)

    def _wanted_trap(self, model: Mapping[ServicePortName, ServicePortInfo]) -> list[str]:
        extra: set[str] = set()
        for info in model.values():
            extra.update(info.external_ips)
            extra.update(info.load_balancer_ips)
        return self.trap.trapped(extra)

    def setup(self) -> None:
        """Trap the service range (routes + a table that rejects it) before any service rule."""
        if self.localhost_nodeports:
            self.trap.enable_route_localnet()
        wanted = self.trap.trapped()
        self.trap.ensure(wanted)
        t = self.config.table
        trap_chains = {k: v for k, v in base_chains(self.config).items() if k.startswith("trap-")}
        lines = [
            f"add table ip {t}",
            f"add set ip {t} {TRAPPED} {{ type ipv4_addr ; flags interval ; }}",
            f"flush set ip {t} {TRAPPED}",
            f"add element ip {t} {TRAPPED} {{ {', '.join(wanted)} }}",
        ]
        for name, (hook, *rules) in trap_chains.items():
            lines += [f"add chain ip {t} {name} {{ {hook} }}", f"flush chain ip {t} {name}"]
            lines += [f"add rule ip {t} {name} {r}" for r in rules]
        self.nft("\n".join(lines) + "\n")
        self._trapped = wanted

    def sync(
        self,
        model: Mapping[ServicePortName, ServicePortInfo],
        changed: Iterable[ServicePortName] | None = None,
        *,
        full: bool = False,
    ) -> NftSyncResult:
        start = time.perf_counter()
        full = full or changed is None or not self._synced
        if full and not self._synced:
            self.setup()
        wanted = self._wanted_trap(model)
        if wanted != self._trapped:
            self.trap.ensure(wanted)  # routes first; the set changes with the rules below
        try:
            if full:
                fragments = {n: render_service_port(model[n], self.config) for n in sorted(model)}
                script = render_table(fragments, self.config, wanted)
            else:
                fragments = dict(self.fragments)
                names = set(changed or ())
                new = {n: render_service_port(model[n], self.config) for n in names if n in model}
                delta = compute_delta(self.config.table, self.fragments, new, names)
                for n in names:
                    if n in new:
                        fragments[n] = new[n]
                    else:
                        fragments.pop(n, None)
                script = self._trap_delta(wanted) + delta.text()
            self.nft(script)
        except CommandError:
            self._synced = False
            raise
        self.fragments = fragments
        self._trapped = wanted
        self._synced = True
        return NftSyncResult(full, time.perf_counter() - start, script.count("\n"), len(model))

    def _trap_delta(self, wanted: list[str]) -> str:
        if wanted == self._trapped:
            return ""
        t = self.config.table
        return f"flush set ip {t} {TRAPPED}\nadd element ip {t} {TRAPPED} {{ {', '.join(wanted)} }}\n"

    def cleanup(self) -> None:
        """Delete our table, the trap bridge and restore route_localnet."""
        if self.runner.ok(["nft", "list", "table", "ip", self.config.table]):
            self.runner.run(["nft", "delete", "table", "ip", self.config.table])
        self.trap.cleanup()
        self.fragments = {}
        self._synced = False
        self._trapped = []
