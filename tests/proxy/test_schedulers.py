"""The six IPVS schedulers' choice logic, without sockets."""

from __future__ import annotations

import ipaddress

import pytest

from minik.proxy.schedulers import (
    Affinity,
    Backend,
    DestinationHash,
    LeastConnection,
    NeverQueue,
    RoundRobin,
    ShortestExpectedDelay,
    SourceHash,
    choose,
    hash_32,
    make_scheduler,
)


def three() -> list[Backend]:
    return [Backend("10.0.0.1", 80), Backend("10.0.0.2", 80), Backend("10.0.0.3", 80)]


def test_rr_cycles_and_skips_weight_zero() -> None:
    b = three()
    rr = RoundRobin()
    assert [rr.pick(b, "c", "d").ip for _ in range(4)] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"]  # type: ignore[union-attr]
    b[2].weight = 0  # draining
    assert {rr.pick(b, "c", "d").ip for _ in range(6)} == {"10.0.0.1", "10.0.0.2"}  # type: ignore[union-attr]
    assert rr.pick([], "c", "d") is None


def test_lc_prefers_fewest_connections_and_weighs_active_over_inactive() -> None:
    b = three()
    lc = LeastConnection()
    assert lc.pick(b, "c", "d") is b[0]  # tie: first
    b[0].active, b[1].active, b[2].active = 2, 1, 3
    assert lc.pick(b, "c", "d") is b[1]
    # overhead = active*256 + inactive: 1 active beats 200 connections in TIME_WAIT? no —
    # 200 inactive (200) is still less than 1 active (256).
    b[0].active, b[0].inactive, b[1].active, b[1].inactive = 0, 200, 1, 0
    assert lc.pick(b, "c", "d") is b[0]


def test_dh_maps_each_destination_to_one_server_via_the_256_bucket_table() -> None:
    b = three()
    dh = DestinationHash()
    for dest in ("10.96.0.10", "10.96.0.11", "192.0.2.1"):
        first = dh.pick(b, "1.1.1.1", dest)
        assert all(dh.pick(b, f"10.1.0.{i}", dest) is first for i in range(20))  # source is irrelevant
        bucket = (int(ipaddress.IPv4Address(dest)) * 2654435761) & 0xFF
        assert first is b[bucket % 3]
    spread = {dh.pick(b, "c", f"10.96.{i}.{j}").ip for i in range(4) for j in range(50)}  # type: ignore[union-attr]
    assert spread == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    chosen = dh.pick(b, "c", "10.96.0.10")
    assert chosen is not None
    chosen.weight = 0
    assert dh.pick(b, "c", "10.96.0.10") is None  # dh does not fall back


def test_sh_maps_each_source_to_one_server() -> None:
    assert hash_32(1, 8) == 0x61  # golden ratio 0x61C88647, top 8 bits
    b = three()
    sh = SourceHash()
    seen = set()
    for i in range(1, 60):
        client = f"192.168.0.{i}"
        first = sh.pick(b, client, "10.96.0.10")
        assert first is not None
        assert all(sh.pick(b, client, f"10.96.0.{j}") is first for j in range(5))
        assert first is b[hash_32(int(ipaddress.IPv4Address(client)), 8) % 3]
        seen.add(first.ip)
    assert len(seen) == 3


def test_sed_minimises_expected_delay_with_weights() -> None:
    a, b = Backend("a", 1, weight=1, active=1), Backend("b", 1, weight=3, active=2)
    # (1+1)/1 = 2  vs  (2+1)/3 = 1
    assert ShortestExpectedDelay().pick([a, b], "c", "d") is b
    b.active = 6  # (6+1)/3 > 2
    assert ShortestExpectedDelay().pick([a, b], "c", "d") is a


def test_nq_sends_to_an_idle_server_first() -> None:
    idle, busy_fast = Backend("a", 1, weight=1, active=0), Backend("b", 1, weight=10, active=1)
    assert ShortestExpectedDelay().pick([idle, busy_fast], "c", "d") is busy_fast  # 1/1 vs 2/10
    assert NeverQueue().pick([idle, busy_fast], "c", "d") is idle
    idle.active = 1
    assert NeverQueue().pick([idle, busy_fast], "c", "d") is busy_fast  # nobody idle: sed


def test_equal_weights_lc_sed_nq_agree_on_active_counts() -> None:
    b = three()
    b[0].active, b[1].active, b[2].active = 1, 0, 1
    for name in ("lc", "sed", "nq"):
        assert make_scheduler(name).pick(b, "c", "d") is b[1]


def test_affinity_sticks_until_timeout_and_forgets_gone_servers() -> None:
    now = [0.0]
    aff = Affinity(10, clock=lambda: now[0])
    b = three()
    rr = RoundRobin()
    first = choose(rr, b, "192.168.0.9", "d", aff)
    assert all(choose(rr, b, "192.168.0.9", "d", aff) is first for _ in range(5))
    assert choose(rr, b, "192.168.0.10", "d", aff) is not first  # another client: scheduler
    now[0] = 9.0
    assert choose(rr, b, "192.168.0.9", "d", aff) is first  # used again: timer restarts
    now[0] = 18.5
    assert choose(rr, b, "192.168.0.9", "d", aff) is first
    now[0] = 40.0
    after_timeout = choose(rr, b, "192.168.0.9", "d", aff)
    assert after_timeout is not None
    remaining = [x for x in b if x is not after_timeout]
    assert choose(rr, remaining, "192.168.0.9", "d", aff) in remaining


def test_unknown_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="choose one of rr, lc, dh, sh, sed, nq"):
        make_scheduler("wrr")
