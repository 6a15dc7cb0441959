"""Taints and tolerations: upstream's ToleratesTaint, the helpers built on it, tolerationSeconds."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.taints import (
    Taint,
    Toleration,
    find_untolerated_taint,
    matching_tolerations,
    min_toleration_seconds,
    taints_of,
    tolerates_taint,
    tolerations_of,
)

# --- Toleration.tolerates (upstream TestTolerationToleratesTaint) ------------------------------


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        # Key, value and effect all given.
        (
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            Taint("k", "v", "NoSchedule"),
            True,
        ),
        ({"key": "k", "operator": "Equal", "value": "other"}, Taint("k", "v", "NoSchedule"), False),
        ({"key": "other", "operator": "Equal", "value": "v"}, Taint("k", "v", "NoSchedule"), False),
        # Operator defaults to Equal (missing or empty).
        ({"key": "k", "value": "v"}, Taint("k", "v", "NoSchedule"), True),
        ({"key": "k", "operator": "", "value": "v"}, Taint("k", "v", "NoSchedule"), True),
        ({"key": "k", "value": "w"}, Taint("k", "v", "NoSchedule"), False),
        # Equal with no value matches a taint with no value only.
        ({"key": "k"}, Taint("k", "", "NoSchedule"), True),
        ({"key": "k"}, Taint("k", "v", "NoSchedule"), False),
        # Exists ignores the value.
        ({"key": "k", "operator": "Exists"}, Taint("k", "anything", "NoExecute"), True),
        ({"key": "k", "operator": "Exists", "value": "ignored"}, Taint("k", "v", "NoExecute"), True),
        ({"key": "other", "operator": "Exists"}, Taint("k", "", "NoSchedule"), False),
        # Empty key with Exists matches every key (and, with no effect, everything).
        ({"operator": "Exists"}, Taint("any-key", "v", "NoSchedule"), True),
        ({"operator": "Exists"}, Taint("any-key", "", "PreferNoSchedule"), True),
        ({"operator": "Exists", "effect": "NoExecute"}, Taint("any-key", "v", "NoExecute"), True),
        ({"operator": "Exists", "effect": "NoExecute"}, Taint("any-key", "v", "NoSchedule"), False),
        # Empty effect matches all effects; a set effect only its own.
        ({"key": "k", "operator": "Exists"}, Taint("k", "", "PreferNoSchedule"), True),
        ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, Taint("k", "", "NoSchedule"), True),
        ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, Taint("k", "", "NoExecute"), False),
        (
            {"key": "k", "operator": "Exists", "effect": "NoExecute"},
            Taint("k", "", "PreferNoSchedule"),
            False,
        ),
        # An unknown operator matches nothing.
        ({"key": "k", "operator": "Bogus"}, Taint("k", "", "NoSchedule"), False),
        ({"operator": "Bogus"}, Taint("k", "", "NoSchedule"), False),
        # tolerationSeconds plays no part in matching.
        ({"key": "k", "operator": "Exists", "tolerationSeconds": 0}, Taint("k", "", "NoExecute"), True),
    ],
)
def test_toleration_tolerates_taint(toleration: dict[str, Any], taint: Taint, tolerated: bool) -> None:
    assert Toleration.from_dict(toleration).tolerates(taint) is tolerated


def test_parsing_defaults_and_skips_junk() -> None:
    assert Toleration.from_dict({}) == Toleration("", "Equal", "", "", None)
    assert Toleration.from_dict({"key": "k", "operator": "Exists", "tolerationSeconds": 30}).seconds == 30
    assert Toleration.from_dict({"tolerationSeconds": True}).seconds is None  # a bool is not a number
    assert Taint.from_dict({"key": "k", "effect": "NoSchedule"}) == Taint("k", "", "NoSchedule")
    assert tolerations_of({"tolerations": [{"operator": "Exists"}, "junk"]}) == (
        Toleration("", "Exists", "", ""),
    )
    assert tolerations_of({}) == ()
    assert taints_of({"taints": [{"key": "k", "effect": "NoExecute"}, None]}) == (
        Taint("k", "", "NoExecute"),
    )
    assert taints_of({"taints": None}) == ()


# --- lists of tolerations and taints ----------------------------------------------------------

GPU = Taint("dedicated", "gpu", "NoSchedule")
DRAIN = Taint("drain", "", "NoExecute")
SPOT = Taint("spot", "true", "PreferNoSchedule")


def tols(*raw: dict[str, Any]) -> tuple[Toleration, ...]:
    return tuple(Toleration.from_dict(t) for t in raw)


@pytest.mark.parametrize(
    ("tolerations", "taint", "tolerated"),
    [
        ((), GPU, False),
        (tols({"key": "other", "operator": "Exists"}), GPU, False),
        (tols({"key": "other", "operator": "Exists"}, {"key": "dedicated", "value": "gpu"}), GPU, True),
        (tols({"operator": "Exists"}), DRAIN, True),
    ],
)
def test_tolerations_tolerate_taint(
    tolerations: tuple[Toleration, ...], taint: Taint, tolerated: bool
) -> None:
    assert tolerates_taint(tolerations, taint) is tolerated


@pytest.mark.parametrize(
    ("taints", "tolerations", "effects", "want"),
    [
        ((), (), None, None),
        ((GPU, DRAIN), (), None, GPU),  # the first untolerated one, in node order
        ((GPU, DRAIN), tols({"key": "dedicated", "operator": "Exists"}), None, DRAIN),
        ((GPU, DRAIN), tols({"key": "dedicated", "operator": "Exists"}), ("NoSchedule",), None),
        ((SPOT, GPU), (), ("NoSchedule", "NoExecute"), GPU),  # PreferNoSchedule filtered out
        ((SPOT,), (), ("NoSchedule", "NoExecute"), None),
        ((GPU, DRAIN, SPOT), tols({"operator": "Exists"}), None, None),
    ],
)
def test_find_untolerated_taint(
    taints: tuple[Taint, ...],
    tolerations: tuple[Toleration, ...],
    effects: tuple[str, ...] | None,
    want: Taint | None,
) -> None:
    assert find_untolerated_taint(taints, tolerations, effects) == want


# --- tolerationSeconds (upstream GetMatchingTolerations, getMinTolerationTime) ---------------

UNREACHABLE = Taint("node.kubernetes.io/unreachable", "", "NoExecute")
NOT_READY = Taint("node.kubernetes.io/not-ready", "", "NoExecute")
FOREVER = {"key": UNREACHABLE.key, "operator": "Exists", "effect": "NoExecute"}
FIVE_MINUTES = {**FOREVER, "tolerationSeconds": 300}
ANY_20 = {"operator": "Exists", "tolerationSeconds": 20}


@pytest.mark.parametrize(
    ("taints", "tolerations", "want"),
    [
        ((), (), []),  # nothing to tolerate
        ((UNREACHABLE,), (), None),
        ((UNREACHABLE, NOT_READY), tols(FOREVER), None),  # one taint not tolerated: none at all
        ((UNREACHABLE,), tols(FOREVER, ANY_20), tols(FOREVER)),  # only the first match counts
        ((UNREACHABLE,), tols(ANY_20, FOREVER), tols(ANY_20)),
        ((UNREACHABLE, NOT_READY), tols(FOREVER, ANY_20), tols(FOREVER, ANY_20)),  # one per taint
        ((UNREACHABLE, UNREACHABLE), tols(ANY_20), tols(ANY_20, ANY_20)),
    ],
)
def test_matching_tolerations(
    taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...], want: list[Toleration] | None
) -> None:
    got = matching_tolerations(taints, tolerations)
    assert got == (None if want is None else list(want))


@pytest.mark.parametrize(
    ("tolerations", "want"),
    [
        ((), 0.0),  # no tolerations used: evict now
        (tols(FOREVER), None),  # no tolerationSeconds: forever
        (tols(FIVE_MINUTES), 300.0),
        (tols(FIVE_MINUTES, FOREVER, ANY_20), 20.0),  # the smallest that is set
        (tols({**FOREVER, "tolerationSeconds": 0}), 0.0),
        (tols(FIVE_MINUTES, {**FOREVER, "tolerationSeconds": -5}), 0.0),  # zero or negative: now
    ],
)
def test_min_toleration_seconds(tolerations: tuple[Toleration, ...], want: float | None) -> None:
    assert min_toleration_seconds(tolerations) == want
