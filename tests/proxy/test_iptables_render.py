"""iptables mode rendering: upstream's chain layout, and rewriting only what changed."""

from __future__ import annotations

from typing import Any

from minik.proxy.hostexec import Runner
from minik.proxy.iptables import (
    FILTER,
    NAT,
    Fragment,
    IptablesConfig,
    RestoreInput,
    assemble,
    ext_chain,
    render_ruleset,
    render_service_port,
    sep_chain,
    svc_chain,
    svl_chain,
)
from minik.proxy.iptables_applier import IptablesApplier, compute_delta
from minik.proxy.model import ServicePortName, build_model
from tests.proxy.objects import endpoint, endpoint_slice, service

CFG = IptablesConfig(cluster_cidr="10.244.0.0/16")
WEB = ServicePortName("default", "web", "http", "TCP")
EPS = ["10.244.0.5", "10.244.1.5", "10.244.2.5"]


def web_model(*extra_svcs: dict[str, Any], endpoints: list[str] = EPS, **spec: Any) -> Any:
    svc = service("web", "10.96.0.50", **spec)
    return build_model(
        [svc, *extra_svcs], [endpoint_slice("web", [endpoint(ip) for ip in endpoints])], "node-a"
    )


def test_chain_names_are_upstreams_hashes() -> None:
    # Values as they appear in any kubeadm cluster's iptables-save.
    assert svc_chain(ServicePortName("default", "kubernetes", "https", "TCP")) == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert svc_chain(ServicePortName("kube-system", "kube-dns", "dns", "UDP")) == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert sep_chain(WEB, "10.244.0.5:8080").startswith("KUBE-SEP-") and len(sep_chain(WEB, "x")) <= 28


def test_cluster_ip_with_three_endpoints() -> None:
    frag = render_service_port(web_model()[WEB], CFG)
    svc = svc_chain(WEB)
    seps = [sep_chain(WEB, f"{ip}:8080") for ip in EPS]
    assert frag.shared == {
        (NAT, "KUBE-SERVICES"): (
            f'-m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50/32 --dport 80 -j {svc}',
        )
    }
    assert frag.chains[(NAT, svc)] == (
        '-m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50/32 --dport 80 '
        "! -s 10.244.0.0/16 -j KUBE-MARK-MASQ",
        f'-m comment --comment "default/web:http -> 10.244.0.5:8080" '
        f"-m statistic --mode random --probability 0.3333333333 -j {seps[0]}",
        f'-m comment --comment "default/web:http -> 10.244.1.5:8080" '
        f"-m statistic --mode random --probability 0.5000000000 -j {seps[1]}",
        f'-m comment --comment "default/web:http -> 10.244.2.5:8080" -j {seps[2]}',
    )
    assert frag.chains[(NAT, seps[0])] == (
        '-m comment --comment "default/web:http" -s 10.244.0.5/32 -j KUBE-MARK-MASQ',  # hairpin
        '-m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.244.0.5:8080',
    )
    assert set(frag.chains) == {(NAT, svc), *((NAT, s) for s in seps)}


def test_session_affinity_uses_recent_lists_per_endpoint() -> None:
    frag = render_service_port(
        web_model(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}})[
            WEB
        ],
        CFG,
    )
    rules = frag.chains[(NAT, svc_chain(WEB))]
    sep0 = sep_chain(WEB, "10.244.0.5:8080")
    # affinity checks come before the random choice, one per endpoint
    assert rules[1] == (
        f'-m comment --comment "default/web:http -> 10.244.0.5:8080" -m recent --name {sep0} '
        f"--rcheck --seconds 30 --reap -j {sep0}"
    )
    assert all("--rcheck" in r for r in rules[1:4]) and "statistic" in rules[4]
    assert f"-m recent --name {sep0} --set -m tcp -p tcp -j DNAT" in frag.chains[(NAT, sep0)][1]


def test_nodeport_goes_through_the_ext_chain_and_masquerades() -> None:
    info = web_model(
        type="NodePort", ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}]
    )[WEB]
    frag = render_service_port(info, CFG)
    ext = ext_chain(WEB)
    assert frag.shared[(NAT, "KUBE-NODEPORTS")] == (
        f'-m comment --comment "default/web:http" -m tcp -p tcp --dport 30080 -j {ext}',
    )
    assert frag.chains[(NAT, ext)] == (
        '-m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ',
        f"-j {svc_chain(WEB)}",
    )
    ruleset, _ = render_ruleset({WEB: info}, CFG)
    assert ruleset[(NAT, "KUBE-SERVICES")][-1].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")


