"""nftables mode rendering: map elements per service port, one chain each, small deltas."""

from __future__ import annotations

from collections import Counter
from typing import Any

from minik.proxy.model import ServicePortName, build_model
from minik.proxy.nftables import (
    HAIRPIN,
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    NftConfig,
    SlotAllocator,
    affinity_set,
    apply_hairpin,
    compute_delta,
    endpoint_chain,
    endpoints_map,
    render_service_port,
    render_table,
)
from tests.proxy.objects import endpoint, endpoint_slice, service

CFG = NftConfig(table="minik-t", cluster_cidr="10.244.0.0/16")
WEB = ServicePortName("default", "web", "http")
EPS = ["10.244.0.5", "10.244.1.5", "10.244.2.5"]


def model(endpoints: list[str] = EPS, **spec: Any) -> Any:
    svc = service("web", "10.96.0.50", **spec)
    return build_model([svc], [endpoint_slice("web", [endpoint(ip) for ip in endpoints])], "node-a")


def test_cluster_ip_is_one_chain_and_endpoints_are_shared_map_elements() -> None:
    info = model()[WEB]
    frag = render_service_port(info, CFG, slot=7)
    svc_chain = (
        "service-"
        + frag.elements[SERVICE_IPS][0].split("goto service-")[1].split("-", 1)[0]
        + "-default/web/tcp/http"
    )
    base = 7 * 65536
    assert frag.elements == {
        SERVICE_IPS: (f"10.96.0.50 . tcp . 80 : goto {svc_chain}",),
        endpoints_map("tcp"): (
            f"{base} : 10.244.0.5 . 8080",
            f"{base + 1} : 10.244.1.5 . 8080",
            f"{base + 2} : 10.244.2.5 . 8080",
        ),
    }
    # One chain, no anonymous set (nft reloads every chain and set before each change).
    assert frag.chains == {
        svc_chain: (
            "ip daddr 10.96.0.50 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
            f"meta l4proto tcp dnat ip to numgen random mod 3 offset {base} map @endpoints-tcp",
        )
    }
    assert frag.sets == {}
    assert frag.hairpin == tuple(EPS)


def test_slots_are_stable_and_reused_only_after_release() -> None:
    slots = SlotAllocator()
    other = ServicePortName("default", "db", "sql")
    assert (slots.get(WEB), slots.get(other), slots.get(WEB)) == (1, 2, 1)
    slots.release(WEB)
    assert slots.get(ServicePortName("default", "new", "")) == 1


def test_affinity_uses_a_timed_set_per_endpoint() -> None:
    info = model(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}})[WEB]
    frag = render_service_port(info, CFG)
    ep = info.endpoints[0]
    name = affinity_set(info, ep)
    assert frag.sets[name] == "type ipv4_addr ; flags dynamic,timeout ; timeout 30s ;"
    assert frag.chains[endpoint_chain(info, ep)] == (
        f"update @{name} {{ ip saddr }}",
        "meta l4proto tcp dnat to 10.244.0.5:8080",
    )
    svc_rules = next(v for k, v in frag.chains.items() if k.startswith("service-"))
    assert svc_rules[1] == f"ip saddr @{name} goto {endpoint_chain(info, ep)}"
    assert svc_rules[-1].startswith("numgen random mod 3 vmap { 0 : goto endpoint-")


def test_nodeport_and_no_endpoints() -> None:
    np: dict[str, Any] = {
        "type": "NodePort",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
    }
    frag = render_service_port(model(**np)[WEB], CFG)
    (elem,) = frag.elements[SERVICE_NODEPORTS]
    assert elem.startswith("tcp . 30080 : goto external-")
    ext = elem.split("goto ")[1]
    assert frag.chains[ext][0] == "jump mark-for-masquerade"
    empty = render_service_port(model(endpoints=[], **np)[WEB], CFG)
    assert empty.chains == {} and empty.hairpin == ()
    assert empty.elements == {
        NO_ENDPOINT_SERVICES: ("10.96.0.50 . tcp . 80 : goto reject-chain",),
        NO_ENDPOINT_NODEPORTS: ("tcp . 30080 : goto reject-chain",),
    }


