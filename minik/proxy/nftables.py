"""nftables mode: one table of our own, verdict maps instead of rule lists.

iptables finds a service by walking KUBE-SERVICES rule by rule; nftables looks the packet
up in a hash map.  Everything lives in one table (``ip minik-proxy`` by default), so the
proxy never touches anybody else's rules and cleanup is ``delete table``::

    nat-prerouting / nat-output (hook, priority dstnat) ─▶ chain services
        ip daddr . meta l4proto . th dport vmap @service-ips
            10.96.0.10 . tcp . 80 : goto service-<H>-ns/web/tcp/http
            203.0.113.7 . tcp . 80 : goto external-<H>-ns/web/tcp/http   (externalIP / LB IP)
        fib daddr type local meta l4proto . th dport vmap @service-nodeports
            tcp . 30080 : goto external-<H>-ns/web/tcp/http              (NodePort, any local address)
    service-<H>-...                                 (one per service port)
        ip daddr 10.96.0.10 tcp dport 80 ip saddr != <pod CIDR> jump mark-for-masquerade
        meta l4proto tcp dnat ip to numgen random mod 3 offset 65536 map @endpoints-tcp
    map endpoints-tcp                               (shared; one element per endpoint)
        65536 : 10.244.1.5 . 8080, 65537 : 10.244.2.7 . 8080, 65538 : 10.244.3.9 . 8080
    nat-postrouting
        ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade   (hairpin)
        jump masquerading: packets with mark 0x4000 are masqueraded.

A service port costs one chain and no set: ``nft`` (1.0.x) reloads every chain and every set
of every table from the kernel before each transaction that adds a rule or an element, so
the per-change cost grows with their number (several µs each, see docs/proxy.md) — and an
anonymous ``map { … }`` in a rule is a set too.  So the endpoints live in one shared map per
protocol, keyed by integers: service port *slot* ``s`` (a small number the applier allocates
and keeps for the port's lifetime) owns keys ``s·65536 + i`` (cluster endpoints) and
``s·65536 + 32768 + i`` (``Local``-policy endpoints), and its chain picks one with ``numgen
random mod N offset <base>``.  Replacing an endpoint is then two map elements; the chain is
rewritten only when the number of endpoints changes.  Hairpin traffic — an endpoint that
reached itself through the Service — is recognised after DNAT,
where its source equals its destination: the ``hairpin`` set holds ``ip . ip`` for every
endpoint address (reference-counted: one address may serve many service ports).  With
ClientIP affinity the service chain still dispatches to per-endpoint chains::

    service-<H>-...
        ip saddr @affinity-<E> goto endpoint-<E>-...                      (ClientIP affinity)
        numgen random mod 3 vmap { 0 : goto endpoint-a, 1 : goto endpoint-b, 2 : goto endpoint-c }
    endpoint-<E>-ns/web/tcp/http__10.244.1.5/8080   (one per endpoint, affinity only)
        update @affinity-<E> { ip saddr }                                 (remember the client)
        meta l4proto tcp dnat to 10.244.1.5:8080

Service ports without endpoints have entries in ``no-endpoint-services`` (ClusterIP),
``no-endpoint-external`` and ``no-endpoint-nodeports`` instead, looked up from filter hooks
that run before the DNAT verdict matters; their verdict is ``goto reject-chain`` (ICMP port
unreachable / TCP reset) or ``drop`` (Local policy, endpoints only on other nodes).
``external-*`` chains implement externalTrafficPolicy exactly like KUBE-EXT-* in iptables
mode.  The ``trapped`` interval set and the ``trap-*`` chains (priority after DNAT) reject
anything still addressed to the service range — see ``safety.py``.

Balancing uses ``numgen random mod N`` — uniform, one lookup, no probability cascade — and
affinity uses one timed set per endpoint: a client address stays in ``affinity-<E>`` for the
affinity timeout after its last new connection.

Because every service port owns its own chains, sets and map *elements*, an update is a
short ``nft -f`` transaction: one endpoint change flushes and refills one service chain and
swaps one ``hairpin`` element; a new Service adds a few map elements.  The whole
transaction is atomic, and the first (or a full) sync replaces the
whole table atomically with ``add table; delete table; table … { … }``.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from minik.proxy.model import (
    EndpointInfo,
    EndpointSet,
    ExternalStep,
    ServicePortInfo,
    ServicePortName,
    plan_traffic,
)

DEFAULT_TABLE = "minik-proxy"
SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_EXTERNAL = "no-endpoint-external"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
TRAPPED = "trapped"
HAIRPIN = "hairpin"
#: The shared endpoint maps, one per protocol: a ``typeof … th dport`` map read back from the
#: kernel clashes with ``meta l4proto tcp`` in nft 1.0.6, ``tcp dport`` data does not.
PROTOCOLS = ("tcp", "udp", "sctp")


def endpoints_map(proto: str) -> str:
    return f"endpoints-{proto}"


#: Keys of the ``endpoints`` map per service port slot (cluster half, Local-policy half).
SLOT_KEYS = 1 << 16
MAX_SLOTS = (1 << 32) // SLOT_KEYS - 1
MAPS: dict[str, str] = {
    SERVICE_IPS: "ipv4_addr . inet_proto . inet_service : verdict",
    SERVICE_NODEPORTS: "inet_proto . inet_service : verdict",
    NO_ENDPOINT_SERVICES: "ipv4_addr . inet_proto . inet_service : verdict",
    NO_ENDPOINT_EXTERNAL: "ipv4_addr . inet_proto . inet_service : verdict",
    NO_ENDPOINT_NODEPORTS: "inet_proto . inet_service : verdict",
    **{endpoints_map(p): f"typeof numgen random mod 1 : ip daddr . {p} dport" for p in PROTOCOLS},
}


@dataclass(frozen=True)
class NftConfig:
    table: str = DEFAULT_TABLE
    cluster_cidr: str | None = None
    masquerade_all: bool = False
    masquerade_mark: str = "0x4000"


@dataclass(frozen=True)
class NftFragment:
    """What one service port owns: chains, affinity sets, and elements of the shared maps."""

    chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sets: Mapping[str, str] = field(default_factory=dict)
    elements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Endpoint addresses that need hairpin masquerade (elements of the shared ``hairpin`` set).
    hairpin: tuple[str, ...] = ()

    @property
    def rule_count(self) -> int:
        """Rules and map elements in the kernel for this service port."""
        return sum(map(len, self.chains.values())) + sum(map(len, self.elements.values()))


# -- names --------------------------------------------------------------------------------------
def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def _base(info: ServicePortInfo) -> str:
    n = info.name
    return f"{n.namespace}/{n.name}/{n.protocol.lower()}/{n.port or f'p{info.port}'}"


def _chain(kind: str, info: ServicePortInfo) -> str:
    base = _base(info)
    return f"{kind}-{_hash(base)}-{base}"


def endpoint_chain(info: ServicePortInfo, ep: EndpointInfo) -> str:
    base = f"{_base(info)}__{ep.ip}/{ep.port}"
    return f"endpoint-{_hash(base)}-{base}"


def affinity_set(info: ServicePortInfo, ep: EndpointInfo) -> str:
    base = f"{_base(info)}__{ep.ip}/{ep.port}"
    return f"affinity-{_hash(base)}-{base}"


# -- per service port ----------------------------------------------------------------------------
def render_service_port(info: ServicePortInfo, config: NftConfig, slot: int = 1) -> NftFragment:
    """The chains, sets and map elements of one service port (``slot``: see the module docs).

    The decisions — which endpoint set each kind of traffic uses, reject or drop, what the
    external entry chain does — are :func:`~minik.proxy.model.plan_traffic`'s; this
    function spells them as nftables rules and map elements."""
    if not 1 <= slot <= MAX_SLOTS:
        raise ValueError(f"service port slot {slot} out of range")
    proto = info.protocol.lower()
    plan = plan_traffic(info, cluster_cidr=config.cluster_cidr, masquerade_all=config.masquerade_all)
    chain_of: dict[EndpointSet, str] = {
        "cluster": _chain("service", info),
        "local": _chain("service-local", info),
    }
    ext, fw = _chain("external", info), _chain("firewall", info)
    no_ep_verdict = "goto reject-chain" if plan.no_endpoints == "reject" else "drop"

    chains: dict[str, tuple[str, ...]] = {}
    sets: dict[str, str] = {}
    elements: dict[str, list[str]] = {}

    def element(map_name: str, key: str, verdict: str) -> None:
        elements.setdefault(map_name, []).append(f"{key} : {verdict}")

    vip_key = f"{info.cluster_ip} . {proto} . {info.port}"
    if plan.internal is not None:
        element(SERVICE_IPS, vip_key, f"goto {chain_of[plan.internal]}")
    else:
        element(NO_ENDPOINT_SERVICES, vip_key, no_ep_verdict)
    for ips, target in ((info.external_ips, ext), (info.load_balancer_ips, fw if plan.firewall else ext)):
        for ip in ips:
            if plan.any_endpoints:
                element(SERVICE_IPS, f"{ip} . {proto} . {info.port}", f"goto {target}")
            if plan.external is None:
                element(NO_ENDPOINT_EXTERNAL, f"{ip} . {proto} . {info.port}", no_ep_verdict)
    if info.node_port:
        if plan.any_endpoints:
            element(SERVICE_NODEPORTS, f"{proto} . {info.node_port}", f"goto {ext}")
        if plan.external is None:
            element(NO_ENDPOINT_NODEPORTS, f"{proto} . {info.node_port}", no_ep_verdict)

    if plan.external_steps:
        policy_chain = chain_of[plan.external] if plan.external is not None else ""
        chains[ext] = tuple(
            _external_rule(step, config, chain_of["cluster"], policy_chain) for step in plan.external_steps
        )
    if plan.firewall:
        ranges = ", ".join(info.load_balancer_source_ranges)
        chains[fw] = (f"ip saddr {{ {ranges} }} goto {ext}", "drop")

    for which, used in plan.balanced:
        base = slot * SLOT_KEYS + (SLOT_KEYS // 2 if which == "local" else 0)
        rules: list[str] = []
        if which == plan.internal and plan.masquerade is not None:
            match = f"ip daddr {info.cluster_ip} {proto} dport {info.port}"
            off_cluster = f" ip saddr != {config.cluster_cidr}" if plan.masquerade == "off-cluster" else ""
            rules.append(f"{match}{off_cluster} jump mark-for-masquerade")
        if info.affinity_timeout is None:
            used = used[: SLOT_KEYS // 2]
            rules.append(
                f"meta l4proto {proto} dnat ip to numgen random mod {len(used)} offset {base} map @{endpoints_map(proto)}"
            )
            element_list = elements.setdefault(endpoints_map(proto), [])
            element_list += [f"{base + i} : {e.ip} . {e.port}" for i, e in enumerate(used)]
        else:
            rules += [f"ip saddr @{affinity_set(info, e)} goto {endpoint_chain(info, e)}" for e in used]
            if len(used) == 1:
                rules.append(f"goto {endpoint_chain(info, used[0])}")
            else:
                vmap = ", ".join(f"{i} : goto {endpoint_chain(info, e)}" for i, e in enumerate(used))
                rules.append(f"numgen random mod {len(used)} vmap {{ {vmap} }}")
        chains[chain_of[which]] = tuple(rules)
    reachable = plan.endpoints.reachable
    if info.affinity_timeout is not None:
        for e in reachable:
            name = affinity_set(info, e)
            sets[name] = f"type ipv4_addr ; flags dynamic,timeout ; timeout {info.affinity_timeout}s ;"
            chains[endpoint_chain(info, e)] = (
                f"update @{name} {{ ip saddr }}",
                f"meta l4proto {proto} dnat to {e.ip}:{e.port}",
            )
    hairpin = tuple(sorted({e.ip for e in reachable}))
    return NftFragment(chains, sets, {k: tuple(v) for k, v in elements.items()}, hairpin)


def _external_rule(step: ExternalStep, config: NftConfig, cluster: str, policy: str) -> str:
    """One rule of the ``external-*`` chain (``cluster``: the ``service-*`` chain,
    ``policy``: the chain the external policy names)."""
    if step is ExternalStep.MASQUERADE_ALL:
        return "jump mark-for-masquerade"
    if step is ExternalStep.PODS_TO_CLUSTER:
        return f"ip saddr {config.cluster_cidr} goto {cluster}"
    if step is ExternalStep.MASQUERADE_NODE:
        return "fib saddr type local jump mark-for-masquerade"
    if step is ExternalStep.NODE_TO_CLUSTER:
        return f"fib saddr type local goto {cluster}"
    return f"goto {policy}"


def hairpin_element(ip: str) -> str:
    return f"{ip} . {ip}"


# -- the table ------------------------------------------------------------------------------------
def base_chains(config: NftConfig) -> dict[str, tuple[str, ...]]:
    """Node-wide chains; hook chains start with their ``type ... hook ...`` line."""
    mark = config.masquerade_mark
    check = "ct state new jump service-endpoints-check"
    return {
        "nat-prerouting": ("type nat hook prerouting priority dstnat ; policy accept ;", "jump services"),
        "nat-output": ("type nat hook output priority -100 ; policy accept ;", "jump services"),
        "nat-postrouting": (
            "type nat hook postrouting priority srcnat ; policy accept ;",
            # Hairpin: after DNAT an endpoint that reached itself has saddr == daddr.
            f"ct status dnat ip saddr . ip daddr @{HAIRPIN} jump mark-for-masquerade",
            "jump masquerading",
        ),
        "filter-input": (
            "type filter hook input priority -110 ; policy accept ;",
            check,
            "ct state new jump external-endpoints-check",
            # route_localnet=1 must not expose loopback services to other hosts.
            "ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != { established, related } "
            "ct status & dnat == 0 drop",
        ),
        "filter-forward": (
            "type filter hook forward priority -110 ; policy accept ;",
            "ct state invalid drop",
            check,
            "ct state new jump external-endpoints-check",
        ),
        "filter-output": ("type filter hook output priority -110 ; policy accept ;", check),
        # After DNAT (priority 0 > -100): only packets no service claimed still have these addresses.
        "trap-output": (
            "type filter hook output priority 10 ; policy accept ;",
            f"ip daddr @{TRAPPED} reject",
        ),
        "trap-forward": (
            "type filter hook forward priority 10 ; policy accept ;",
            f"ip daddr @{TRAPPED} reject",
        ),
        "mark-for-masquerade": (f"meta mark set meta mark | {mark}",),
        "masquerading": (
            f"meta mark & {mark} == 0 return",
            f"meta mark set meta mark ^ {mark}",
            "masquerade fully-random",
        ),
        "services": (
            f"ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}",
            f"fib daddr type local meta l4proto . th dport vmap @{SERVICE_NODEPORTS}",
        ),
        "service-endpoints-check": (f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}",),
        "external-endpoints-check": (
            f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_EXTERNAL}",
            f"fib daddr type local meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}",
        ),
        "reject-chain": ("reject",),
    }


def render_table(
    fragments: Mapping[ServicePortName, NftFragment], config: NftConfig, trapped: Iterable[str]
) -> str:
    """``nft -f`` input that atomically replaces the whole table with this content.

    Objects are declared first (sets, maps, then every chain, so any rule may jump to any
    chain), then the rules, then the map elements in chunks."""
    t = config.table
    chains: dict[str, tuple[str, ...]] = dict(base_chains(config))
    sets: dict[str, str] = {
        TRAPPED: f"type ipv4_addr ; flags interval ; elements = {{ {', '.join(trapped)} }} ;",
        HAIRPIN: "type ipv4_addr . ipv4_addr ;",
    }
    elements: dict[str, list[str]] = {m: [] for m in (*MAPS, HAIRPIN)}
    for spn in sorted(fragments):
        frag = fragments[spn]
        sets.update(frag.sets)
        chains.update(frag.chains)
        for m, new_elems in frag.elements.items():
            elements[m].extend(new_elems)
    elements[HAIRPIN] = [hairpin_element(ip) for ip in sorted(hairpin_counts(fragments.values()))]
    out = [f"add table ip {t}", f"delete table ip {t}", f"table ip {t} {{"]
    out += [f"\tset {name} {{ {body} }}" for name, body in sets.items()]
    out += [
        f"\tmap {name} {{ {'' if type_.startswith('typeof') else 'type '}{type_} ; }}"
        for name, type_ in MAPS.items()
    ]
    for name, rules in chains.items():
        hook = rules[0] if rules and rules[0].startswith("type ") else ""
        out.append(f"\tchain {name} {{ {hook} }}")
    out.append("}")
    for name, rules in chains.items():
        body = rules[1:] if rules and rules[0].startswith("type ") else rules
        out += [f"add rule ip {t} {name} {r}" for r in body]
    for m, elems in elements.items():
        for i in range(0, len(elems), 1000):
            out.append(f"add element ip {t} {m} {{ {', '.join(elems[i : i + 1000])} }}")
    return "\n".join(out) + "\n"


class SlotAllocator:
    """Stable small integers for service ports (their key range in the ``endpoints`` map)."""

    def __init__(self) -> None:
        self.slots: dict[ServicePortName, int] = {}
        self._free: list[int] = []
        self._next = 1

    def get(self, name: ServicePortName) -> int:
        slot = self.slots.get(name)
        if slot is None:
            if self._free:
                slot = self._free.pop()
            elif self._next <= MAX_SLOTS:
                slot, self._next = self._next, self._next + 1
            else:
                raise ValueError(f"more than {MAX_SLOTS} service ports")
            self.slots[name] = slot
        return slot

    def release(self, name: ServicePortName) -> None:
        """Free ``name``'s slot — only once no rule or element uses it any more."""
        slot = self.slots.pop(name, None)
        if slot is not None:
            self._free.append(slot)


