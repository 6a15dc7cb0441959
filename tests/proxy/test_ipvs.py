"""ipvs mode: detection, the iptables fallback, and rendering of virtual servers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from minik.proxy.ipvs import choose_mode, ipvs_support, render_addresses, render_ipvsadm, virtual_servers
from minik.proxy.model import ServicePortName, build_model
from tests.proxy.objects import endpoint, endpoint_slice, service

WEB = ServicePortName("default", "web", "http")


def test_detects_missing_ipvs(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    assert ipvs_support(tmp_path) is not None
    (tmp_path / "net" / "ip_vs").write_text("")
    assert ipvs_support(tmp_path) is None


def test_this_kernel_has_no_ipvs_and_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    if Path("/proc/net/ip_vs").exists():
        pytest.skip("this kernel has IPVS")
    with caplog.at_level(logging.WARNING, logger="minik.proxy.ipvs"):
        assert choose_mode("ipvs") == "iptables"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falling back to the iptables proxier" in warnings[0].getMessage()


def test_choose_mode(caplog: pytest.LogCaptureFixture) -> None:
    assert choose_mode("ipvs", ipvs_missing_reason=None, check_ipvs=False) == "ipvs"
    assert choose_mode("nftables") == "nftables" and choose_mode("userspace") == "userspace"
    with caplog.at_level(logging.WARNING):
        assert choose_mode("ipvs", ipvs_missing_reason="no /proc/net/ip_vs") == "iptables"
    assert "no /proc/net/ip_vs" in caplog.text
    with pytest.raises(ValueError, match="choose one of iptables, nftables, userspace, ipvs"):
        choose_mode("kernelspace")


def _model(**spec: Any) -> Any:
    svc = service(
        "web",
        "10.96.0.50",
        type="NodePort",
        ports=[{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
        **spec,
    )
    eps = endpoint_slice(
        "web",
        [
            endpoint("10.244.0.5"),
            endpoint("10.244.1.5", node="node-b"),
            endpoint("10.244.2.5", ready=False, serving=True, terminating=True),
        ],
    )
    return build_model([svc], [eps], "node-a")


def test_renders_ipvsadm_restore_input() -> None:
    text = render_ipvsadm(_model(sessionAffinity="ClientIP"), ["192.168.1.10"], "sh")
    assert text.splitlines() == [
        "-A -t 10.96.0.50:80 -s sh -p 10800",
        "-a -t 10.96.0.50:80 -r 10.244.0.5:8080 -m -w 1",
        "-a -t 10.96.0.50:80 -r 10.244.1.5:8080 -m -w 1",
        "-a -t 10.96.0.50:80 -r 10.244.2.5:8080 -m -w 0",  # terminating: drains
        "-A -t 192.168.1.10:30080 -s sh -p 10800",
        "-a -t 192.168.1.10:30080 -r 10.244.0.5:8080 -m -w 1",
        "-a -t 192.168.1.10:30080 -r 10.244.1.5:8080 -m -w 1",
        "-a -t 192.168.1.10:30080 -r 10.244.2.5:8080 -m -w 0",
    ]


@pytest.mark.parametrize("scheduler", ["rr", "lc", "dh", "sh", "sed", "nq"])
def test_every_scheduler_renders_and_annotation_wins(scheduler: str) -> None:
    info = _model()[WEB]
    assert {v.scheduler for v in virtual_servers(info, ["192.168.1.10"], scheduler)} == {scheduler}
    from dataclasses import replace

    assert virtual_servers(replace(info, scheduler="nq"), [], scheduler)[0].scheduler == "nq"


def test_external_policy_local_keeps_only_local_real_servers() -> None:
    info = _model(externalTrafficPolicy="Local")[WEB]
    cluster_ip, node_port = virtual_servers(info, ["192.168.1.10"])
    assert [(r.ip, r.weight) for r in cluster_ip.real_servers if r.weight] == [
        ("10.244.0.5", 1),
        ("10.244.1.5", 1),
    ]
    assert [(r.ip, r.weight) for r in node_port.real_servers if r.weight] == [("10.244.0.5", 1)]


def test_udp_and_dummy_interface_addresses() -> None:
    svc = service(
        "dns", "10.96.0.10", ports=[{"name": "dns", "protocol": "UDP", "port": 53}], externalIPs=["192.0.2.9"]
    )
    m = build_model([svc], [], "node-a")
    assert render_ipvsadm(m, []).splitlines() == ["-A -u 10.96.0.10:53 -s rr", "-A -u 192.0.2.9:53 -s rr"]
    assert render_addresses(m) == [
        "ip addr add 10.96.0.10/32 dev kube-ipvs0",
        "ip addr add 192.0.2.9/32 dev kube-ipvs0",
    ]
