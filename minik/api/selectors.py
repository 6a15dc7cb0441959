"""Label selectors and field selectors, parsed and matched the way Kubernetes does.

A *label selector* picks objects by their ``metadata.labels``. It is how one object
refers to a group of others without naming them: a ReplicaSet owns the Pods its
``spec.selector`` matches, a Service sends traffic to the Pods its ``spec.selector``
matches, a Deployment finds its ReplicaSets, and ``kubectl get pods -l app=web`` (the
``labelSelector`` query parameter) asks the API server to filter a list or a watch.
Selectors come in two shapes:

* the **string form** used on the command line and in query parameters,
  ``"app=web,tier!=db,env in (prod,staging),!canary"`` (``LabelSelector.parse``);
* the **structured form** ``metav1.LabelSelector`` found in object specs,
  ``{"matchLabels": {...}, "matchExpressions": [{"key", "operator", "values"}]}``
  (``LabelSelector.from_dict``), plus the plain map that ReplicationControllers and
  Services use (``LabelSelector.from_set``).

All requirements of a selector must hold (logical AND). Two corner cases matter and
mirror upstream exactly: an *empty* selector matches everything, while a *missing*
structured selector (``None``) matches nothing -- so a ReplicaSet without a selector
can never adopt every Pod in its namespace.

A *field selector* (``fieldSelector`` query parameter, ``kubectl get
--field-selector``) filters on a few well-known fields of an object such as
``metadata.name``, ``spec.nodeName`` or ``status.phase``. It only knows ``=``, ``==``
and ``!=``; which fields are allowed is decided per resource by the API server (see
``FieldSelector.fields``). The kubelet watches its own Pods with
``spec.nodeName=<node>``; ``exact_value`` lets the server narrow such lookups.

Both parsers follow ``k8s.io/apimachinery/pkg/labels`` and ``pkg/fields``: the same
grammar, the same canonical string form (requirements sorted by key, set values
sorted), and error messages worded like upstream's so that people can search for
them. Everything is compiled once at parse time, because ``matches`` runs for every
object of every watch event fanned out by the API server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from minik.api.field import FieldError, invalid, not_supported
from minik.api.validation.names import is_label_value, is_qualified_name

__all__ = [
    "DOES_NOT_EXIST",
    "DOUBLE_EQUALS",
    "EQUALS",
    "EXISTS",
    "GREATER_THAN",
    "IN",
    "LESS_THAN",
    "NOT_EQUALS",
    "NOT_IN",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "escape_field_value",
    "format_label_selector",
    "selector_to_dict_string",
]


class SelectorError(ValueError):
    """A selector that cannot be parsed or is invalid.

    ``str(error)`` is the message to show in a 400 ``BadRequest`` Status, worded like
    upstream (``unable to parse requirement: ...``). ``errors`` holds the individual
    field errors when the problem is an invalid key, value or operator.
    """

    def __init__(self, message: str, errors: Iterable[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[FieldError, ...] = tuple(errors)


# --- operators (the strings of upstream's selection.Operator) -----------------------

EQUALS: Final = "="
DOUBLE_EQUALS: Final = "=="
NOT_EQUALS: Final = "!="
IN: Final = "in"
NOT_IN: Final = "notin"
EXISTS: Final = "exists"
DOES_NOT_EXIST: Final = "!"
GREATER_THAN: Final = "gt"
LESS_THAN: Final = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
_ALL_OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS

# metav1.LabelSelectorRequirement operators -> selection operators.
_STRUCTURED_OPERATORS: Final = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: object) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``: ASCII digits, optional sign, in range."""
    if not isinstance(text, str) or not _INTEGER_RE.fullmatch(text):
        return None
    n = int(text)
    return n if _INT64_MIN <= n <= _INT64_MAX else None


def _aggregate(errors: list[FieldError]) -> str:
    """Join errors like upstream's ``utilerrors.Aggregate``: one bare, several in [ ]."""
    messages = list(dict.fromkeys(str(e) for e in errors))
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