@dataclass
class NftDelta:
    """An incremental ``nft -f`` transaction between two sets of fragments."""

    table: str
    new_sets: dict[str, str] = field(default_factory=dict)
    new_chains: list[str] = field(default_factory=list)
    written_chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    deleted_elements: list[tuple[str, str]] = field(default_factory=list)
    added_elements: list[tuple[str, str]] = field(default_factory=list)
    deleted_chains: list[str] = field(default_factory=list)
    deleted_sets: list[str] = field(default_factory=list)
    #: How the reference counts of ``hairpin`` addresses change (see :func:`apply_hairpin`).
    hairpin_diff: Counter[str] = field(default_factory=Counter)

    @property
    def empty(self) -> bool:
        return not (
            self.new_sets or self.written_chains or self.deleted_elements or self.added_elements
            or self.deleted_chains or self.deleted_sets
        )  # fmt: skip

    def text(self) -> str:
        t = self.table
        out: list[str] = []
        out += [f"add set ip {t} {name} {{ {body} }}" for name, body in self.new_sets.items()]
        out += [f"add chain ip {t} {name}" for name in self.new_chains]
        for name, rules in self.written_chains.items():
            if name not in self.new_chains:
                out.append(f"flush chain ip {t} {name}")
            out += [f"add rule ip {t} {name} {r}" for r in rules]
        out += [f"delete element ip {t} {m} {{ {e.split(' : ')[0]} }}" for m, e in self.deleted_elements]
        out += [f"add element ip {t} {m} {{ {e} }}" for m, e in self.added_elements]
        out += [f"flush chain ip {t} {name}" for name in self.deleted_chains]
        out += [f"delete chain ip {t} {name}" for name in self.deleted_chains]
        out += [f"delete set ip {t} {name}" for name in self.deleted_sets]
        return "\n".join(out) + "\n" if out else ""