def test_full_table_declares_before_use_and_replaces_atomically() -> None:
    text = render_table({WEB: render_service_port(model()[WEB], CFG)}, CFG, ["10.96.0.0/12"])
    lines = text.splitlines()
    assert lines[:3] == ["add table ip minik-t", "delete table ip minik-t", "table ip minik-t {"]
    assert "\tset trapped { type ipv4_addr ; flags interval ; elements = { 10.96.0.0/12 } ; }" in lines
    assert "\tmap endpoints-udp { typeof numgen random mod 1 : ip daddr . udp dport ; }" in lines
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule"))
    assert all(not line.startswith("\tchain") for line in lines[first_rule:])
    assert (
        "add rule ip minik-t nat-postrouting "
        "ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade"
    ) in lines
    assert "add element ip minik-t service-ips { 10.96.0.50 . tcp . 80 : goto service-" in text
    assert lines[-1] == (
        "add element ip minik-t hairpin { 10.244.0.5 . 10.244.0.5, 10.244.1.5 . 10.244.1.5, "
        "10.244.2.5 . 10.244.2.5 }"
    )


def test_replacing_an_endpoint_is_element_changes_only() -> None:
    before, after = model(), model(endpoints=[*EPS[:2], "10.244.3.9"])
    old = {WEB: render_service_port(before[WEB], CFG)}
    new = {WEB: render_service_port(after[WEB], CFG)}
    hairpin = Counter({ip: 1 for ip in EPS})
    delta = compute_delta("minik-t", old, new, {WEB}, hairpin)
    assert delta.text().splitlines() == [
        "delete element ip minik-t endpoints-tcp { 65538 }",
        "delete element ip minik-t hairpin { 10.244.2.5 . 10.244.2.5 }",
        "add element ip minik-t endpoints-tcp { 65538 : 10.244.3.9 . 8080 }",
        "add element ip minik-t hairpin { 10.244.3.9 . 10.244.3.9 }",
    ]
    apply_hairpin(hairpin, delta.hairpin_diff)
    assert hairpin == Counter({"10.244.0.5": 1, "10.244.1.5": 1, "10.244.3.9": 1})


def test_one_endpoint_fewer_rewrites_the_service_chain() -> None:
    before, after = model(), model(endpoints=EPS[:2])
    old = {WEB: render_service_port(before[WEB], CFG)}
    new = {WEB: render_service_port(after[WEB], CFG)}
    text = compute_delta("minik-t", old, new, {WEB}).text().splitlines()
    assert text[0].startswith("flush chain ip minik-t service-")
    assert text[2].endswith("dnat ip to numgen random mod 2 offset 65536 map @endpoints-tcp")
    assert text[3:] == [
        "delete element ip minik-t endpoints-tcp { 65538 }",
        "delete element ip minik-t hairpin { 10.244.2.5 . 10.244.2.5 }",
    ]


def test_hairpin_elements_are_reference_counted() -> None:
    other = ServicePortName("default", "web", "https")
    old = {WEB: render_service_port(model()[WEB], CFG)}
    new = {other: render_service_port(model()[WEB], CFG, slot=2)}
    counts = Counter({ip: 1 for ip in EPS})
    # A second service port with the same endpoints: no hairpin element is added...
    delta = compute_delta("minik-t", old, new, {other}, counts)
    assert HAIRPIN not in {m for m, _ in delta.added_elements}
    apply_hairpin(counts, delta.hairpin_diff)
    assert counts == Counter({ip: 2 for ip in EPS})
    # ...and removing the first one keeps them while the second still uses them.
    both = {**old, **new}
    delta = compute_delta("minik-t", both, {}, {WEB}, counts)
    assert HAIRPIN not in {m for m, _ in delta.deleted_elements}
    apply_hairpin(counts, delta.hairpin_diff)
    assert counts == Counter({ip: 1 for ip in EPS})


def test_losing_all_endpoints_swaps_map_elements() -> None:
    old = {WEB: render_service_port(model()[WEB], CFG)}
    new = {WEB: render_service_port(model(endpoints=[])[WEB], CFG)}
    delta = compute_delta("minik-t", old, new, {WEB})
    assert Counter(m for m, _ in delta.deleted_elements) == {
        SERVICE_IPS: 1,
        endpoints_map("tcp"): 3,
        HAIRPIN: 3,
    }
    assert delta.added_elements == [(NO_ENDPOINT_SERVICES, "10.96.0.50 . tcp . 80 : goto reject-chain")]
    text = delta.text()
    assert "delete element ip minik-t service-ips { 10.96.0.50 . tcp . 80 }" in text
    assert text.index("delete element") < text.index("delete chain")  # unreference, then delete