def test_no_endpoints_rejects_in_the_filter_table_and_writes_no_nat_rules() -> None:
    info = web_model(
        endpoints=[],
        type="LoadBalancer",
        ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
        externalIPs=["192.0.2.10"],
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}},
    )[WEB]
    frag = render_service_port(info, CFG)
    assert frag.chains == {}
    assert frag.shared[(FILTER, "KUBE-SERVICES")] == (
        '-m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 10.96.0.50/32 --dport 80 -j REJECT',
    )
    ext_rejects = frag.shared[(FILTER, "KUBE-EXTERNAL-SERVICES")]
    assert len(ext_rejects) == 3 and all(r.endswith("-j REJECT") for r in ext_rejects)
    assert any("-d 192.0.2.10/32" in r for r in ext_rejects) and any(
        "-d 198.51.100.7/32" in r for r in ext_rejects
    )
    assert any("--dst-type LOCAL -m tcp -p tcp --dport 30080" in r for r in ext_rejects)
    assert (NAT, "KUBE-SERVICES") not in frag.shared and (NAT, "KUBE-NODEPORTS") not in frag.shared


def test_external_traffic_policy_local() -> None:
    svc = service(
        "web",
        "10.96.0.50",
        type="NodePort",
        ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
        externalTrafficPolicy="Local",
    )
    slices = [endpoint_slice("web", [endpoint("10.244.0.5"), endpoint("10.244.1.5", node="node-b")])]
    frag = render_service_port(build_model([svc], slices, "node-a")[WEB], CFG)
    ext, svl, svc_c = ext_chain(WEB), svl_chain(WEB), svc_chain(WEB)
    assert frag.chains[(NAT, ext)] == (
        '-m comment --comment "pod traffic for default/web:http external destinations" '
        f"-s 10.244.0.0/16 -j {svc_c}",
        '-m comment --comment "masquerade LOCAL traffic for default/web:http external destinations" '
        "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
        '-m comment --comment "route LOCAL traffic for default/web:http external destinations" '
        f"-m addrtype --src-type LOCAL -j {svc_c}",
        f"-j {svl}",  # everyone else keeps the client IP and only sees local endpoints
    )
    assert frag.chains[(NAT, svl)] == (
        f'-m comment --comment "default/web:http -> 10.244.0.5:8080" -j {sep_chain(WEB, "10.244.0.5:8080")}',
    )
    assert len(frag.chains[(NAT, svc_c)]) == 1 + 2  # masquerade rule + 2 cluster-wide endpoints
    # No local endpoint: outside traffic is dropped (not rejected), the short-circuits stay.
    remote = [endpoint_slice("web", [endpoint("10.244.1.5", node="node-b")])]
    frag = render_service_port(build_model([svc], remote, "node-a")[WEB], CFG)
    assert not frag.chains[(NAT, ext)][-1].startswith("-j ")
    assert frag.shared[(FILTER, "KUBE-EXTERNAL-SERVICES")] == (
        '-m comment --comment "default/web:http has no local endpoints" -m addrtype --dst-type LOCAL '
        "-m tcp -p tcp --dport 30080 -j DROP",
    )


def test_internal_traffic_policy_local_without_local_endpoints_drops() -> None:
    svc = service("web", "10.96.0.50", internalTrafficPolicy="Local")
    remote = [endpoint_slice("web", [endpoint("10.244.1.5", node="node-b")])]
    frag = render_service_port(build_model([svc], remote, "node-a")[WEB], CFG)
    assert frag.chains == {}
    assert frag.shared[(FILTER, "KUBE-SERVICES")][0].endswith("-j DROP")


