"""IPAM: allocation rules, persistence across restarts, reconciliation (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minik.kubelet.ipam import IPAM, IPAMError


def test_allocates_from_the_cidr_skipping_network_gateway_and_broadcast(tmp_path: Path) -> None:
    ipam = IPAM("10.244.1.0/29", tmp_path / "s.json")
    got = [ipam.allocate(f"pod-{i}") for i in range(5)]
    assert got == ["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5", "10.244.1.6"]
    with pytest.raises(IPAMError, match="exhausted"):
        ipam.allocate("one-too-many")


def test_allocation_is_idempotent_per_owner(tmp_path: Path) -> None:
    ipam = IPAM("10.244.0.0/24", tmp_path / "s.json")
    assert ipam.allocate("a") == ipam.allocate("a")
    assert len(ipam.allocations()) == 1


def test_released_addresses_are_reused_as_late_as_possible(tmp_path: Path) -> None:
    ipam = IPAM("10.244.2.0/29", tmp_path / "s.json")  # .2 … .6
    a = ipam.allocate("a")
    ipam.allocate("b")
    assert ipam.release("a") == a
    assert ipam.allocate("c") == "10.244.2.4"  # not a's address, although it is free
    assert [ipam.allocate(x) for x in ("d", "e", "f")] == ["10.244.2.5", "10.244.2.6", a]
    assert ipam.release("nobody") is None


def test_never_hands_out_a_live_or_reserved_address(tmp_path: Path) -> None:
    ipam = IPAM("10.244.3.0/28", tmp_path / "s.json", reserved=["10.244.3.3"])
    seen = set()
    for i in range(ipam.free_count()):
        ip = ipam.allocate(f"p{i}")
        assert ip not in seen and ip != "10.244.3.3"
        seen.add(ip)
    assert ipam.free_count() == 0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sub" / "ipam.json"
    first = IPAM("10.244.4.0/24", state)
    a, b = first.allocate("a"), first.allocate("b")
    first.release("a")
    again = IPAM("10.244.4.0/24", state)
    assert again.allocations() == {"b": b}
    assert again.get("a") is None
    # The cursor survived too: the next address is after b, not a's old one.
    assert again.allocate("c") not in (a, b)
    saved = json.loads(state.read_text())
    assert saved["cidr"] == "10.244.4.0/24" and set(saved["allocations"].values()) == {"b", "c"}
    assert not [p for p in state.parent.iterdir() if p.name.startswith(".ipam-")]  # no temp files left


def test_state_for_another_cidr_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "ipam.json"
    IPAM("10.244.5.0/24", state).allocate("a")
    moved = IPAM("10.244.6.0/24", state)
    assert moved.allocations() == {}
    assert moved.allocate("a").startswith("10.244.6.")


def test_reconcile_records_live_sandboxes_and_releases_leaks(tmp_path: Path) -> None:
    ipam = IPAM("10.244.7.0/24", tmp_path / "s.json")
    ipam.allocate("leaked")
    ipam.allocate("creating")
    released = ipam.reconcile({"running": "10.244.7.50", "elsewhere": "10.9.9.9"}, in_flight=["creating"])
    assert set(released) == {"leaked"}
    assert set(ipam.allocations()) == {"running", "creating"}
    assert ipam.get("running") == "10.244.7.50"
    assert IPAM("10.244.7.0/24", tmp_path / "s.json").allocations() == ipam.allocations()


def test_bad_input_is_reported_clearly(tmp_path: Path) -> None:
    with pytest.raises(IPAMError, match="not an IPv4 network"):
        IPAM("10.244.0.0/33", tmp_path / "s.json")
    with pytest.raises(IPAMError, match="too small"):
        IPAM("10.244.0.0/31", tmp_path / "s.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(IPAMError, match="cannot read"):
        IPAM("10.244.0.0/24", tmp_path / "bad.json")


def test_in_memory_state_writes_no_file(tmp_path: Path) -> None:
    ipam = IPAM("10.9.0.0/29", None)
    assert ipam.allocate("a") == "10.9.0.2"
    assert ipam.allocate("b") == "10.9.0.3"
    ipam.release("a")
    assert ipam.get("b") == "10.9.0.3" and ipam.get("a") is None
    assert list(tmp_path.iterdir()) == []
    assert IPAM("10.9.0.0/29", None).get("b") is None  # nothing survives: a fresh start