# --- requirements ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One condition on one label: ``key``, an operator and (maybe) values.

    ``Requirement(...)`` does not validate; ``Requirement.create`` does, like
    upstream's ``labels.NewRequirement``.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def create(cls, key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
        """Build a validated requirement or raise ``SelectorError``.

        The rules are upstream's: ``in``/``notin`` need at least one value, the
        equality operators exactly one, ``exists``/``!`` none, ``gt``/``lt`` exactly
        one integer; the key must be a qualified name and every value a label value.
        """
        vals = tuple(values)
        errors: list[FieldError] = []
        key_errors = is_qualified_name(key)
        if key_errors:
            errors.append(invalid("key", key, "; ".join(key_errors)))
        if operator in (IN, NOT_IN):
            if not vals:
                errors.append(
                    invalid("values", list(vals), "for 'in', 'notin' operators, values set can't be empty")
                )
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            if len(vals) != 1:
                errors.append(
                    invalid("values", list(vals), "exact-match compatibility requires one single value")
                )
        elif operator in (EXISTS, DOES_NOT_EXIST):
            if vals:
                errors.append(
                    invalid("values", list(vals), "values set must be empty for exists and does not exist")
                )
        elif operator in (GREATER_THAN, LESS_THAN):
            if len(vals) != 1:
                errors.append(
                    invalid("values", list(vals), "for 'Gt', 'Lt' operators, exactly one value is required")
                )
            for i, v in enumerate(vals):
                if _parse_int64(v) is None:
                    errors.append(
                        invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                    )
        else:
            errors.append(not_supported("operator", operator, list(_ALL_OPERATORS)))
        for i, v in enumerate(vals):
            value_errors = is_label_value(v) if isinstance(v, str) else ["must be a string"]
            if value_errors:
                errors.append(invalid(f"values[{i}][{key}]", v, "; ".join(value_errors)))
        if errors:
            raise SelectorError(_aggregate(errors), errors)
        return cls(key, operator, vals)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether this one requirement holds for ``labels`` (see ``LabelSelector``)."""
        return _compile_one(self)(labels or {})

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        values = self.values if len(self.values) < 2 else sorted(self.values)
        joined = ",".join(values)
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({joined})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{joined}"


_Check = Callable[[Mapping[str, Any]], bool]


def _compile_one(req: Requirement) -> _Check:
    """A closure that evaluates one requirement; operands are precomputed here."""
    key, op, values = req.key, req.operator, req.values
    if op in (EQUALS, DOUBLE_EQUALS, IN) and len(values) == 1:
        value = values[0]
        return lambda labels: labels.get(key) == value
    if op in (NOT_EQUALS, NOT_IN) and len(values) == 1:
        value = values[0]
        return lambda labels: labels.get(key) != value
    if op in (EQUALS, DOUBLE_EQUALS, IN):
        # A missing key gives None, which is in no set of strings.
        allowed = frozenset(values)
        return lambda labels: labels.get(key) in allowed
    if op in (NOT_EQUALS, NOT_IN):
        excluded = frozenset(values)
        return lambda labels: labels.get(key) not in excluded
    if op == EXISTS:
        return lambda labels: key in labels
    if op == DOES_NOT_EXIST:
        return lambda labels: key not in labels
    if op in (GREATER_THAN, LESS_THAN) and len(values) == 1:
        bound = _parse_int64(values[0])
        if bound is None:
            return lambda labels: False
        greater = op == GREATER_THAN

        def compare(labels: Mapping[str, Any]) -> bool:
            n = _parse_int64(labels.get(key))
            if n is None:
                return False
            return n > bound if greater else n < bound

        return compare
    return lambda labels: False  # an invalid requirement matches nothing, as upstream


# --- label selectors ----------------------------------------------------------------


class LabelSelector:
    """A set of requirements on labels, all of which must hold.

    Build one with ``parse`` (string form), ``from_dict`` (``metav1.LabelSelector``),
    ``from_set`` (a plain ``{key: value}`` map), ``everything()`` or ``nothing()``.
    Instances are immutable and hashable; requirements are kept sorted by key, which
    gives the canonical string form.
    """

    __slots__ = ("_check", "_nothing", "requirements")

    requirements: tuple[Requirement, ...]

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        # sorted() is stable: requirements on one key keep their written order.
        self.requirements = () if nothing else tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing
        # Equality requirements (the overwhelmingly common case: matchLabels, Service
        # selectors, -l app=x) become one subset test against labels.items(), done
        # in C. Everything else gets a precompiled closure.
        eq_pairs: set[tuple[str, str]] = set()
        others: list[_Check] = []
        for r in self.requirements:
            if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                eq_pairs.add((r.key, r.values[0]))
            else:
                others.append(_compile_one(r))
        self._check = self._build_check(frozenset(eq_pairs), tuple(others))

    @staticmethod
    def _build_check(eq_pairs: frozenset[tuple[str, str]], others: tuple[_Check, ...]) -> _Check:
        if not eq_pairs and not others:
            return lambda labels: True
        if len(eq_pairs) == 1 and not others:
            ((key, value),) = eq_pairs
            return lambda labels: labels.get(key) == value
        if not others:
            return lambda labels: labels.items() >= eq_pairs
        if not eq_pairs and len(others) == 1:
            return others[0]

        def check(labels: Mapping[str, Any]) -> bool:
            if eq_pairs and not labels.items() >= eq_pairs:
                return False
            for other in others:  # noqa: SIM110 - a plain loop beats all(<genexpr>) here
                if not other(labels):
                    return False
            return True

        return check

    # constructors

    @classmethod
    def everything(cls) -> LabelSelector:
        """The empty selector: matches every set of labels."""
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> LabelSelector:
        """The selector that matches no set of labels (a ``null`` structured selector)."""
        return _NOTHING

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse the string form, e.g. ``"a=b,c!=d,e in (x,y),f notin (z),g,!h"``.

        Grammar (upstream's ``labels.Parse``)::

            selector    ::= requirement ("," requirement)*
            requirement ::= ["!"] KEY [ ("in"|"notin") "(" VALUES ")"
                                      | ("="|"=="|"!=") VALUE | (">"|"<") INTEGER ]

        Whitespace around tokens is ignored; an empty string selects everything;
        ``key in ()`` and ``key=`` compare with the empty value. Keys must be
        qualified names and values label values.
        """
        if not isinstance(text, str):
            raise SelectorError(f"label selector must be a string, not {type(text).__name__}")
        requirements = _LabelParser(text).parse()
        return cls(requirements) if requirements else _EVERYTHING

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> LabelSelector:
        """Convert a ``metav1.LabelSelector`` (``LabelSelectorAsSelector`` upstream).

        ``None`` matches nothing; ``{}`` (no matchLabels, no matchExpressions) matches
        everything. Operators are ``In``, ``NotIn``, ``Exists`` and ``DoesNotExist``.
        """
        if selector is None:
            return _NOTHING
        if not isinstance(selector, Mapping):
            raise SelectorError(f"a label selector must be an object, not {_type_name(selector)}")
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping):
            raise SelectorError(f"matchLabels must be a map of strings, not {_type_name(match_labels)}")
        if not isinstance(expressions, list):
            raise SelectorError(f"matchExpressions must be a list, not {_type_name(expressions)}")
        if not match_labels and not expressions:
            return _EVERYTHING
        requirements: list[Requirement] = []
        for key in sorted(match_labels, key=str):
            value = match_labels[key]
            if not isinstance(key, str) or not isinstance(value, str):
                raise SelectorError(f"matchLabels must map strings to strings, got {key!r}: {value!r}")
            requirements.append(Requirement.create(key, EQUALS, (value,)))
        for expr in expressions:
            if not isinstance(expr, Mapping):
                raise SelectorError(f"matchExpressions entries must be objects, not {_type_name(expr)}")
            key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
            op = _STRUCTURED_OPERATORS.get(operator) if isinstance(operator, str) else None
            if op is None:
                shown = operator if isinstance(operator, str) else "" if operator is None else repr(operator)
                raise SelectorError(f'"{shown}" is not a valid label selector operator')
            if not isinstance(key, str):
                raise SelectorError(f"matchExpressions key must be a string, not {_type_name(key)}")
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SelectorError(f"matchExpressions values must be a list of strings, got {values!r}")
            requirements.append(Requirement.create(key, op, values))
        return cls(requirements)

    @classmethod
    def from_set(cls, labels: Mapping[str, str] | None) -> LabelSelector:
        """An equality selector matching exactly ``labels`` (empty or None: everything).

        This is how ReplicationController and Service ``spec.selector`` maps select
        Pods. Like upstream's ``SelectorFromSet`` it does not validate.
        """
        if not labels:
            return _EVERYTHING
        return cls(Requirement(k, EQUALS, (v,)) for k, v in labels.items())

    # queries

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether every requirement holds for ``labels`` (``None`` = no labels)."""
        if self._nothing:
            return False
        return self._check(labels if labels is not None else _NO_LABELS)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (matches everything)."""
        return not self.requirements and not self._nothing

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def exact_value(self, key: str) -> str | None:
        """The single value ``key`` must have (from ``=``, ``==`` or one-valued ``in``).

        Like upstream's ``RequiresExactMatch``: only the first requirement on ``key``
        is consulted. Used to narrow lookups through an index.
        """
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector.nothing()"
        return f"LabelSelector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


