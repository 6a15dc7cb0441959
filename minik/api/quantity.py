"""Resource quantities: ``"100m"`` of CPU, ``"128Mi"`` of memory, exactly.

Kubernetes writes amounts of resources -- container requests and limits, node
capacity and allocatable, ResourceQuota hard limits, volume sizes -- as *quantity*
strings (``k8s.io/apimachinery/pkg/api/resource``)::

    quantity        ::= signedNumber suffix
    signedNumber    ::= ["+" | "-"] number
    number          ::= digits | digits "." digits | digits "." | "." digits
    suffix          ::= binarySI | decimalSI | decimalExponent
    binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei            (powers of 1024)
    decimalSI       ::= n | u | m | "" | k | M | G | T | P | E (powers of 1000)
    decimalExponent ::= ("e" | "E") signedInteger             (powers of 10)

So ``"0.5"`` = ``"500m"`` CPU, ``"1Gi"`` = 1073741824 bytes and ``"1G"`` = 10**9 bytes.
Numbers are never floating point: this module parses them into exact
``fractions.Fraction`` values, which compare and add exactly (``sum()`` of parsed
requests, ``<=`` against allocatable), and formats them back canonically.

Rules kept from upstream:

* a value finer than one nano-unit is rounded *away from zero* to whole nanos
  (``"0.9n"`` -> ``1n``): if you ask for some resource, you get some;
* a binary-suffixed value is capped at 2**63-1 (``"8Ei"``);
* ``milli_value`` and ``value`` round away from zero (``"1.5m"`` -> 2 millicores);
* the canonical form has no fraction digits and the largest suffix that keeps the
  value exact, in the suffix family the quantity was written in: ``"1.5"`` ->
  ``"1500m"``, ``"1.5Gi"`` -> ``"1536Mi"``, ``"1024Mi"`` -> ``"1Gi"``, ``"1e3"`` ->
  ``"1e3"``; a binary value that is small (|v| < 1024) or fractional is shown in
  decimal form instead (``"0.5Ki"`` -> ``"512"``).

One deliberate difference: upstream's scanner accepts a suffix or sign without any
digits (``"Mi"``, ``"-"``, ``"."``) as zero, which its own grammar does not allow and
which is always a typo; minik rejects those.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Final, Literal

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "QuantityError",
    "QuantityFormat",
    "add_quantities",
    "canonical_quantity",
    "compare_quantities",
    "format_quantity",
    "is_valid_quantity",
    "milli_value",
    "parse_quantity",
    "parse_quantity_and_format",
    "value",
]

QuantityFormat = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Final = "DecimalSI"
BINARY_SI: Final = "BinarySI"
DECIMAL_EXPONENT: Final = "DecimalExponent"

QuantityLike = str | int | float | Fraction


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's wording."""


# Upstream's error messages, verbatim: users search for them.
ERR_FORMAT_WRONG: Final = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_NUMERIC: Final = "unable to parse numeric part of quantity"
ERR_SUFFIX: Final = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_SUFFIX_FOR: Final = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_SUFFIX_FOR: Final = {exp // 10: suffix for suffix, exp in _BINARY_SUFFIXES.items()}

# sign, integer digits, fraction digits, suffix. Possessive quantifiers make the split
# the same as upstream's left-to-right scanner (no backtracking into another split).
_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*+)(?:\.([0-9]*+))?([eEinumkKMGTP]*+[-+]?[0-9]*+)")
_EXPONENT_RE = re.compile(r"[eE]([+-]?[0-9]+)")
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1

_NANO: Final = 10**9
_BINARY_MAX: Final = (1 << 63) - 1
# Values with more digits than this are refused instead of building huge integers
# (a denial of service waiting to happen, and no resource is that large).
_MAX_DIGITS: Final = 1000


