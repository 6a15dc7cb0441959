"""iptables mode, kernel side: write only what changed with ``iptables-restore --noflush``.

With the nf_tables backend of iptables 1.8 (the one Docker shares here) the cost of one
restore grows roughly with the square of its size: 1k services x 3 endpoints load in about
a second, 10k in minutes.  So after the first sync the applier never rewrites the ruleset:

* it remembers, per service port, the :class:`~minik.proxy.iptables.Fragment` it last wrote;
* for each service port the :class:`~minik.proxy.model.ChangeTracker` reports changed, it
  renders the new fragment and compares: a chain the port owns (KUBE-SVC/SVL/EXT/FW/SEP) is
  re-declared (``:KUBE-SVC-X - [0:0]`` flushes it inside the restore) only if its lines
  differ, a chain that disappeared is flushed and deleted (``-X``), and a line the port
  contributes to a shared dispatch chain (KUBE-SERVICES, KUBE-NODEPORTS, the filter chains)
  is removed with ``-D`` or added with ``-I ... 1`` — those chains are order-free except for
  their fixed last rule, which an insert at position 1 never passes;
* one endpoint change therefore restores ~2 chains and ~5 lines whatever the cluster size.

Chains not declared in a ``--noflush`` restore are left untouched, and the whole input is
one transaction: if the kernel refuses any line nothing changes, the applier forgets what
it believed was written and the next sync is a full one.  A periodic full sync (``full=True``)
re-declares everything and deletes leftover KUBE-* chains, repairing any drift.

Order of operations (safety before rules): the trap — routes into the port-less bridge and
the KUBE-PROXY-TRAP REJECT chain — is updated *before* a restore that adds rules for new
addresses, and the jumps from the built-in chains are asserted at the top of those chains
(Docker re-inserts its own rules at position 1 whenever it creates a network).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minik.proxy.hostexec import CommandError, Runner
from minik.proxy.iptables import (
    FILTER,
    NAT,
    SERVICE_CHAIN_PREFIXES,
    ChainKey,
    Fragment,
    Hook,
    IptablesConfig,
    RestoreInput,
    assemble,
    hooks,
    render_service_port,
    shared_tail,
)
from minik.proxy.model import ServicePortInfo, ServicePortName
from minik.proxy.safety import Trap

log = logging.getLogger(__name__)

KUBE_PROXY_TRAP = "KUBE-PROXY-TRAP"
#: Shared-chain edits beyond this many lines: re-declare the chain instead of -D/-I.
LINE_EDIT_LIMIT = 500
_OUR_FIXED = {
    "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-MARK-MASQ",
    "KUBE-POSTROUTING", "KUBE-FORWARD", "KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", KUBE_PROXY_TRAP,
}  # fmt: skip


def is_our_chain(chain: str) -> bool:
    return chain in _OUR_FIXED or chain.startswith(SERVICE_CHAIN_PREFIXES)


def trap_rules(destinations: Iterable[str]) -> list[str]:
    return [
        f'-d {dst} -m comment --comment "minik: service address never leaves this host" '
        "-j REJECT --reject-with icmp-port-unreachable"
        for dst in destinations
    ]


def trap_hooks(forward_chain: str) -> tuple[Hook, ...]:
    return (
        Hook(FILTER, "OUTPUT", f"-j {KUBE_PROXY_TRAP}"),
        Hook(FILTER, forward_chain, f"-j {KUBE_PROXY_TRAP}"),
    )


@dataclass
class SyncResult:
    full: bool
    seconds: float
    chains_written: int
    chains_deleted: int
    lines_edited: int
    service_ports: int


class IptablesApplier:
    """Keeps the kernel's KUBE-* chains equal to the rendering of the model.

    The iptables mode's applier: the only object of the mode that writes the kernel.  It is
    synchronous (it runs commands); the proxier reaches it through a
    :class:`~minik.proxy.proxier.RuleBackend`, which calls it from a worker thread."""

    def __init__(
        self,
        config: IptablesConfig,
        *,
        runner: Runner | None = None,
        trap: Trap | None = None,
        iptables: str = "iptables",
        localhost_nodeports: bool = True,
    ) -> None:
        self.config = config
        self.runner = runner or Runner()
        self.trap = trap or Trap(self.runner)
        self.iptables = iptables
        self.restore_cmd = [f"{iptables}-restore", "--noflush", "--wait"]
        self.localhost_nodeports = localhost_nodeports
        self.fragments: dict[ServicePortName, Fragment] = {}
        self._synced = False
        self._trapped: list[str] = []
        self.forward_chain = "FORWARD"
        self._nft_backend: bool | None = None

    # -- kernel access ---------------------------------------------------------------------
    def restore(self, tx: RestoreInput) -> None:
        text = tx.text()
        if text:
            self.runner.run(self.restore_cmd, input=text)

    def _chain_exists(self, table: str, chain: str) -> bool:
        """For small built-in-ish chains only (``-S`` prints the whole chain)."""
        return self.runner.ok([self.iptables, "-w", "-t", table, "-S", chain])

    def _nf_tables_backend(self) -> bool:
        if self._nft_backend is None:
            self._nft_backend = "nf_tables" in self.runner.run([self.iptables, "--version"])
        return self._nft_backend

    def existing_chains(self) -> set[ChainKey]:
        """Our chains now in the kernel (for full syncs and cleanup).

        With the nf_tables backend ``nft list chains`` names them in milliseconds, where
        ``iptables-save`` would decode every rule (seconds at 10k services)."""
        found: set[ChainKey] = set()
        if self._nf_tables_backend():
            table = ""
            for line in self.runner.run(["nft", "list", "chains", "ip"]).splitlines():
                words = line.split()
                if words[:2] == ["table", "ip"] and len(words) > 2:
                    table = words[2]
                elif (
                    words[:1] == ["chain"]
                    and len(words) > 1
                    and table in (NAT, FILTER)
                    and is_our_chain(words[1])
                ):
                    found.add((table, words[1]))
            return found
        for table in (NAT, FILTER):
            out = self.runner.run([f"{self.iptables}-save", "-t", table])
            for line in out.splitlines():
                if line.startswith(":") and is_our_chain(line[1:].split(" ", 1)[0]):
                    found.add((table, line[1:].split(" ", 1)[0]))
        return found

    # -- safety -----------------------------------------------------------------------------
    def _update_trap(self, model: Mapping[ServicePortName, ServicePortInfo], *, force: bool = False) -> None:
        extra: set[str] = set()
        for info in model.values():
            extra.update(info.external_ips)
            extra.update(info.load_balancer_ips)
        wanted = self.trap.trapped(extra)
        if wanted == self._trapped and not force:
            return
        self.trap.ensure(wanted)
        tx = RestoreInput()
        tx.declare((FILTER, KUBE_PROXY_TRAP), trap_rules(wanted))
        self.restore(tx)
        self._trapped = wanted

    def setup(self) -> None:
        """Safety first: trap the service range (bridge, routes, REJECT chain and its hooks)
        before any service rule exists.  Safe to call repeatedly."""
        self.forward_chain = forward_hook_chain(self.runner, self.iptables)
        if self.localhost_nodeports:
            self.trap.enable_route_localnet()
        self._update_trap({}, force=True)
        self._ensure(trap_hooks(self.forward_chain))

    def ensure_hooks(self) -> None:
        """Make our jumps the first rules of each built-in chain, in order (re-asserting it
        after Docker or anyone else inserted rules above them)."""
        self._ensure((*trap_hooks(self.forward_chain), *hooks(self.forward_chain)))

    def _ensure(self, wanted: Iterable[Hook]) -> None:
        ensure_jumps(self.runner, self.iptables, wanted)

    # -- sync ----------------------------------------------------------------------------------
    def sync(
        self,
        model: Mapping[ServicePortName, ServicePortInfo],
        changed: Iterable[ServicePortName] | None = None,
        *,
        full: bool = False,
    ) -> SyncResult:
        """Bring the kernel to ``model``.  ``changed`` names the service ports that differ
        from the last successful sync (from the ChangeTracker); ``None`` or ``full`` rewrites
        everything."""
        start = time.perf_counter()
        full = full or changed is None or not self._synced
        if full:
            self.setup()
        self._update_trap(model)
        try:
            if full:
                tx, fragments = self._full(model)
            else:
                tx, fragments = self._partial(model, set(changed or ()))
            self.restore(tx)
        except CommandError:
            self._synced = False  # we no longer know what the kernel holds
            raise
        self.fragments = fragments
        self._synced = True
        if full:
            self.ensure_hooks()
        return SyncResult(
            full=full,
            seconds=time.perf_counter() - start,
            chains_written=len(tx.declared),
            chains_deleted=len(tx.deleted_chains),
            lines_edited=len(tx.deleted_rules) + len(tx.inserted_rules),
            service_ports=len(model),
        )

    def _full(
        self, model: Mapping[ServicePortName, ServicePortInfo]
    ) -> tuple[RestoreInput, dict[ServicePortName, Fragment]]:
        fragments = {name: render_service_port(model[name], self.config) for name in sorted(model)}
        ruleset = assemble(fragments, self.config)
        tx = RestoreInput()
        for key, rules in ruleset.items():
            tx.declare(key, rules)
        keep = set(ruleset) | {(FILTER, KUBE_PROXY_TRAP)}
        tx.deleted_chains.extend(sorted(self.existing_chains() - keep))
        return tx, fragments

    def _partial(
        self, model: Mapping[ServicePortName, ServicePortInfo], changed: set[ServicePortName]
    ) -> tuple[RestoreInput, dict[ServicePortName, Fragment]]:
        fragments = dict(self.fragments)
        new: dict[ServicePortName, Fragment] = {}
        for name in changed:
            if name in model:
                new[name] = render_service_port(model[name], self.config)
        tx = compute_delta(self.fragments, new, changed)
        for name in changed:
            if name in new:
                fragments[name] = new[name]
            else:
                fragments.pop(name, None)
        # Too many single-line edits in one shared chain: re-declare it whole instead.
        edits: dict[ChainKey, int] = {}
        for key, _ in [*tx.deleted_rules, *tx.inserted_rules]:
            edits[key] = edits.get(key, 0) + 1
        for key, count in edits.items():
            if count > LINE_EDIT_LIMIT:
                tx.deleted_rules = [(k, r) for k, r in tx.deleted_rules if k != key]
                tx.inserted_rules = [(k, r) for k, r in tx.inserted_rules if k != key]
                lines = [line for n in sorted(fragments) for line in fragments[n].shared.get(key, ())]
                tx.declare(key, [*lines, *shared_tail(key, self.config)])
        return tx, fragments

    # -- cleanup ---------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove every trace: hooks, KUBE-* chains, the trap bridge and route_localnet."""
        for chain in ("FORWARD", "DOCKER-USER"):
            if chain == "FORWARD" or self._chain_exists(FILTER, chain):
                remove_jumps(self.runner, self.iptables, (*trap_hooks(chain), *hooks(chain)))
        tx = RestoreInput()
        tx.deleted_chains.extend(sorted(self.existing_chains()))
        self.restore(tx)
        self.trap.cleanup()
        self.fragments = {}
        self._synced = False
        self._trapped = []


