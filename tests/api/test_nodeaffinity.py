"""Required node affinity: nodeSelector AND ORed nodeSelectorTerms, upstream's corner cases."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.nodeaffinity import RequiredNodeAffinity, compile_terms


def req(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


def name_is(operator: str, *values: str) -> dict[str, Any]:
    return {"matchFields": [req("metadata.name", operator, *values)]}


def exprs(*requirements: dict[str, Any]) -> dict[str, Any]:
    return {"matchExpressions": list(requirements)}


def required(*terms: dict[str, Any], **spec: Any) -> dict[str, Any]:
    node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    return {"affinity": {"nodeAffinity": node_affinity}, **spec}


LABELS = {"zone": "a", "disk": "ssd", "cores": "8"}


@pytest.mark.parametrize(
    ("name", "spec", "matches"),
    [
        ("nothing asked", {}, True),
        ("nodeSelector matches", {"nodeSelector": {"zone": "a", "disk": "ssd"}}, True),
        ("nodeSelector value differs", {"nodeSelector": {"zone": "b"}}, False),
        ("nodeSelector label missing", {"nodeSelector": {"gpu": "yes"}}, False),
        ("In", required(exprs(req("zone", "In", "a", "b"))), True),
        ("In, no such value", required(exprs(req("zone", "In", "b"))), False),
        ("NotIn", required(exprs(req("zone", "NotIn", "b"))), True),
        ("NotIn, label missing", required(exprs(req("gpu", "NotIn", "yes"))), True),
        ("NotIn, value present", required(exprs(req("zone", "NotIn", "a"))), False),
        ("Exists", required(exprs(req("disk", "Exists"))), True),
        ("DoesNotExist", required(exprs(req("disk", "DoesNotExist"))), False),
        ("Gt", required(exprs(req("cores", "Gt", "4"))), True),
        ("Lt", required(exprs(req("cores", "Lt", "4"))), False),
        ("Gt, label not an integer", required(exprs(req("zone", "Gt", "4"))), False),
        (
            "expressions in a term are ANDed",
            required(exprs(req("zone", "In", "a"), req("disk", "In", "hdd"))),
            False,
        ),
        ("terms are ORed", required(exprs(req("zone", "In", "b")), exprs(req("disk", "Exists"))), True),
        ("matchFields name In", required(name_is("In", "n1")), True),
        ("matchFields name NotIn", required(name_is("NotIn", "n1")), False),
        (
            "fields and labels ANDed",
            required({**name_is("In", "n1"), **exprs(req("zone", "In", "b"))}),
            False,
        ),
        (
            "nodeSelector AND affinity",
            required(exprs(req("zone", "In", "a")), nodeSelector={"disk": "hdd"}),
            False,
        ),
        # Corner cases, as upstream.
        ("an empty term matches nothing", required({}), False),
        ("no terms match nothing", required(), False),
        ("invalid: In without values", required(exprs(req("zone", "In"))), False),
        ("invalid: NotIn without values", required(exprs(req("zone", "NotIn"))), False),
        ("invalid: Exists with values", required(exprs(req("disk", "Exists", "ssd"))), False),
        ("invalid: Gt not an integer", required(exprs(req("cores", "Gt", "many"))), False),
        ("invalid: unknown operator", required(exprs(req("zone", "Equals", "a"))), False),
        ("invalid: matchFields two values", required(name_is("In", "n1", "n2")), False),
        ("invalid: matchFields Exists", required({"matchFields": [req("metadata.name", "Exists")]}), False),
        ("invalid: matchFields other key", required({"matchFields": [req("spec.x", "In", "n1")]}), False),
        (
            "an invalid term is dropped, others still count",
            required(exprs(req("zone", "NotIn")), name_is("In", "n1")),
            True,
        ),
    ],
)
def test_required_node_affinity(name: str, spec: dict[str, Any], matches: bool) -> None:
    assert RequiredNodeAffinity(spec).matches(LABELS, "n1") is matches, name


def test_empty_only_without_selector_and_required_affinity() -> None:
    assert RequiredNodeAffinity({}).empty
    assert RequiredNodeAffinity({"nodeSelector": {}}).empty
    assert not RequiredNodeAffinity({"nodeSelector": {"a": "b"}}).empty
    assert not RequiredNodeAffinity(required()).empty  # present but with no terms: matches nothing


def test_compile_terms_drops_what_does_not_parse() -> None:
    terms = compile_terms([exprs(req("zone", "In")), "junk", exprs(req("zone", "In", "a"))])
    assert len(terms) == 1
    assert terms[0].matches({"zone": "a"}, "any")
