"""nftables mode rendering: verdict-map elements per service port, small deltas."""

from __future__ import annotations

from typing import Any

from minik.proxy.model import ServicePortName, build_model
from minik.proxy.nftables import (
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    NftConfig,
    affinity_set,
    compute_delta,
    endpoint_chain,
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


def test_cluster_ip_is_one_map_element_and_numgen_balancing() -> None:
    info = model()[WEB]
    frag = render_service_port(info, CFG)
    svc_chain = (
        "service-"
        + frag.elements[SERVICE_IPS][0].split("goto service-")[1].split("-", 1)[0]
        + "-default/web/tcp/http"
    )
    assert frag.elements == {SERVICE_IPS: (f"10.96.0.50 . tcp . 80 : goto {svc_chain}",)}
    ep_chains = [endpoint_chain(info, e) for e in info.endpoints]
    assert frag.chains[svc_chain] == (
        "ip daddr 10.96.0.50 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
        f"numgen random mod 3 vmap {{ 0 : goto {ep_chains[0]}, 1 : goto {ep_chains[1]}, 2 : goto {ep_chains[2]} }}",
    )
    assert frag.chains[ep_chains[0]] == (
        "ip saddr 10.244.0.5 jump mark-for-masquerade",
        "meta l4proto tcp dnat to 10.244.0.5:8080",
    )
    assert ep_chains[0].endswith("-default/web/tcp/http__10.244.0.5/8080")


def test_affinity_uses_a_timed_set_per_endpoint() -> None:
    info = model(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}})[WEB]
    frag = render_service_port(info, CFG)
    ep = info.endpoints[0]
    name = affinity_set(info, ep)
    assert frag.sets[name] == "type ipv4_addr ; flags dynamic,timeout ; timeout 30s ;"
    assert f"update @{name} {{ ip saddr }}" in frag.chains[endpoint_chain(info, ep)]
    svc_rules = next(v for k, v in frag.chains.items() if k.startswith("service-"))
    assert svc_rules[1] == f"ip saddr @{name} goto {endpoint_chain(info, ep)}"


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
    assert empty.chains == {}
    assert empty.elements == {
        NO_ENDPOINT_SERVICES: ("10.96.0.50 . tcp . 80 : goto reject-chain",),
        NO_ENDPOINT_NODEPORTS: ("tcp . 30080 : goto reject-chain",),
    }


def test_full_table_declares_before_use_and_replaces_atomically() -> None:
    text = render_table({WEB: render_service_port(model()[WEB], CFG)}, CFG, ["10.96.0.0/12"])
    lines = text.splitlines()
    assert lines[:3] == ["add table ip minik-t", "delete table ip minik-t", "table ip minik-t {"]
    assert "\tset trapped { type ipv4_addr ; flags interval ; elements = { 10.96.0.0/12 } ; }" in lines
    first_rule = next(i for i, line in enumerate(lines) if line.startswith("add rule"))
    assert all(not line.startswith("\tchain") for line in lines[first_rule:])
    assert lines[-1].startswith("add element ip minik-t service-ips { 10.96.0.50 . tcp . 80 : goto service-")


def test_one_endpoint_change_is_a_few_commands() -> None:
    before, after = model(), model(endpoints=EPS[:2])
    old = {WEB: render_service_port(before[WEB], CFG)}
    new = {WEB: render_service_port(after[WEB], CFG)}
    delta = compute_delta("minik-t", old, new, {WEB})
    text = delta.text().splitlines()
    gone = endpoint_chain(before[WEB], before[WEB].endpoints[2])
    assert not delta.added_elements and not delta.deleted_elements  # the maps are untouched
    assert text[0].startswith("flush chain ip minik-t service-")
    assert text[-2:] == [f"flush chain ip minik-t {gone}", f"delete chain ip minik-t {gone}"]
    assert len(text) == 5  # flush + 2 rules for the service chain, flush + delete the endpoint chain


def test_losing_all_endpoints_swaps_map_elements() -> None:
    old = {WEB: render_service_port(model()[WEB], CFG)}
    new = {WEB: render_service_port(model(endpoints=[])[WEB], CFG)}
    delta = compute_delta("minik-t", old, new, {WEB})
    assert [m for m, _ in delta.deleted_elements] == [SERVICE_IPS]
    assert delta.added_elements == [(NO_ENDPOINT_SERVICES, "10.96.0.50 . tcp . 80 : goto reject-chain")]
    text = delta.text()
    assert "delete element ip minik-t service-ips { 10.96.0.50 . tcp . 80 }" in text
    assert text.index("delete element") < text.index("delete chain")  # unreference, then delete
