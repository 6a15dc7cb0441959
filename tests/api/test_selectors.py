"""Label and field selectors: parsing, matching, canonical strings, upstream's errors."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.selectors import (
    FieldSelector,
    LabelSelector,
    Requirement,
    SelectorError,
    escape_field_value,
    format_label_selector,
    selector_to_dict_string,
)

# --- label selector: parsing ------------------------------------------------------------

R = Requirement


@pytest.mark.parametrize(
    ("text", "requirements", "canonical"),
    [
        ("", (), ""),
        ("   \t", (), ""),
        ("a=b", (R("a", "=", ("b",)),), "a=b"),
        ("a==b", (R("a", "==", ("b",)),), "a==b"),
        ("a!=b", (R("a", "!=", ("b",)),), "a!=b"),
        ("a", (R("a", "exists"),), "a"),
        ("!a", (R("a", "!"),), "!a"),
        ("a in (x,y)", (R("a", "in", ("x", "y")),), "a in (x,y)"),
        ("a notin (y,x)", (R("a", "notin", ("x", "y")),), "a notin (x,y)"),
        ("a in (x,x)", (R("a", "in", ("x",)),), "a in (x)"),
        ("a>1", (R("a", "gt", ("1",)),), "a>1"),
        ("a<10", (R("a", "lt", ("10",)),), "a<10"),
        ("a=", (R("a", "=", ("",)),), "a="),
        ("a in ()", (R("a", "in", ("",)),), "a in ()"),
        ("a in (x,)", (R("a", "in", ("", "x")),), "a in (,x)"),
        ("a in (,x)", (R("a", "in", ("", "x")),), "a in (,x)"),
        ("a in (x,,y)", (R("a", "in", ("", "x", "y")),), "a in (,x,y)"),
        # "in" and "notin" are values or keys where an identifier is expected.
        ("in in (in,notin)", (R("in", "in", ("in", "notin")),), "in in (in,notin)"),
        ("notin=in", (R("notin", "=", ("in",)),), "notin=in"),
        # Whitespace anywhere between tokens.
        (" a = b , c\tin(x , y ) ,\n!d ", (R("a", "=", ("b",)), R("c", "in", ("x", "y")), R("d", "!")), None),
        # Sorted by key; requirements on one key keep their order.
        (
            "z=1,a=2,m,a!=3",
            (R("a", "=", ("2",)), R("a", "!=", ("3",)), R("m", "exists"), R("z", "=", ("1",))),
            None,
        ),
        (
            "a=b,c!=d,e in (x,y),f notin (z),g,!h",
            (
                R("a", "=", ("b",)),
                R("c", "!=", ("d",)),
                R("e", "in", ("x", "y")),
                R("f", "notin", ("z",)),
                R("g", "exists"),
                R("h", "!"),
            ),
            "a=b,c!=d,e in (x,y),f notin (z),g,!h",
        ),
        ("example.com/app=web", (R("example.com/app", "=", ("web",)),), "example.com/app=web"),
        ("x in (foo,,baz),y,z notin ()", None, "x in (,baz,foo),y,z notin ()"),
    ],
)
def test_parse(text: str, requirements: tuple[Requirement, ...] | None, canonical: str | None) -> None:
    selector = LabelSelector.parse(text)
    if requirements is not None:
        assert selector.requirements == requirements
    if canonical is not None:
        assert str(selector) == canonical
    # The canonical form parses back to the same selector.
    assert LabelSelector.parse(str(selector)) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (b,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a!==b", "unable to parse requirement: found '=', expected: identifier"),
        ("x notin", "unable to parse requirement: found '' expected: '('"),
        (
            "a>b",
            'unable to parse requirement: values[0]: Invalid value: "b": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "a>99999999999999999999",
            'unable to parse requirement: values[0]: Invalid value: "99999999999999999999": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse(text)
    assert str(info.value) == message


def test_parse_rejects_invalid_key_like_upstream() -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse("-a=b")
    message = str(info.value)
    assert message.startswith(
        'unable to parse requirement: <nil>: Invalid value: "-a": name part must consist'
    )
    assert info.value.errors and info.value.errors[0].field == "<nil>"


@pytest.mark.parametrize("key", ["a/b/c", "/a", "a" * 64, "x_.y-", "é"])
def test_parse_rejects_invalid_keys(key: str) -> None:
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        LabelSelector.parse(f"{key}=v")


@pytest.mark.parametrize("value", ["-b", "b-", "a b", "x" * 64, "a/b"])
def test_parse_rejects_invalid_values(value: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse(f"k in ({value})")
    assert "unable to parse requirement: " in str(info.value)


def test_parse_invalid_value_names_path_and_key() -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse("tier=-db")
    assert str(info.value).startswith(
        'unable to parse requirement: values[0][tier]: Invalid value: "-db": a valid label must be'
    )


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(SelectorError):
        LabelSelector.parse(None)  # type: ignore[arg-type]


# --- label selector: matching ---------------------------------------------------------

WEB = {"app": "web", "tier": "frontend", "version": "3"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("", WEB, True),
        ("app=web", WEB, True),
        ("app==web", WEB, True),
        ("app=db", WEB, False),
        ("app=web", {}, False),
        ("app!=db", WEB, True),
        ("app!=web", WEB, False),
        ("app!=web", {}, True),  # a missing key is "not equal"
        ("app in (web,db)", WEB, True),
        ("app in (db,cache)", WEB, False),
        ("app in (web,db)", {}, False),
        ("app notin (db,cache)", WEB, True),
        ("app notin (web,db)", WEB, False),
        ("app notin (web)", {}, True),  # a missing key is "not in"
        ("app", WEB, True),
        ("app", {}, False),
        ("!app", WEB, False),
        ("!app", {}, True),
        ("app=", {"app": ""}, True),
        ("app=", {}, False),
        ("app in ()", {"app": ""}, True),
        ("version>2", WEB, True),
        ("version>3", WEB, False),
        ("version<4", WEB, True),
        ("version<3", WEB, False),
        ("version>-1", {"version": "0"}, None),  # "-1" is not a label value: parse error
        ("version>1", {"version": "x"}, False),  # non-integer label never compares
        ("version>1", {}, False),
        ("version<1", {}, False),
        ("app=web,tier=frontend", WEB, True),
        ("app=web,tier=backend", WEB, False),
        ("app=web,app=db", {"app": "web"}, False),
        ("app=web,tier in (frontend,backend),!canary,version>1", WEB, True),
        ("app=web,tier in (frontend,backend),!canary,version>1", {**WEB, "canary": "1"}, False),
        ("app=web,tier notin (frontend)", WEB, False),
        ("app,tier", WEB, True),
        ("app,!tier", WEB, False),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(SelectorError):
            LabelSelector.parse(text)
        return
    selector = LabelSelector.parse(text)
    assert selector.matches(labels) is expected
    # Each requirement on its own agrees with the compiled selector.
    assert all(r.matches(labels) for r in selector.requirements) is expected


def test_matches_none_as_no_labels() -> None:
    assert LabelSelector.parse("!app").matches(None)
    assert not LabelSelector.parse("app").matches(None)
    assert LabelSelector.everything().matches(None)


def test_matches_any_mapping() -> None:
    from types import MappingProxyType

    labels = MappingProxyType({"app": "web", "tier": "db"})
    assert LabelSelector.parse("app=web,tier=db").matches(labels)
    assert LabelSelector.parse("app=web,tier!=web").matches(labels)
    assert not LabelSelector.parse("app=web,tier=web").matches(labels)


def test_gt_lt_use_int64_semantics() -> None:
    assert LabelSelector.parse("n>0").matches({"n": "+5"})  # ParseInt accepts a sign
    assert LabelSelector.parse("n<0").matches({"n": "-5"})
    assert not LabelSelector.parse("n>0").matches({"n": "99999999999999999999"})  # overflow
    assert not LabelSelector.parse("n>0").matches({"n": "1_0"})
    assert not LabelSelector.parse("n>0").matches({"n": "٣"})  # only ASCII digits


def test_invalid_requirement_built_directly_matches_nothing() -> None:
    assert not Requirement("a", "gt", ("x",)).matches({"a": "1"})
    assert not Requirement("a", "bogus", ("x",)).matches({"a": "x"})


# --- label selector: structured form ---------------------------------------------------


def test_from_dict_none_matches_nothing_and_empty_matches_everything() -> None:
    nothing = LabelSelector.from_dict(None)
    assert not nothing.matches({})
    assert not nothing.matches(WEB)
    assert not nothing.empty
    assert nothing.matches_nothing
    assert str(nothing) == ""
    empties: list[dict[str, Any]] = [{}, {"matchLabels": {}}, {"matchLabels": None, "matchExpressions": []}]
    for empty in empties:
        selector = LabelSelector.from_dict(empty)
        assert selector.empty
        assert selector.matches({}) and selector.matches(WEB)


@pytest.mark.parametrize(
    ("selector", "canonical", "matching", "not_matching"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web", WEB, {"app": "db"}),
        ({"matchLabels": {"tier": "frontend", "app": "web"}}, "app=web,tier=frontend", WEB, {"app": "web"}),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "backend"]}]},
            "tier in (backend,frontend)",
            WEB,
            {"tier": "db"},
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
            "tier notin (db)",
            WEB,
            {"tier": "db"},
        ),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "app", WEB, {}),
        (
            {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
            "!canary",
            WEB,
            {"canary": ""},
        ),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "version", "operator": "In", "values": ["3"]},
                    {"key": "canary", "operator": "DoesNotExist", "values": None},
                ],
            },
            "app=web,!canary,version in (3)",
            WEB,
            {"app": "web", "version": "2"},
        ),
    ],
)
def test_from_dict(
    selector: dict[str, Any], canonical: str, matching: dict[str, str], not_matching: dict[str, str]
) -> None:
    parsed = LabelSelector.from_dict(selector)
    assert str(parsed) == canonical
    assert selector_to_dict_string(selector) == canonical
    assert parsed.matches(matching)
    assert not parsed.matches(not_matching)
    assert LabelSelector.parse(canonical).matches(matching)


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid label selector operator',
        ),
        ({"matchExpressions": [{"key": "a"}]}, '"" is not a valid label selector operator'),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]},
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
            'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
        ),
        ({"matchLabels": {"-bad": "x"}}, 'key: Invalid value: "-bad": name part must consist'),
        ({"matchLabels": {"app": "-bad"}}, 'values[0][app]: Invalid value: "-bad": a valid label must'),
        ({"matchLabels": ["app"]}, "matchLabels must be a map"),
        ({"matchLabels": {"app": 1}}, "matchLabels must map strings to strings"),
        ({"matchExpressions": {"key": "a"}}, "matchExpressions must be a list"),
        ({"matchExpressions": ["a"]}, "matchExpressions entries must be objects"),
        ({"matchExpressions": [{"key": 1, "operator": "Exists"}]}, "key must be a string"),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]},
            "values must be a list of strings",
        ),
        ("app=web", "a label selector must be an object"),
    ],
)
def test_from_dict_errors(selector: Any, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict(selector)
    assert message in str(info.value)


def test_from_dict_aggregates_several_errors_like_upstream() -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict({"matchExpressions": [{"key": "-a", "operator": "In", "values": ["-b"]}]})
    message = str(info.value)
    assert message.startswith('[key: Invalid value: "-a"')
    assert 'values[0][-a]: Invalid value: "-b"' in message
    assert message.endswith("]")
    assert len(info.value.errors) == 2


def test_from_set() -> None:
    selector = LabelSelector.from_set({"tier": "frontend", "app": "web"})
    assert str(selector) == "app=web,tier=frontend"
    assert selector.matches(WEB)
    assert not selector.matches({"app": "web"})
    assert LabelSelector.from_set({}).empty
    assert LabelSelector.from_set(None).matches(WEB)


def test_empty_everything_nothing() -> None:
    assert LabelSelector.parse("").empty
    assert LabelSelector.everything().empty
    assert not LabelSelector.parse("a").empty
    assert not LabelSelector.nothing().empty
    assert LabelSelector.everything() != LabelSelector.nothing()


def test_exact_value() -> None:
    selector = LabelSelector.parse("app=web,tier in (frontend),env in (a,b),x!=y,z")
    assert selector.exact_value("app") == "web"
    assert selector.exact_value("tier") == "frontend"
    assert selector.exact_value("env") is None
    assert selector.exact_value("x") is None
    assert selector.exact_value("z") is None
    assert selector.exact_value("missing") is None


def test_equality_hash_and_repr() -> None:
    a = LabelSelector.parse("b=2,a=1")
    b = LabelSelector.from_set({"a": "1", "b": "2"})
    assert a == b and hash(a) == hash(b)
    assert {a, b} == {a}
    assert a != LabelSelector.parse("a=1")
    assert a != "a=1,b=2"
    assert repr(a) == "LabelSelector.parse('a=1,b=2')"
    assert repr(LabelSelector.nothing()) == "LabelSelector.nothing()"


def test_requirement_create_validates() -> None:
    assert Requirement.create("a", "in", ["x"]) == Requirement("a", "in", ("x",))
    with pytest.raises(SelectorError, match="exact-match compatibility requires one single value"):
        Requirement.create("a", "=", ["x", "y"])
    with pytest.raises(SelectorError, match="exactly one value is required"):
        Requirement.create("a", "lt", [])
    with pytest.raises(SelectorError, match='operator: Unsupported value: "~"'):
        Requirement.create("a", "~", ["x"])


def test_requirement_str() -> None:
    assert str(Requirement("a", "in", ("z", "y"))) == "a in (y,z)"
    assert str(Requirement("a", "gt", ("1",))) == "a>1"
    assert str(Requirement("a", "lt", ("1",))) == "a<1"
    assert str(Requirement("a", "!")) == "!a"
    assert str(Requirement("a", "exists")) == "a"


def test_format_label_selector() -> None:
    assert format_label_selector({"matchLabels": {"app": "web"}}) == "app=web"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bad"}]}) == "<error>"
    assert selector_to_dict_string({}) == ""
    assert selector_to_dict_string(None) == ""


# --- field selectors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "requirements", "canonical"),
    [
        ("", (), ""),
        (",", (), ""),
        ("metadata.name=x", (("metadata.name", "=", "x"),), "metadata.name=x"),
        ("metadata.name==x", (("metadata.name", "==", "x"),), "metadata.name=x"),
        ("spec.nodeName!=", (("spec.nodeName", "!=", ""),), "spec.nodeName!="),
        ("spec.nodeName=", (("spec.nodeName", "=", ""),), "spec.nodeName="),
        (
            "status.phase=Running,metadata.name=x,spec.nodeName!=",
            (("metadata.name", "=", "x"), ("spec.nodeName", "!=", ""), ("status.phase", "=", "Running")),
            "metadata.name=x,spec.nodeName!=,status.phase=Running",
        ),
        ("a=x\\,y", (("a", "=", "x,y"),), "a=x\\,y"),
        ("a=x\\=y", (("a", "=", "x=y"),), "a=x\\=y"),
        ("a=x\\\\y", (("a", "=", "x\\y"),), "a=x\\\\y"),
        ("a=x\\,y,b=z", (("a", "=", "x,y"), ("b", "=", "z")), "a=x\\,y,b=z"),
        # Nothing is trimmed: spaces belong to the field or the value, as upstream.
        ("a = b", (("a ", "=", " b"),), "a = b"),
        # The first operator splits: a later "!" is part of the value.
        ("a=!b", (("a", "=", "!b"),), "a=!b"),
        ("a!b=c", (("a!b", "=", "c"),), "a!b=c"),
    ],
)
def test_field_selector_parse(
    text: str, requirements: tuple[tuple[str, str, str], ...], canonical: str
) -> None:
    selector = FieldSelector.parse(text)
    assert selector.requirements == requirements
    assert str(selector) == canonical
    assert FieldSelector.parse(str(selector)).requirements == tuple(
        (f, "=" if op == "==" else op, v) for f, op, v in requirements
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: '='"),
        ("a=\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        FieldSelector.parse(text)
    assert str(info.value) == message


def test_field_selector_rejects_non_strings_and_bad_operators() -> None:
    with pytest.raises(SelectorError):
        FieldSelector.parse(None)  # type: ignore[arg-type]
    with pytest.raises(SelectorError):
        FieldSelector([("a", "in", "b")])


POD_FIELDS = {"metadata.name": "web-1", "metadata.namespace": "default", "spec.nodeName": "n1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name=web-2", False),
        ("metadata.name!=web-2", True),
        ("spec.nodeName!=", True),  # scheduled pods
        ("spec.nodeName=", False),
        ("status.phase=", True),  # missing fields compare as ""
        ("status.phase!=", False),
        ("status.phase=Running", False),
        ("metadata.name=web-1,spec.nodeName=n1", True),
        ("metadata.name=web-1,spec.nodeName=n2", False),
    ],
)
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert FieldSelector.parse(text).matches(POD_FIELDS) is expected


def test_field_selector_fields_exact_value_and_empty() -> None:
    selector = FieldSelector.parse("metadata.name=x,spec.nodeName!=,metadata.namespace==ns")
    assert selector.fields() == {"metadata.name", "spec.nodeName", "metadata.namespace"}
    assert selector.exact_value("metadata.name") == "x"
    assert selector.exact_value("metadata.namespace") == "ns"
    assert selector.exact_value("spec.nodeName") is None
    assert selector.exact_value("status.phase") is None
    assert not selector.empty
    assert FieldSelector.parse("").empty
    assert FieldSelector.everything().matches({})
    assert FieldSelector.parse("").fields() == set()


def test_field_selector_equality_and_repr() -> None:
    a = FieldSelector.parse("b=2,a=1")
    assert a == FieldSelector.parse("a=1,b=2")
    assert hash(a) == hash(FieldSelector.parse("a=1,b=2"))
    assert a != FieldSelector.parse("a=1")
    assert a != "a=1,b=2"
    assert repr(a) == "FieldSelector.parse('a=1,b=2')"


@pytest.mark.parametrize("value", ["plain", "a,b", "a=b", "back\\slash", "\\,=", ""])
def test_escape_round_trip(value: str) -> None:
    selector = FieldSelector.parse(f"metadata.name={escape_field_value(value)}")
    assert selector.exact_value("metadata.name") == value
    assert selector.matches({"metadata.name": value})
