"""iptables mode: upstream kube-proxy's chain layout, rendered as ``iptables-restore`` input.

The path of a packet to a ClusterIP (``nat`` table; ``filter`` only for rejects)::

    PREROUTING (from pods/other hosts) ─┐
    OUTPUT     (from this host)        ─┴─▶ KUBE-SERVICES
        -d 10.96.0.10 -p tcp --dport 80 ─▶ KUBE-SVC-<hash>        (one per service port)
            ! -s <pod CIDR> ─▶ KUBE-MARK-MASQ                      (off-cluster client: SNAT later)
            -m recent --rcheck ─▶ KUBE-SEP-<hash>                  (ClientIP affinity hit)
            -m statistic --probability 1/3 ─▶ KUBE-SEP-a           (random balancing:
            -m statistic --probability 1/2 ─▶ KUBE-SEP-b            1/n, 1/(n-1), ... 1)
            ─▶ KUBE-SEP-c
        KUBE-SEP-<hash>                                            (one per endpoint)
            -s <endpoint> ─▶ KUBE-MARK-MASQ                         (hairpin: pod reaches itself)
            -m recent --set -j DNAT --to-destination 10.244.1.5:8080
    POSTROUTING ─▶ KUBE-POSTROUTING: packets marked 0x4000 are MASQUERADEd.

A NodePort packet is any packet to a *local* address (``-m addrtype --dst-type LOCAL``, the
last rule of KUBE-SERVICES) whose port is in KUBE-NODEPORTS; it goes to KUBE-EXT-<hash>,
which marks it for masquerade (policy Cluster: the endpoint may be on another node and must
answer through us) and continues to KUBE-SVC-<hash>.  With ``externalTrafficPolicy: Local``
KUBE-EXT-<hash> keeps the client's source address and jumps to KUBE-SVL-<hash>, which holds
only this node's endpoints — except for traffic from pods or from the node itself, which is
short-circuited to the cluster-wide KUBE-SVC chain as if it had gone out to a load balancer
and back.  externalIPs and LoadBalancer ingress IPs enter KUBE-EXT the same way from
KUBE-SERVICES (through KUBE-FW-<hash> when ``loadBalancerSourceRanges`` limits clients).

A service port with no usable endpoint gets no ``nat`` rules at all; instead ``filter``
KUBE-SERVICES (ClusterIP) and KUBE-EXTERNAL-SERVICES (the other addresses) REJECT its new
connections, so clients get "connection refused" at once.  KUBE-FORWARD accepts forwarded
service traffic (marked, or belonging to a known connection) before Docker's isolation rules
can drop it, and drops INVALID packets that conntrack could not un-NAT.

Chain names are upstream's: ``KUBE-SVC-`` + the first 16 base32 characters of
sha256(``"ns/name:port" + "tcp"``), ``KUBE-SEP-`` the same with ``"10.244.1.5:8080"``
appended.  Hashing keeps names within iptables' 28 characters and stable across restarts.

Rendering is per service port: :func:`render_service_port` returns a :class:`Fragment` —
the chains the port owns plus the lines it contributes to the shared dispatch chains — so the
applier (``iptables_applier.py``) can compare fragments and rewrite only what changed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from minik.proxy.model import EndpointSet, ExternalStep, ServicePortInfo, ServicePortName, plan_traffic

NAT = "nat"
FILTER = "filter"
#: (table, chain)
ChainKey = tuple[str, str]
#: chain -> rules, each rule without its leading ``-A CHAIN``
Ruleset = dict[ChainKey, list[str]]

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_FIREWALL = "KUBE-FIREWALL"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"

#: Chains every service port may add lines to; their order of lines does not matter
#: except for the fixed tail (see :data:`SHARED_TAILS`).
SHARED_CHAINS: tuple[ChainKey, ...] = (
    (NAT, KUBE_SERVICES),
    (NAT, KUBE_NODEPORTS),
    (FILTER, KUBE_SERVICES),
    (FILTER, KUBE_EXTERNAL_SERVICES),
    (FILTER, KUBE_NODEPORTS),
    (FILTER, KUBE_PROXY_FIREWALL),
)
#: The prefixes of chains that belong to one service port.
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")


@dataclass(frozen=True)
class IptablesConfig:
    """Node-wide settings that shape the rules."""

    #: Pod CIDR: traffic from outside it to a ClusterIP is masqueraded; from inside it,
    #: Local-policy external traffic is short-circuited. ``None``: no such rules.
    cluster_cidr: str | None = None
    #: Masquerade every ClusterIP connection (simple, loses client addresses).
    masquerade_all: bool = False
    masquerade_mark: str = "0x4000"
    #: Addresses NodePorts answer on; empty means every local address (upstream's default).
    nodeport_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fragment:
    """The rules of one service port: chains it owns and lines it adds to shared chains."""

    chains: Mapping[ChainKey, tuple[str, ...]] = field(default_factory=dict)
    shared: Mapping[ChainKey, tuple[str, ...]] = field(default_factory=dict)

    @property
    def rule_count(self) -> int:
        """Rules in the kernel for this service port (its chains' and its dispatch lines)."""
        return sum(map(len, (*self.chains.values(), *self.shared.values())))


# -- names -------------------------------------------------------------------------------
def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def _base(name: ServicePortName) -> str:
    return str(name) + name.protocol.lower()


def svc_chain(name: ServicePortName) -> str:
    """Cluster-policy chain (all endpoints), e.g. ``KUBE-SVC-NPX46M4PTMTKRN6Y``."""
    return "KUBE-SVC-" + _hash(_base(name))


def svl_chain(name: ServicePortName) -> str:
    """Local-policy chain (this node's endpoints only)."""
    return "KUBE-SVL-" + _hash(_base(name))


def ext_chain(name: ServicePortName) -> str:
    """Entry for NodePort / externalIP / LoadBalancer traffic."""
    return "KUBE-EXT-" + _hash(_base(name))


def fw_chain(name: ServicePortName) -> str:
    """LoadBalancer source-range firewall."""
    return "KUBE-FW-" + _hash(_base(name))


def sep_chain(name: ServicePortName, endpoint: str) -> str:
    """Per-endpoint DNAT chain; ``endpoint`` is ``ip:port``."""
    return "KUBE-SEP-" + _hash(_base(name) + endpoint)


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


# -- per service port ----------------------------------------------------------------------
def _balance(info: ServicePortInfo, endpoints: Iterable[tuple[str, str]]) -> list[str]:
    """Rules of a KUBE-SVC/KUBE-SVL chain: affinity checks, then random choice."""
    eps = list(endpoints)  # (endpoint "ip:port", its KUBE-SEP chain)
    rules: list[str] = []
    svc = str(info.name)
    if info.affinity_timeout is not None:
        for ep, sep in eps:
            rules.append(
                f"{_comment(f'{svc} -> {ep}')} -m recent --name {sep} --rcheck "
                f"--seconds {info.affinity_timeout} --reap -j {sep}"
            )
    n = len(eps)
    for i, (ep, sep) in enumerate(eps):
        stat = "" if i == n - 1 else f" -m statistic --mode random --probability {1.0 / (n - i):0.10f}"
        rules.append(f"{_comment(f'{svc} -> {ep}')}{stat} -j {sep}")
    return rules


def render_service_port(info: ServicePortInfo, config: IptablesConfig) -> Fragment:
    """All rules for one service port (see the module docstring for the layout).

    The decisions — which endpoint set each kind of traffic uses, reject or drop, what the
    external entry chain does — are :func:`~minik.proxy.model.plan_traffic`'s; this
    function spells them as iptables rules."""
    name = info.name
    svc = str(name)
    proto = info.protocol.lower()
    match = f"-m {proto} -p {proto}"
    plan = plan_traffic(info, cluster_cidr=config.cluster_cidr, masquerade_all=config.masquerade_all)
    chains: dict[ChainKey, tuple[str, ...]] = {}
    shared: dict[ChainKey, list[str]] = {}

    def add(key: ChainKey, rule: str) -> None:
        shared.setdefault(key, []).append(rule)

    chain_of: dict[EndpointSet, str] = {"cluster": svc_chain(name), "local": svl_chain(name)}
    ext = ext_chain(name)
    lb_chain = fw_chain(name) if plan.firewall else ext
    # Nowhere to go: REJECT when no endpoint exists anywhere, else (Local policy) DROP.
    refuse = "REJECT" if plan.no_endpoints == "reject" else "DROP"
    refuse_note = (
        f"{svc} has no endpoints" if plan.no_endpoints == "reject" else f"{svc} has no local endpoints"
    )

    vip = f"-d {info.cluster_ip}/32 --dport {info.port}"
    # ClusterIP.
    if plan.internal is not None:
        add(
            (NAT, KUBE_SERVICES),
            f"{_comment(f'{svc} cluster IP')} {match} {vip} -j {chain_of[plan.internal]}",
        )
    else:
        add((FILTER, KUBE_SERVICES), f"{_comment(refuse_note)} {match} {vip} -j {refuse}")
    # externalIPs and LoadBalancer ingress.
    for label, ips, target in (
        ("external IP", info.external_ips, ext),
        ("loadbalancer IP", info.load_balancer_ips, lb_chain),
    ):
        for ip in ips:
            dst = f"-d {ip}/32 --dport {info.port}"
            if plan.any_endpoints:
                add((NAT, KUBE_SERVICES), f"{_comment(f'{svc} {label}')} {match} {dst} -j {target}")
            if plan.external is None:
                add((FILTER, KUBE_EXTERNAL_SERVICES), f"{_comment(refuse_note)} {match} {dst} -j {refuse}")
            if plan.firewall and label == "loadbalancer IP":
                add(
                    (FILTER, KUBE_PROXY_FIREWALL),
                    f"{_comment(f'{svc} traffic not accepted by {lb_chain}')} {match} {dst} -j DROP",
                )
    # NodePort.
    if info.node_port:
        if plan.any_endpoints:
            add((NAT, KUBE_NODEPORTS), f"{_comment(svc)} {match} --dport {info.node_port} -j {ext}")
        if plan.external is None:
            add(
                (FILTER, KUBE_EXTERNAL_SERVICES),
                f"{_comment(refuse_note)} -m addrtype --dst-type LOCAL {match} "
                f"--dport {info.node_port} -j {refuse}",
            )
    if info.health_check_node_port:
        add(
            (FILTER, KUBE_NODEPORTS),
            f"{_comment(f'{svc} health check node port')} -m tcp -p tcp "
            f"--dport {info.health_check_node_port} -j ACCEPT",
        )

    # The service's own chains.
    if plan.external_steps:
        policy_chain = chain_of[plan.external] if plan.external is not None else ""
        chains[(NAT, ext)] = tuple(
            _external_rule(step, svc, config, chain_of["cluster"], policy_chain)
            for step in plan.external_steps
        )
    if plan.firewall:
        chains[(NAT, lb_chain)] = tuple(
            f"{_comment(f'{svc} loadbalancer IP')} -s {src} -j {ext}"
            for src in info.load_balancer_source_ranges
        )
    for which, endpoints in plan.balanced:
        rules = _balance(info, [(e.endpoint, sep_chain(name, e.endpoint)) for e in endpoints])
        if which == plan.internal and plan.masquerade is not None:
            masq_match = f"{_comment(f'{svc} cluster IP')} {match} {vip}"
            off_cluster = f" ! -s {config.cluster_cidr}" if plan.masquerade == "off-cluster" else ""
            rules.insert(0, f"{masq_match}{off_cluster} -j {KUBE_MARK_MASQ}")
        chains[(NAT, chain_of[which])] = tuple(rules)
    for e in plan.endpoints.reachable:
        sep = sep_chain(name, e.endpoint)
        recent = f" -m recent --name {sep} --set" if info.affinity_timeout is not None else ""
        chains[(NAT, sep)] = (
            f"{_comment(svc)} -s {e.ip}/32 -j {KUBE_MARK_MASQ}",
            f"{_comment(svc)}{recent} {match} -j DNAT --to-destination {e.endpoint}",
        )
    return Fragment(chains, {k: tuple(v) for k, v in shared.items()})


def _external_rule(step: ExternalStep, svc: str, config: IptablesConfig, cluster: str, policy: str) -> str:
    """One rule of KUBE-EXT-<hash> (``cluster``: the KUBE-SVC chain, ``policy``: the chain
    the external policy names)."""
    if step is ExternalStep.MASQUERADE_ALL:
        return f"{_comment(f'masquerade traffic for {svc} external destinations')} -j {KUBE_MARK_MASQ}"
    if step is ExternalStep.PODS_TO_CLUSTER:
        return f"{_comment(f'pod traffic for {svc} external destinations')} -s {config.cluster_cidr} -j {cluster}"
    if step is ExternalStep.MASQUERADE_NODE:
        return (
            f"{_comment(f'masquerade LOCAL traffic for {svc} external destinations')} "
            f"-m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ}"
        )
    if step is ExternalStep.NODE_TO_CLUSTER:
        return (
            f"{_comment(f'route LOCAL traffic for {svc} external destinations')} "
            f"-m addrtype --src-type LOCAL -j {cluster}"
        )
    return f"-j {policy}"


# -- node-wide chains -----------------------------------------------------------------------
def shared_tail(key: ChainKey, config: IptablesConfig) -> tuple[str, ...]:
    """Fixed last lines of a shared chain (the NodePort catch-all must stay last)."""
    if key != (NAT, KUBE_SERVICES):
        return ()
    note = _comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
    if not config.nodeport_addresses:
        return (f"{note} -m addrtype --dst-type LOCAL -j {KUBE_NODEPORTS}",)
    return tuple(f"{note} -d {ip}/32 -j {KUBE_NODEPORTS}" for ip in config.nodeport_addresses)


def base_chains(config: IptablesConfig) -> dict[ChainKey, tuple[str, ...]]:
    """The node-wide chains that do not depend on any service."""
    mark = config.masquerade_mark
    return {
        (NAT, KUBE_MARK_MASQ): (f"-j MARK --or-mark {mark}",),
        (NAT, KUBE_POSTROUTING): (
            f"-m mark ! --mark {mark}/{mark} -j RETURN",
            f"-j MARK --xor-mark {mark}",
            f"{_comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully",
        ),
        (FILTER, KUBE_FORWARD): (
            "-m conntrack --ctstate INVALID -j DROP",
            f"{_comment('kubernetes forwarding rules')} -m mark --mark {mark}/{mark} -j ACCEPT",
            f"{_comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ),
        # route_localnet=1 (needed for NodePorts on 127.0.0.1) would otherwise let other
        # hosts reach services bound to loopback (CVE-2020-8558): drop such packets.
        (FILTER, KUBE_FIREWALL): (
            f"{_comment('block incoming localnet connections')} ! -s 127.0.0.0/8 -d 127.0.0.0/8 "
            "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        ),
    }


@dataclass(frozen=True)
class Hook:
    """A jump from a built-in chain into ours, kept at the top of that chain in this order."""

    table: str
    chain: str
    rule: str


def hooks(forward_chain: str = "FORWARD") -> tuple[Hook, ...]:
    """Jumps from the built-in chains.  Forwarded traffic hooks from ``forward_chain``
    (``DOCKER-USER`` when Docker is installed, so Docker's own FORWARD rules cannot pre-empt
    ours)."""
    portals = _comment("kubernetes service portals")
    external = _comment("kubernetes externally-visible service portals")
    lb_fw = _comment("kubernetes load balancer firewall")
    new = "-m conntrack --ctstate NEW"
    return (
        Hook(NAT, "PREROUTING", f"{portals} -j {KUBE_SERVICES}"),
        Hook(NAT, "OUTPUT", f"{portals} -j {KUBE_SERVICES}"),
        Hook(NAT, "POSTROUTING", f"{_comment('kubernetes postrouting rules')} -j {KUBE_POSTROUTING}"),
        Hook(FILTER, "INPUT", f"{new} {lb_fw} -j {KUBE_PROXY_FIREWALL}"),
        Hook(FILTER, "INPUT", f"{_comment('kubernetes health check service ports')} -j {KUBE_NODEPORTS}"),
        Hook(FILTER, "INPUT", f"{new} {external} -j {KUBE_EXTERNAL_SERVICES}"),
        Hook(FILTER, "INPUT", f"-j {KUBE_FIREWALL}"),
        Hook(FILTER, forward_chain, f"{new} {lb_fw} -j {KUBE_PROXY_FIREWALL}"),
        Hook(FILTER, forward_chain, f"{_comment('kubernetes forwarding rules')} -j {KUBE_FORWARD}"),
        Hook(FILTER, forward_chain, f"{new} {portals} -j {KUBE_SERVICES}"),
        Hook(FILTER, forward_chain, f"{new} {external} -j {KUBE_EXTERNAL_SERVICES}"),
        Hook(FILTER, "OUTPUT", f"{new} {lb_fw} -j {KUBE_PROXY_FIREWALL}"),
        Hook(FILTER, "OUTPUT", f"{new} {portals} -j {KUBE_SERVICES}"),
        Hook(FILTER, "OUTPUT", f"-j {KUBE_FIREWALL}"),
    )


def render_ruleset(
    model: Mapping[ServicePortName, ServicePortInfo], config: IptablesConfig
) -> tuple[Ruleset, dict[ServicePortName, Fragment]]:
    """The complete ruleset for ``model`` (base + shared + per-service chains) and its fragments."""
    fragments = {name: render_service_port(model[name], config) for name in sorted(model)}
    return assemble(fragments, config), fragments


def assemble(fragments: Mapping[ServicePortName, Fragment], config: IptablesConfig) -> Ruleset:
    """Join fragments into one ruleset: shared chains get every fragment's lines + their tail."""
    rules: Ruleset = {k: list(v) for k, v in base_chains(config).items()}
    for key in SHARED_CHAINS:
        rules[key] = []
    for name in sorted(fragments):
        frag = fragments[name]
        for key, lines in frag.shared.items():
            rules[key].extend(lines)
        for key, lines in frag.chains.items():
            rules[key] = list(lines)
    for key in SHARED_CHAINS:
        rules[key].extend(shared_tail(key, config))
    return rules


# -- restore text ------------------------------------------------------------------------------
@dataclass
class RestoreInput:
    """An ``iptables-restore --noflush`` transaction, built per table.

    ``declare`` flushes (or creates) a chain, ``append`` adds lines after it, ``delete_rule``
    / ``insert_rule`` edit single lines of a chain that is *not* declared, ``delete_chain``
    removes a chain (it is declared first, because a chain must be empty to be deleted).
    """

    declared: dict[ChainKey, list[str]] = field(default_factory=dict)
    deleted_rules: list[tuple[ChainKey, str]] = field(default_factory=list)
    inserted_rules: list[tuple[ChainKey, str]] = field(default_factory=list)
    deleted_chains: list[ChainKey] = field(default_factory=list)

    def declare(self, key: ChainKey, rules: Iterable[str]) -> None:
        self.declared[key] = list(rules)

    @property
    def empty(self) -> bool:
        return not (self.declared or self.deleted_rules or self.inserted_rules or self.deleted_chains)

    def lines_changed(self) -> int:
        return (
            sum(len(r) + 1 for r in self.declared.values())
            + len(self.deleted_rules)
            + len(self.inserted_rules)
            + len(self.deleted_chains)
        )

    def text(self) -> str:
        out: list[str] = []
        for table in (FILTER, NAT):
            chains = [k for k in self.declared if k[0] == table]
            dels = [k for k in self.deleted_chains if k[0] == table]
            drules = [(k, r) for k, r in self.deleted_rules if k[0] == table]
            irules = [(k, r) for k, r in self.inserted_rules if k[0] == table]
            if not (chains or dels or drules or irules):
                continue
            out.append(f"*{table}")
            out.extend(f":{chain} - [0:0]" for _, chain in chains)
            out.extend(f":{chain} - [0:0]" for _, chain in dels if (table, chain) not in self.declared)
            out.extend(f"-D {k[1]} {rule}" for k, rule in drules)
            out.extend(f"-I {k[1]} 1 {rule}" for k, rule in irules)
            for key in chains:
                out.extend(f"-A {key[1]} {rule}" for rule in self.declared[key])
            out.extend(f"-X {chain}" for _, chain in dels)
            out.append("COMMIT")
        return "\n".join(out) + "\n" if out else ""


def full_restore(ruleset: Mapping[ChainKey, list[str]]) -> RestoreInput:
    """Declare and fill every chain of ``ruleset`` (the first sync, or a full resync)."""
    tx = RestoreInput()
    for key, rules in ruleset.items():
        tx.declare(key, rules)
    return tx