def hairpin_counts(fragments: Iterable[NftFragment]) -> Counter[str]:
    """How many service ports list each endpoint address for hairpin masquerade."""
    counts: Counter[str] = Counter()
    for frag in fragments:
        counts.update(frag.hairpin)
    return counts


def compute_delta(
    table: str,
    old: Mapping[ServicePortName, NftFragment],
    new: Mapping[ServicePortName, NftFragment],
    changed: Iterable[ServicePortName],
    hairpin: Mapping[str, int] | None = None,
) -> NftDelta:
    """The transaction turning ``old`` into ``new`` for the ``changed`` service ports.

    Only the changed service ports are looked at; ``hairpin`` is the current reference count
    of every address in the ``hairpin`` set (computed from ``old`` when not given — that walks
    every fragment, which the applier avoids by keeping the counts)."""
    d = NftDelta(table)
    counts = hairpin if hairpin is not None else hairpin_counts(old.values())
    for name in sorted(changed):
        before = old.get(name) or NftFragment()
        after = new.get(name) or NftFragment()
        for s, body in after.sets.items():
            if s not in before.sets:
                d.new_sets[s] = body
        for chain, rules in after.chains.items():
            if chain not in before.chains:
                d.new_chains.append(chain)
                d.written_chains[chain] = rules
            elif before.chains[chain] != rules:
                d.written_chains[chain] = rules
        for m in {*before.elements, *after.elements}:
            was, now = set(before.elements.get(m, ())), set(after.elements.get(m, ()))
            d.deleted_elements += [(m, e) for e in sorted(was - now)]
            d.added_elements += [(m, e) for e in sorted(now - was)]
        d.deleted_chains += [c for c in before.chains if c not in after.chains]
        d.deleted_sets += [s for s in before.sets if s not in after.sets]
        d.hairpin_diff.subtract(before.hairpin)
        d.hairpin_diff.update(after.hairpin)
    for ip in sorted(d.hairpin_diff):
        refs = counts.get(ip, 0)
        after_refs = refs + d.hairpin_diff[ip]
        if refs > 0 and after_refs <= 0:
            d.deleted_elements.append((HAIRPIN, hairpin_element(ip)))
        elif after_refs > 0 and refs <= 0:
            d.added_elements.append((HAIRPIN, hairpin_element(ip)))
    return d


def apply_hairpin(counts: Counter[str], diff: Mapping[str, int]) -> None:
    """Update the ``hairpin`` reference counts in place once a delta has been applied."""
    for ip, n in diff.items():
        left = counts[ip] + n
        if left > 0:
            counts[ip] = left
        else:
            del counts[ip]