_NO_LABELS: Mapping[str, str] = {}
_EVERYTHING = LabelSelector()
_NOTHING = LabelSelector(nothing=True)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def selector_to_dict_string(selector: Mapping[str, Any] | None) -> str:
    """The string form of a ``metav1.LabelSelector`` dict, e.g. ``"app=web,tier in (a,b)"``.

    This is what the Scale subresource reports as ``status.selector`` and what
    printers show. An empty selector and ``None`` both give ``""``; an invalid one
    raises ``SelectorError``.
    """
    return str(LabelSelector.from_dict(selector))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """Like ``selector_to_dict_string`` but for humans (upstream's ``FormatLabelSelector``).

    An empty result prints as ``<none>`` and an invalid selector as ``<error>``.
    """
    try:
        text = selector_to_dict_string(selector)
    except SelectorError:
        return "<error>"
    return text or "<none>"


# --- the label selector parser --------------------------------------------------------

# Token kinds.
_ERROR, _END, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _IDENT, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)

_KEYWORDS: Final = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_TOKEN_RE = re.compile(r"[ \t\r\n]*(?:(!=|==|[=!(),><])|([^ \t\r\n=!(),><]+)|\Z)")


def _lex(text: str) -> list[tuple[int, str]]:
    """Split into (kind, literal) tokens, ending with an ``_END`` token.

    Operators are the longest special-symbol sequence that is a known token
    ("!=", "=="), identifiers run until whitespace or a special symbol; the words
    ``in`` and ``notin`` are keywords (the parser demotes them to identifiers where a
    value is expected).
    """
    tokens: list[tuple[int, str]] = []
    pos = 0
    while True:
        m = _TOKEN_RE.match(text, pos)
        assert m is not None  # the pattern always matches (at worst the empty end)
        symbol, word = m.group(1), m.group(2)
        if symbol is not None:
            tokens.append((_KEYWORDS[symbol], symbol))
        elif word is not None:
            tokens.append((_KEYWORDS.get(word, _IDENT), word))
        else:
            tokens.append((_END, ""))
            return tokens
        pos = m.end()