def test_udp_and_load_balancer_source_ranges() -> None:
    svc = service(
        "dns",
        "10.96.0.10",
        type="LoadBalancer",
        ports=[{"name": "dns", "protocol": "UDP", "port": 53, "nodePort": 30053}],
        loadBalancerSourceRanges=["203.0.113.0/24"],
        status={"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}},
    )
    eps = endpoint_slice(
        "dns", [endpoint("10.244.0.2")], ports=[{"name": "dns", "protocol": "UDP", "port": 53}]
    )
    name = ServicePortName("default", "dns", "dns", "UDP")
    frag = render_service_port(build_model([svc], [eps], "node-a")[name], CFG)
    lb_rule = next(r for r in frag.shared[(NAT, "KUBE-SERVICES")] if "loadbalancer IP" in r)
    assert "-m udp -p udp -d 198.51.100.7/32 --dport 53 -j KUBE-FW-" in lb_rule
    fw = next(k for k in frag.chains if k[1].startswith("KUBE-FW-"))
    assert frag.chains[fw] == (
        f'-m comment --comment "default/dns:dns loadbalancer IP" -s 203.0.113.0/24 -j {ext_chain(name)}',
    )
    assert frag.shared[(FILTER, "KUBE-PROXY-FIREWALL")][0].endswith("-j DROP")


def test_restore_text_declares_then_appends_then_deletes() -> None:
    tx = RestoreInput()
    tx.declare((NAT, "KUBE-SVC-A"), ["-j KUBE-SEP-B"])
    tx.deleted_chains.append((NAT, "KUBE-SEP-OLD"))
    tx.inserted_rules.append(((NAT, "KUBE-SERVICES"), "-d 10.96.0.1/32 -j KUBE-SVC-A"))
    tx.deleted_rules.append(((FILTER, "KUBE-SERVICES"), "-d 10.96.0.1/32 -j REJECT"))
    assert tx.text() == (
        "*filter\n-D KUBE-SERVICES -d 10.96.0.1/32 -j REJECT\nCOMMIT\n"
        "*nat\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-OLD - [0:0]\n"
        "-I KUBE-SERVICES 1 -d 10.96.0.1/32 -j KUBE-SVC-A\n"
        "-A KUBE-SVC-A -j KUBE-SEP-B\n-X KUBE-SEP-OLD\nCOMMIT\n"
    )


def _frags(model: Any) -> dict[ServicePortName, Fragment]:
    return {n: render_service_port(i, CFG) for n, i in model.items()}


def test_delta_for_one_endpoint_change_touches_only_that_service() -> None:
    others = [service(f"s{i}", f"10.96.1.{i}") for i in range(50)]
    before = web_model(*others)
    after = web_model(*others, endpoints=EPS[:2])
    tx = compute_delta(_frags(before), _frags(after), {WEB})
    gone = sep_chain(WEB, "10.244.2.5:8080")
    assert list(tx.declared) == [(NAT, svc_chain(WEB))]
    assert tx.deleted_chains == [(NAT, gone)]
    assert tx.deleted_rules == [] and tx.inserted_rules == []
    text = tx.text()
    assert text.count("\n") == 8  # *nat, 2 declarations, 3 rules, -X, COMMIT
    assert f"-X {gone}" in text


def test_delta_when_service_loses_its_last_endpoint_moves_it_to_reject() -> None:
    before, after = web_model(), web_model(endpoints=[])
    tx = compute_delta(_frags(before), _frags(after), {WEB})
    assert tx.declared == {}
    assert len(tx.deleted_chains) == 4  # KUBE-SVC + 3 KUBE-SEP
    assert [k for k, _ in tx.deleted_rules] == [(NAT, "KUBE-SERVICES")]
    assert [k for k, _ in tx.inserted_rules] == [(FILTER, "KUBE-SERVICES")]


def test_delta_for_added_and_deleted_services() -> None:
    before = web_model()
    after = web_model(service("api", "10.96.0.51"))
    api = ServicePortName("default", "api", "http")
    tx = compute_delta(_frags(before), _frags(after), {api})
    assert tx.inserted_rules and tx.inserted_rules[0][0] == (FILTER, "KUBE-SERVICES")  # no endpoints yet
    tx = compute_delta(_frags(before), {}, {WEB})
    assert len(tx.deleted_chains) == 4 and len(tx.deleted_rules) == 1 and tx.declared == {}


class FakeRunner(Runner):
    """Records commands; answers like an empty kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[str] = []

    def run(self, argv: Any, *, input: str | None = None, check: bool = True) -> str:
        self.history.append(" ".join(argv))
        if input is not None:
            self.inputs.append(input)
        if argv[:1] == ["ip"] and "addr" in argv:
            return ""
        if argv[-1:] == ["--version"]:
            return "iptables v1.8.9 (nf_tables)"
        return "1\n" if argv[:1] == ["sysctl"] else ""

    def ok(self, argv: Any) -> bool:
        self.history.append(" ".join(argv))
        return False


def test_applier_first_sync_is_full_then_partial(tmp_path: Any) -> None:
    from minik.proxy.safety import Trap

    runner = FakeRunner()
    applier = IptablesApplier(CFG, runner=runner, trap=Trap(runner, state_file=tmp_path / "s.json"))
    model = web_model(*[service(f"s{i}", f"10.96.1.{i}") for i in range(20)])
    first = applier.sync(model, None)
    assert first.full and first.chains_written == len(assemble(_frags(model), CFG))
    full_text = runner.inputs[-1]
    assert ":KUBE-SERVICES - [0:0]" in full_text and "-A KUBE-POSTROUTING" in full_text
    # The trap REJECT was restored before the first service rule.
    trap_at = next(i for i, t in enumerate(runner.inputs) if ":KUBE-PROXY-TRAP" in t)
    rules_at = next(i for i, t in enumerate(runner.inputs) if "KUBE-SVC-" in t)
    assert trap_at < rules_at and "-d 10.96.0.0/12" in runner.inputs[trap_at]

    changed_model = web_model(*[service(f"s{i}", f"10.96.1.{i}") for i in range(20)], endpoints=EPS[:2])
    second = applier.sync(changed_model, {WEB})
    assert not second.full and (second.chains_written, second.chains_deleted, second.lines_edited) == (
        1,
        1,
        0,
    )
    assert "KUBE-SERVICES" not in runner.inputs[-1]
