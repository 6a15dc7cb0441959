"""Name spelling and the address ↔ name conversions."""

from __future__ import annotations

import ipaddress

import pytest

from minik.dns.names import ancestors, dashed, is_subdomain, is_valid, normalize, parse_dashed, reverse_name


def test_normalize() -> None:
    assert normalize("Web.Default.SVC.Cluster.Local.") == "web.default.svc.cluster.local"
    assert normalize(".") == ""


@pytest.mark.parametrize(
    ("ip", "label"),
    [
        ("10.244.1.5", "10-244-1-5"),
        ("0.0.0.0", "0-0-0-0"),
        ("fd00::5", "fd00--5"),
        ("::1", "0--1"),
        ("fd00::", "fd00--0"),
        ("2001:db8:1:2:3:4:5:6", "2001-db8-1-2-3-4-5-6"),
    ],
)
def test_dashed_round_trip(ip: str, label: str) -> None:
    address = ipaddress.ip_address(ip)
    assert dashed(address) == label
    assert parse_dashed(label) == address


@pytest.mark.parametrize("label", ["web-0", "1-2-3", "256-1-1-1", "01-2-3-4", "a-b-c-d", "1-2-3-4-5", "x--y"])
def test_parse_dashed_rejects_what_is_not_an_address(label: str) -> None:
    assert parse_dashed(label) is None


def test_reverse_names() -> None:
    assert reverse_name(ipaddress.ip_address("10.96.0.1")) == "1.0.96.10.in-addr.arpa"
    assert reverse_name(ipaddress.ip_address("fd00::1")).endswith(".0.0.d.f.ip6.arpa")


def test_validity_limits() -> None:
    assert is_valid("a" * 63 + ".local")
    assert not is_valid("a" * 64 + ".local")
    assert not is_valid(".".join(["abcdefghi"] * 26))  # 259 characters
    assert not is_valid("a..b")
    assert is_valid("")


def test_zone_membership() -> None:
    assert is_subdomain("a.cluster.local", "cluster.local")
    assert is_subdomain("cluster.local", "cluster.local")
    assert not is_subdomain("evilcluster.local", "cluster.local")
    assert ancestors("a.b.cluster.local", "cluster.local") == [
        "a.b.cluster.local",
        "b.cluster.local",
        "cluster.local",
    ]