_KEY_OR_OPERATOR, _VALUES = 0, 1


class _LabelParser:
    """Recursive descent over the tokens, one method per grammar rule (as upstream)."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def _peek(self, context: int) -> tuple[int, str]:
        kind, literal = self.tokens[min(self.pos, len(self.tokens) - 1)]
        if context == _VALUES and kind in (_IN, _NOTIN):
            kind = _IDENT
        return kind, literal

    def _next(self, context: int) -> tuple[int, str]:
        token = self._peek(context)
        self.pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self._peek(_VALUES)
            if kind == _END:
                return requirements
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as e:
                raise SelectorError(f"unable to parse requirement: {e}", e.errors) from None
            kind, literal = self._next(_VALUES)
            if kind == _END:
                return requirements
            if kind != _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek(_VALUES)
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator is not None:  # exists / does not exist: no operator, no values
            return Requirement.create(key, operator, ())
        operator = self._operator()
        values = self._value_set() if operator in (IN, NOT_IN) else self._exact_value()
        return Requirement.create(key, operator, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, str | None]:
        operator: str | None = None
        kind, literal = self._next(_VALUES)
        if kind == _NOT:
            operator = DOES_NOT_EXIST
            kind, literal = self._next(_VALUES)
        if kind != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key_errors = is_qualified_name(literal)
        if key_errors:
            # Upstream validates the key here with a nil field path, hence "<nil>".
            error = invalid("<nil>", literal, "; ".join(key_errors))
            raise SelectorError(str(error), [error])
        if operator is None and self._peek(_VALUES)[0] in (_END, _COMMA):
            operator = EXISTS
        return literal, operator

    def _operator(self) -> str:
        kind, literal = self._next(_KEY_OR_OPERATOR)
        operator = {
            _IN: IN,
            _NOTIN: NOT_IN,
            _EQ: EQUALS,
            _DEQ: DOUBLE_EQUALS,
            _NEQ: NOT_EQUALS,
            _GT: GREATER_THAN,
            _LT: LESS_THAN,
        }.get(kind)
        if operator is None:
            raise SelectorError(f"found '{literal}', expected: {', '.join(_BINARY_OPERATORS)}")
        return operator

    def _value_set(self) -> set[str]:
        kind, literal = self._next(_VALUES)
        if kind != _OPEN:
            raise SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self._peek(_VALUES)
        if kind == _CLOSE:  # "()" is the set holding the empty value
            self.pos += 1
            return {""}
        if kind not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifier_list()
        self.pos += 1  # the ")" that ended the list
        return values

    def _identifier_list(self) -> set[str]:
        """Comma-separated, possibly empty values: "(a,b)", "(a,)", "(,a)", "(a,,b)".

        The empty-value rules are upstream's, quirks included ("(a,,)" is an error
        while "(a,)" and "(a,,b)" are not).
        """
        values: set[str] = set()
        while True:
            kind, literal = self._next(_VALUES)
            if kind == _IDENT:
                values.add(literal)
                next_kind, next_literal = self._peek(_VALUES)
                if next_kind == _CLOSE:
                    return values
                if next_kind != _COMMA:
                    raise SelectorError(f"found '{next_literal}', expected: ',' or ')'")
            elif kind == _COMMA:
                if not values:  # "(,": an empty value before the comma
                    values.add("")
                next_kind = self._peek(_VALUES)[0]
                if next_kind == _CLOSE:  # ",)": an empty value after it
                    values.add("")
                    return values
                if next_kind == _COMMA:  # ",,": an empty value between
                    self.pos += 1
                    values.add("")
            else:
                raise SelectorError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        kind, literal = self._peek(_VALUES)
        if kind in (_END, _COMMA):  # "key=" compares with the empty value
            return {""}
        self.pos += 1
        if kind == _IDENT:
            return {literal}
        raise SelectorError(f"found '{literal}', expected: identifier")


# --- field selectors ----------------------------------------------------------------

_FIELD_OPERATORS = ("!=", "==", "=")  # "==" before "=" so no "=" is left on the value
_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so a value can be put in a field selector."""
    return value.translate(_ESCAPES)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes stay in the terms)."""
    if "\\" not in text:
        return text.split(",") if text else []
    terms: list[str] = []
    start, escaped = 0, False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """``lhs, op, rhs`` at the first operator; the field name has no escaping."""
    for i in range(len(term)):
        for op in _FIELD_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape_value(value: str) -> str:
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out: list[str] = []
    escaped = False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: '{c}'")
        else:
            out.append(c)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


class FieldSelector:
    """Equality conditions on a few fields of an object, all of which must hold.

    ``requirements`` are ``(field, operator, value)`` triples with operator ``=``,
    ``==`` or ``!=``, sorted like upstream (by the text of each term). Matching takes
    the object's selectable fields as a flat ``{"metadata.name": ..., ...}`` map; a
    field that is missing from it compares as the empty string.
    """

    __slots__ = ("_terms", "requirements")

    requirements: tuple[tuple[str, str, str], ...]

    def __init__(self, requirements: Iterable[tuple[str, str, str]] = ()) -> None:
        self.requirements = tuple(requirements)
        for _, op, _ in self.requirements:
            if op not in _FIELD_OPERATORS:
                raise SelectorError(f"field selector operator must be one of =, ==, !=; not {op!r}")
        self._terms = tuple((f, v, op != "!=") for f, op, v in self.requirements)

    @classmethod
    def everything(cls) -> FieldSelector:
        return _EVERY_FIELD

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """Parse ``"metadata.name=x,spec.nodeName!=,status.phase=Running"``.

        Values may contain ``\\,``, ``\\=`` and ``\\\\``; an unescaped ``,`` or ``=`` in
        a value, or any other escape, is an error. Nothing is trimmed: spaces are
        part of the field name or the value, as upstream.
        """
        if not isinstance(text, str):
            raise SelectorError(f"field selector must be a string, not {type(text).__name__}")
        requirements: list[tuple[str, str, str]] = []
        for term in sorted(_split_terms(text)):
            if not term:
                continue
            split = _split_term(term)
            if split is None:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
            lhs, op, rhs = split
            requirements.append((lhs, op, _unescape_value(rhs)))
        return cls(requirements) if requirements else _EVERY_FIELD

    def matches(self, fields: Mapping[str, str]) -> bool:
        get = fields.get
        for field, value, equal in self._terms:  # noqa: SIM110 - hot path, no generator
            if (get(field, "") == value) != equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self.requirements

    def fields(self) -> set[str]:
        """The field names this selector refers to."""
        return {f for f, _, _ in self.requirements}

    def exact_value(self, field: str) -> str | None:
        """The value of the first ``=``/``==`` requirement on ``field``, if any."""
        for f, value, equal in self._terms:
            if equal and f == field:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(
            f"{f}{'!=' if op == '!=' else '='}{escape_field_value(v)}" for f, op, v in self.requirements
        )

    def __repr__(self) -> str:
        return f"FieldSelector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


_EVERY_FIELD = FieldSelector()
