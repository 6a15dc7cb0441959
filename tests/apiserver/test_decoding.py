"""Unit tests for minik.apiserver.decoding and minik.apiserver.warning (no server needed).

A hostile body must fail fast with a 400 that says why; a friendly one must decode to
exactly what upstream's YAML-to-JSON conversion gives.
"""

from __future__ import annotations

import itertools
import json
import tracemalloc
from typing import Any

import pytest

from minik.api import errors
from minik.apiserver import decoding, warning

YAML = "application/yaml"
JSON = "application/json"


def alias_bomb(levels: int = 9) -> bytes:
    """The "billion laughs": each line repeats the one before nine times (9**levels strings)."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * 9)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def rejected(raw: bytes, content_type: str = YAML) -> str:
    with pytest.raises(errors.APIError) as caught:
        decoding.decode(raw, content_type)
    assert caught.value.code == 400 and caught.value.reason == "BadRequest"
    return caught.value.message


# -- YAML to JSON, as upstream ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 2001-12-14", {"a": "2001-12-14"}),  # a timestamp stays the text it was
        ("a: 2001-12-14T21:59:43.10-05:00", {"a": "2001-12-14T21:59:43.10-05:00"}),
        ("1: x\ntrue: y\n1.5: z", {"1": "x", "true": "y", "1.5": "z"}),  # keys become their text
        ("a: [1, 2.5, ~, yes, 'yes', 0x10]", {"a": [1, 2.5, None, True, "yes", 16]}),
        ("a: !!str 12\nb: !!int '12'", {"a": "12", "b": 12}),
        ("a: !!binary aGVsbG8=", {"a": "hello"}),
        ("a: 123456789012345678901234567890", {"a": 1.2345678901234568e29}),  # as orjson reads it
        ("", None),
        ("x", "x"),
    ],
)
def test_yaml_decodes_to_json_values(text: str, expected: Any) -> None:
    if not text:
        assert rejected(text.encode()) == "the request body is empty"
        return
    assert decoding.decode(text.encode(), YAML).value == expected


def test_yaml_aliases_and_merge_keys_expand_into_independent_copies() -> None:
    doc = b"base: &b {x: 1, y: [2]}\nm:\n  <<: *b\n  y: 3\nl: [*b, *b]\n"
    value = decoding.decode(doc, YAML).value
    assert value == {
        "base": {"x": 1, "y": [2]},
        "m": {"y": 3, "x": 1},
        "l": [{"x": 1, "y": [2]}, {"x": 1, "y": [2]}],
    }
    value["l"][0]["y"].append(9)  # a later mutation (pruning, patching) touches one copy only
    assert value["l"][1]["y"] == [2] and value["base"]["y"] == [2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!set {x, y}", "unsupported YAML tag !!set"),
        ("a: !!omap [x: 1]", "unsupported YAML tag !!omap"),
        ("? [a]\n: x", "a map key must be a string, not a list"),
        ("? {a: 1}\n: x", "a map key must be a string, not a map"),
        ("~: x", "a map key must be a string, not a null"),
        ("a: !!float 'x'", "cannot decode 'x' as !!float"),
        ("a: !!int 'x'", "cannot decode 'x' as !!int"),
        ("a: !!bool 'x'", "cannot decode 'x' as !!bool"),
        ("a: .inf", "JSON cannot hold the number '.inf'"),
        ("a: .nan", "JSON cannot hold the number '.nan'"),
        (
            "a: !!python/object/apply:os.system ['true']",
            "unsupported YAML tag !!python/object/apply:os.system",
        ),
        ("a: !custom x", "unsupported YAML tag !custom"),
        ("a: !!binary '////'", "!!binary value is not base64 of UTF-8 text"),
        ("a: &x [*x]", "alias *x refers to a node that contains it"),
        ("a: *nope", "unknown anchor 'nope' referenced"),
        ("a: 1\n---\nb: 2", "expected a single document in the stream"),
        ("a: [1\n", "error decoding YAML"),
    ],
)
def test_yaml_that_json_cannot_hold_is_a_400(text: str, message: str) -> None:
    got = rejected(text.encode())
    assert got.startswith("error decoding YAML: ") and message in got, got


def test_yaml_errors_name_the_line() -> None:
    assert "line 3, column 4" in rejected(b"a: 1\nb: 2\nc: !!set {x}\n")


# -- bombs ---------------------------------------------------------------------------------------


def test_alias_bomb_is_refused_before_it_grows() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 600
    tracemalloc.start()
    try:
        assert "document contains excessive aliasing" in rejected(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak  # expanded, it would be hundreds of megabytes


def test_aliases_within_the_budget_are_fine() -> None:
    value = decoding.decode(alias_bomb(4), YAML).value  # 9**4 = 6561 strings
    assert len(json.dumps(value["d"])) > 6561 * 5


def test_alias_that_would_nest_too_deep_is_refused() -> None:
    deep = "[" * 60 + "1" + "]" * 60
    assert "exceeded max depth of 100" in rejected(
        f"a: &a {deep}\nb: [[[[[[[[[[{'[' * 40}*a{']' * 50}".encode()
    )


@pytest.mark.parametrize("content_type", [YAML, JSON])
@pytest.mark.parametrize("depth", [decoding.MAX_DEPTH + 1, 1000, 100_000])
def test_nesting_past_the_limit_is_a_400(content_type: str, depth: int) -> None:
    got = rejected(b"[" * depth + b"]" * depth, content_type)
    assert "max depth" in got or "nesting depth" in got or "depth limit" in got, got


def test_block_yaml_nesting_past_the_limit_is_a_400() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1\n"
    assert "exceeded max depth of 100" in rejected(text.encode())


@pytest.mark.parametrize("content_type", [YAML, JSON])
def test_nesting_up_to_the_limit_decodes(content_type: str) -> None:
    depth = decoding.MAX_DEPTH
    value = decoding.decode(b'{"a":' * depth + b"1" + b"}" * depth, content_type).value
    for _ in range(depth):
        value = value["a"]
    assert value == 1


def test_check_depth_is_iterative() -> None:
    value: Any = 1
    for _ in range(50_000):  # far past the recursion limit
        value = [value]
    with pytest.raises(errors.APIError) as caught:
        decoding.check_depth(value, "the patched object")
    assert "the patched object" in caught.value.message


# -- objects and duplicates ---------------------------------------------------------------------


def test_duplicates_in_json_and_yaml() -> None:
    raw = b'{"a": 1, "a": 2, "b": {"c": 1, "c": 1}}'
    assert sorted(decoding.decode(raw, JSON, duplicates=True).duplicates) == ["a", "c"]
    assert decoding.decode(raw, JSON).duplicates == []  # only looked for when asked
    assert decoding.decode(b"a: 1\nb: {c: 1, c: 2}\na: 3\n", YAML).duplicates == ["c", "a"]


def test_decode_object_needs_an_object_and_a_known_type() -> None:
    with pytest.raises(errors.APIError) as caught:
        decoding.decode_object(b"[1]", JSON)
    assert caught.value.code == 400
    with pytest.raises(errors.APIError) as caught:
        decoding.decode_object(b"{}", "application/cbor")
    assert caught.value.code == 415
    assert decoding.decode_object(b"kind: Pod", "text/yaml").value == {"kind": "Pod"}


# -- Warning headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('unknown field "spec.x"', b'299 - "unknown field \\"spec.x\\""'),
        ("back\\slash", b'299 - "back\\\\slash"'),
        ("caf\u00e9 \u2713", '299 - "caf\u00e9 \u2713"'.encode()),  # UTF-8 bytes, as upstream
        ("line\nbreak\r\x00\x7f\ttab", b'299 - "line break   \ttab"'),
        ("lone \ud800", b'299 - "lone ?"'),
    ],
)
def test_warning_header_values_are_always_sendable(text: str, expected: bytes) -> None:
    value = warning.header_value(text)
    assert value == expected
    assert not any((b < 0x20 and b != 0x09) or b == 0x7F for b in value)


def test_warnings_are_deduplicated_and_truncated_as_upstream() -> None:
    assert warning.texts(["a", "", "b", "a"]) == ["a", "b"]
    many = [f"{i:04d}" + "x" * 500 for i in range(20)]
    kept = warning.texts(many)
    assert all(len(t) == warning.TRUNCATE_ITEM_RUNES for t in kept)
    assert sum(len(t) for t in kept) <= warning.TRUNCATE_AT_TOTAL_RUNES
    assert kept[0].startswith("0000") and len(kept) == 16
    assert warning.headers(["x"]) == [(b"warning", b'299 - "x"')]


def test_a_yaml_body_that_is_json_reads_as_json() -> None:
    raw = b'{"a": 1e5, "b": [1, 2], "a": 2}'
    assert decoding.decode(raw, YAML).value == {"a": 2, "b": [1, 2]}
    assert decoding.decode(raw, YAML, duplicates=True).duplicates == ["a"]
    assert decoding.decode(b'{"a": 1e5}', YAML).value == {"a": 100000.0}  # a number, as upstream
    assert decoding.decode(b"{a: 1, b: [x]}", YAML).value == {"a": 1, "b": ["x"]}  # flow YAML
    assert "max depth" in rejected(b"[" * 500 + b"]" * 500)
