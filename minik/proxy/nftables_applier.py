"""nftables mode, kernel side: whole-table replacement once, element/chain deltas after.

The first sync (and a periodic full resync that repairs drift) loads the table atomically
(``render_table``).  Every later sync renders only the service ports the ChangeTracker
reports and sends the :class:`~minik.proxy.nftables.NftDelta` — a handful of ``add element``
/ ``delete element`` / ``flush chain`` / ``add rule`` lines — through
:meth:`~minik.proxy.hostexec.Runner.nft` (libnftables in-process, else ``nft -f -``).  nft
applies a script as one transaction: either all of it or nothing, so a failed delta leaves
the previous rules in place and the next sync falls back to a full one.  Nothing in a
partial sync walks all service ports: the ``hairpin`` reference counts are kept here and
only the changed service ports' fragments are rendered and compared.

Safety first: :meth:`NftablesApplier.setup` creates the trap bridge/routes and a table whose
``trapped`` set and ``trap-*`` chains reject the service range *before* any service element
exists; new LoadBalancer/external IPs are added to ``trapped`` in the same transaction that
adds their map elements (and ahead of them in the file).

Docker: an nftables ``accept`` only ends the packet's trip through *one* base chain; every
other table hooked at ``forward`` still sees it.  Docker sets the iptables FORWARD policy to
DROP and its isolation chains drop traffic between bridges, so forwarded service traffic
(a pod, or another namespace, reaching a ClusterIP whose endpoint is behind another bridge)
would die in Docker's ``ip filter`` table whatever our table says.  Docker's documented
escape hatch is the DOCKER-USER chain, which it jumps to first: when that chain exists,
:meth:`NftablesApplier.setup` creates the iptables chain ``MINIK-NFT-FORWARD`` (drop INVALID,
accept packets marked for masquerade, accept connections we DNATed, accept
RELATED/ESTABLISHED — the iptables mode's KUBE-FORWARD) with ``iptables-restore --noflush``
and keeps a jump to it at the top of DOCKER-USER (re-asserted on every full sync, because
Docker re-inserts its own rules at position 1).  Native nft rules are never written into
Docker's iptables-nft tables: that would make them unreadable to ``iptables-save``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minik.proxy.hostexec import CommandError, Runner
from minik.proxy.iptables import FILTER, Hook, RestoreInput
from minik.proxy.iptables_applier import ensure_jumps, remove_jumps
from minik.proxy.model import ServicePortInfo, ServicePortName
from minik.proxy.nftables import (
    TRAPPED,
    NftConfig,
    NftFragment,
    SlotAllocator,
    apply_hairpin,
    base_chains,
    compute_delta,
    hairpin_counts,
    render_service_port,
    render_table,
)
from minik.proxy.safety import Trap

#: The iptables chain hooked from Docker's DOCKER-USER in nftables mode.
DOCKER_FORWARD_CHAIN = "MINIK-NFT-FORWARD"
DOCKER_USER = "DOCKER-USER"


def docker_forward_rules(mark: str) -> list[str]:
    """iptables rules accepting forwarded service traffic before Docker can drop it."""
    return [
        "-m conntrack --ctstate INVALID -j DROP",
        f'-m comment --comment "minik-proxy: masqueraded service traffic" -m mark --mark {mark}/{mark} -j ACCEPT',
        '-m comment --comment "minik-proxy: service traffic DNATed to an endpoint" -m conntrack --ctstate DNAT -j ACCEPT',
        '-m comment --comment "minik-proxy: replies" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]


def docker_forward_hook() -> Hook:
    return Hook(FILTER, DOCKER_USER, f"-j {DOCKER_FORWARD_CHAIN}")


def has_docker_user(runner: Runner, iptables: str = "iptables") -> bool:
    return runner.ok([iptables, "-w", "-t", FILTER, "-S", DOCKER_USER])


def ensure_docker_forward(runner: Runner, mark: str, iptables: str = "iptables") -> bool:
    """Create MINIK-NFT-FORWARD and keep it first in DOCKER-USER; False when Docker is absent."""
    if not has_docker_user(runner, iptables):
        return False
    tx = RestoreInput()
    tx.declare((FILTER, DOCKER_FORWARD_CHAIN), docker_forward_rules(mark))
    runner.run([f"{iptables}-restore", "--noflush", "--wait"], input=tx.text())
    ensure_jumps(runner, iptables, (docker_forward_hook(),))
    return True


def remove_docker_forward(runner: Runner, iptables: str = "iptables") -> None:
    """Undo :func:`ensure_docker_forward` (nothing to do if it never ran)."""
    if has_docker_user(runner, iptables):
        remove_jumps(runner, iptables, (docker_forward_hook(),))
    if runner.ok([iptables, "-w", "-t", FILTER, "-S", DOCKER_FORWARD_CHAIN]):
        tx = RestoreInput()
        tx.deleted_chains.append((FILTER, DOCKER_FORWARD_CHAIN))
        runner.run([f"{iptables}-restore", "--noflush", "--wait"], input=tx.text())


@dataclass
class NftSyncResult:
    full: bool
    seconds: float
    commands: int
    service_ports: int


class NftablesApplier:
    """Keeps table ``config.table`` equal to the rendering of the model.

    The nftables mode's applier: the only object of the mode that writes the kernel.  It is
    synchronous; the proxier reaches it through a :class:`~minik.proxy.proxier.RuleBackend`,
    which calls it from a worker thread."""

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
        #: Reference counts of the addresses in the ``hairpin`` set (see nftables.py).
        self.hairpin: Counter[str] = Counter()
        #: Each service port's key range in the ``endpoints`` map (see nftables.py).
        self.slots = SlotAllocator()
        self._synced = False
        self._trapped: list[str] = []
        #: Service ports that have external or LoadBalancer addresses (they widen the trap).
        self._external: dict[ServicePortName, bool] = {}
        #: Hook forwarded service traffic past Docker's FORWARD DROP (see the module docs).
        self.docker_forward = True
        self.docker_hooked = False

    def nft(self, script: str) -> None:
        if script:
            self.runner.nft(script)

    def _wanted_trap(
        self, model: Mapping[ServicePortName, ServicePortInfo], changed: Iterable[ServicePortName] | None
    ) -> list[str]:
        if changed is not None and self._synced:
            # Cheap common case: no changed service port has (or had) an external address.
            def extra(info: ServicePortInfo | None) -> bool:
                return info is not None and bool(info.external_ips or info.load_balancer_ips)

            if not any(extra(model.get(n)) or self._external.get(n) for n in changed):
                return self._trapped
        external: set[str] = set()
        for info in model.values():
            external.update(info.external_ips)
            external.update(info.load_balancer_ips)
        return self.trap.trapped(external)

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
        if self.docker_forward:
            self.docker_hooked = ensure_docker_forward(self.runner, self.config.masquerade_mark)

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
        elif full and self.docker_forward:
            # Docker re-inserts its rules at the top of its chains: re-assert our hook.
            self.docker_hooked = ensure_docker_forward(self.runner, self.config.masquerade_mark)
        wanted = self._wanted_trap(model, None if full else changed)
        if wanted != self._trapped:
            self.trap.ensure(wanted)  # routes first; the set changes with the rules below
        names = set(model if full else changed or ())
        try:
            if full:
                new = {n: self._render(model[n], n) for n in sorted(model)}
                script = render_table(new, self.config, wanted)
            else:
                new = {n: self._render(model[n], n) for n in names if n in model}
                delta = compute_delta(self.config.table, self.fragments, new, names, self.hairpin)
                script = self._trap_delta(wanted) + delta.text()
            self.nft(script)
        except CommandError:
            self._synced = False
            raise
        # Only now that the kernel has it: update our picture in place (no copy of 10k entries).
        if full:
            for n in self.fragments.keys() - new.keys():
                self.slots.release(n)
            self.fragments = new
            self.hairpin = hairpin_counts(new.values())
        else:
            apply_hairpin(self.hairpin, delta.hairpin_diff)
            for n in names:
                if n in new:
                    self.fragments[n] = new[n]
                else:
                    self.fragments.pop(n, None)
                    self.slots.release(n)
        if full:
            self._external = {}
        for n in names:
            info = model.get(n)
            if info is not None and (info.external_ips or info.load_balancer_ips):
                self._external[n] = True
            else:
                self._external.pop(n, None)
        self._trapped = wanted
        self._synced = True
        return NftSyncResult(full, time.perf_counter() - start, script.count("\n"), len(model))

    def _render(self, info: ServicePortInfo, name: ServicePortName) -> NftFragment:
        return render_service_port(info, self.config, self.slots.get(name))

    def _trap_delta(self, wanted: list[str]) -> str:
        if wanted == self._trapped:
            return ""
        t = self.config.table
        return f"flush set ip {t} {TRAPPED}\nadd element ip {t} {TRAPPED} {{ {', '.join(wanted)} }}\n"

    def cleanup(self) -> None:
        """Delete our table, the trap bridge and restore route_localnet."""
        if self.runner.ok(["nft", "list", "table", "ip", self.config.table]):
            self.runner.run(["nft", "delete", "table", "ip", self.config.table])
        remove_docker_forward(self.runner)
        self.docker_hooked = False
        self.trap.cleanup()
        self.fragments = {}
        self.hairpin = Counter()
        self.slots = SlotAllocator()
        self._external = {}
        self._synced = False
        self._trapped = []
        self.runner.close()