def _round_away(x: Fraction) -> int:
    """Round to an integer away from zero (upstream's ``inf.RoundUp``)."""
    return math.ceil(x) if x >= 0 else math.floor(x)


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Fraction, QuantityFormat]:
    """The uncached parser behind ``parse_quantity_and_format`` (strings only)."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        raise QuantityError(ERR_FORMAT_WRONG)
    sign, whole, fraction, suffix = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    if not whole and not fraction:
        # "Mi", "-", "+k": the regular expression in the message needs a digit or "."
        raise QuantityError(ERR_NUMERIC if m.group(3) is not None else ERR_FORMAT_WRONG)

    fmt: QuantityFormat
    if suffix in _DECIMAL_SUFFIXES:
        base, exponent, fmt = 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    elif suffix in _BINARY_SUFFIXES:
        base, exponent, fmt = 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    else:
        e = _EXPONENT_RE.fullmatch(suffix)
        # The exponent must be an int64, as upstream's strconv.ParseInt requires.
        if e is None or len(e.group(1)) > 20 or not _INT64_MIN <= int(e.group(1)) <= _INT64_MAX:
            raise QuantityError(ERR_SUFFIX)
        base, exponent, fmt = 10, int(e.group(1)), DECIMAL_EXPONENT

    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Fraction(0), fmt
    if len(digits) > _MAX_DIGITS:
        raise QuantityError(f"{ERR_NUMERIC}: more than {_MAX_DIGITS} significant digits")
    mantissa = -int(digits) if sign == "-" else int(digits)

    if base == 2:
        if len(fraction) - len(digits) > 9 + 19:  # below 1n even times 2**60 (~10**18)
            return Fraction(1 if mantissa > 0 else -1, _NANO), DECIMAL_SI
        amount = Fraction(mantissa << exponent, 10 ** len(fraction))
    else:
        exp10 = exponent - len(fraction)
        if len(digits) + exp10 > _MAX_DIGITS:
            raise QuantityError(f"quantity is too large: more than {_MAX_DIGITS} digits")
        if len(digits) + exp10 < -9:
            # Below one nano (10**-9): rounds away from zero to exactly +-1n.
            return Fraction(1 if mantissa > 0 else -1, _NANO), fmt
        amount = Fraction(mantissa) * Fraction(10) ** exp10

    nanos = amount * _NANO
    if nanos.denominator != 1:
        amount = Fraction(_round_away(nanos), _NANO)

    if fmt == BINARY_SI:
        if abs(amount) > _BINARY_MAX:
            amount = Fraction(_BINARY_MAX if amount > 0 else -_BINARY_MAX)
        if abs(amount) < 1:
            fmt = DECIMAL_SI  # "0.5Ki" has no exact binary form; avoid rounding it
    return amount, fmt


def parse_quantity_and_format(text: str | int | float) -> tuple[Fraction, QuantityFormat]:
    """Parse a quantity and report the suffix family it was written in.

    Strings must match exactly (no surrounding whitespace, like upstream's
    ``ParseQuantity``); ints and floats are what a JSON number decodes to and are
    read from their decimal text.
    """
    if isinstance(text, str):
        return _parse(text)
    if isinstance(text, bool) or not isinstance(text, (int, float)):
        raise QuantityError(f"a quantity must be a string or a number, not {type(text).__name__}")
    if isinstance(text, float) and not math.isfinite(text):
        raise QuantityError(ERR_NUMERIC)
    return _parse(repr(text))


def parse_quantity(text: str | int | float) -> Fraction:
    """The exact value of a quantity (``"100m"`` -> ``Fraction(1, 10)``)."""
    return parse_quantity_and_format(text)[0]


def _as_fraction(q: QuantityLike) -> Fraction:
    return q if isinstance(q, Fraction) else parse_quantity(q)


def is_valid_quantity(text: object) -> bool:
    """Whether ``text`` parses as a quantity."""
    if not isinstance(text, (str, int, float)):
        return False
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


def milli_value(q: QuantityLike) -> int:
    """The quantity in thousandths, rounded away from zero (CPU: ``"1.5"`` -> 1500)."""
    return _round_away(_as_fraction(q) * 1000)


def value(q: QuantityLike) -> int:
    """The quantity in whole units, rounded away from zero (memory: ``"1Ki"`` -> 1024)."""
    return _round_away(_as_fraction(q))


def compare_quantities(a: QuantityLike, b: QuantityLike) -> int:
    """-1, 0 or 1 as ``a`` is less than, equal to or greater than ``b``."""
    x, y = _as_fraction(a), _as_fraction(b)
    return (x > y) - (x < y)


def add_quantities(*quantities: QuantityLike) -> Fraction:
    """The exact sum of some quantities (strings, numbers or parsed values)."""
    return sum((_as_fraction(q) for q in quantities), Fraction(0))


def format_quantity(
    amount: Fraction | int,
    binary: bool = False,
    *,
    style: QuantityFormat | None = None,
) -> str:
    """The canonical string for ``amount``.

    ``binary=True`` (or ``style="BinarySI"``) prefers the power-of-1024 suffixes,
    falling back to decimal form when that would not be exact or the magnitude is
    below 1024; ``style="DecimalExponent"`` writes ``e<n>`` exponents. A value finer
    than one nano is first rounded away from zero, as parsing would.
    """
    if style is None:
        style = BINARY_SI if binary else DECIMAL_SI
    amount = Fraction(amount)
    nanos = _round_away(amount * _NANO)
    if nanos == 0:
        return "0"

    if style == BINARY_SI:
        if -1024 < amount < 1024 or nanos % _NANO != 0:
            style = DECIMAL_SI
        else:
            mantissa, power = nanos // _NANO, 0
            while power < 6 and mantissa % 1024 == 0:
                mantissa //= 1024
                power += 1
            return f"{mantissa}{_BINARY_SUFFIX_FOR.get(power, '')}"

    # Move every factor of ten into the exponent, then back down to a multiple of
    # three so that a suffix exists for it.
    digits = str(abs(nanos))
    zeros = len(digits) - len(digits.rstrip("0"))
    mantissa, exponent = nanos // 10**zeros, zeros - 9
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    if style == DECIMAL_SI and exponent in _DECIMAL_SUFFIX_FOR:
        return f"{mantissa}{_DECIMAL_SUFFIX_FOR[exponent]}"
    # DecimalExponent, or a decimal value beyond "E" (10**18) that has no suffix.
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def canonical_quantity(raw: str | int | float) -> str:
    """Re-emit a quantity from an object the way the API server stores it.

    Like upstream's JSON decoding, surrounding whitespace is ignored; the canonical
    form keeps the suffix family the value was written in (``" 0.5 "`` -> ``"500m"``,
    ``"2048Ki"`` -> ``"2Mi"``, ``1`` -> ``"1"``).
    """
    amount, fmt = parse_quantity_and_format(raw.strip() if isinstance(raw, str) else raw)
    return format_quantity(amount, style=fmt)