def compute_delta(
    old: Mapping[ServicePortName, Fragment],
    new: Mapping[ServicePortName, Fragment],
    changed: Iterable[ServicePortName],
) -> RestoreInput:
    """The restore transaction turning ``old`` fragments into ``new`` for ``changed`` ports.

    ``new`` holds the fresh fragment of every changed port still in the model; a changed
    port missing from it was deleted.  Pure: unit-testable without a kernel.
    """
    tx = RestoreInput()
    for name in sorted(changed):
        before = old.get(name) or Fragment()
        after = new.get(name) or Fragment()
        for key, lines in after.chains.items():
            if before.chains.get(key) != lines:
                tx.declare(key, lines)
        for key in before.chains:
            if key not in after.chains:
                tx.deleted_chains.append(key)
        for key in {*before.shared, *after.shared}:
            was, now = before.shared.get(key, ()), after.shared.get(key, ())
            gone, added = set(was) - set(now), set(now) - set(was)
            tx.deleted_rules.extend((key, line) for line in was if line in gone)
            tx.inserted_rules.extend((key, line) for line in now if line in added)
    return tx


def forward_hook_chain(runner: Runner, iptables: str = "iptables") -> str:
    """``DOCKER-USER`` when Docker's chain exists (Docker's own FORWARD rules would otherwise
    drop forwarded service traffic before ours run), else ``FORWARD``."""
    return "DOCKER-USER" if runner.ok([iptables, "-w", "-t", FILTER, "-S", "DOCKER-USER"]) else "FORWARD"


def ensure_jumps(runner: Runner, iptables: str, wanted: Iterable[Hook]) -> None:
    """Make ``wanted`` the first rules of their built-in chains, in order.  Cheap when they
    already are (one ``-S`` of a short chain); otherwise ours are removed and re-inserted at
    the top, e.g. after Docker inserted its rules at position 1."""
    by_chain: dict[ChainKey, list[Hook]] = {}
    for hook in wanted:
        by_chain.setdefault((hook.table, hook.chain), []).append(hook)
    for (table, chain), chain_hooks in by_chain.items():
        listing = runner.run([iptables, "-w", "-t", table, "-S", chain])
        present = [line for line in listing.splitlines() if line.startswith("-A ")]
        if [_target(r) for r in present[: len(chain_hooks)]] == [_target(h.rule) for h in chain_hooks]:
            continue
        remove_jumps(runner, iptables, chain_hooks)
        for pos, hook in enumerate(chain_hooks, start=1):
            runner.run([iptables, "-w", "-t", table, "-I", chain, str(pos), *_split(hook.rule)])


def remove_jumps(runner: Runner, iptables: str, unwanted: Iterable[Hook]) -> None:
    """Delete every copy of each hook rule (absent ones are fine)."""
    for hook in unwanted:
        while runner.ok([iptables, "-w", "-t", hook.table, "-D", hook.chain, *_split(hook.rule)]):
            pass


_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def _split(rule: str) -> list[str]:
    """Split a rendered rule into argv, honouring double quotes (comments)."""
    return [quoted if quoted or bare == "" else bare for quoted, bare in _TOKEN.findall(rule)]


def _target(saved_rule: str) -> str:
    parts = _split(saved_rule)
    return parts[parts.index("-j") + 1] if "-j" in parts else ""
