"""Resource quantities: exact parsing, both suffix families, rounding, canonical form."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from minik.api.quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    QuantityError,
    add_quantities,
    canonical_quantity,
    compare_quantities,
    format_quantity,
    is_valid_quantity,
    milli_value,
    parse_quantity,
    parse_quantity_and_format,
    value,
)

NANO = F(1, 10**9)
MAX_INT64 = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "expected", "fmt", "canonical"),
    [
        # zero, in every spelling
        ("0", F(0), "DecimalSI", "0"),
        ("0m", F(0), "DecimalSI", "0"),
        ("0Ki", F(0), "BinarySI", "0"),
        ("0.000", F(0), "DecimalSI", "0"),
        ("-0", F(0), "DecimalSI", "0"),
        # plain numbers and decimals
        ("1", F(1), "DecimalSI", "1"),
        ("+1", F(1), "DecimalSI", "1"),
        ("-1", F(-1), "DecimalSI", "-1"),
        ("0.5", F(1, 2), "DecimalSI", "500m"),
        (".5", F(1, 2), "DecimalSI", "500m"),
        ("1.", F(1), "DecimalSI", "1"),
        ("1.5", F(3, 2), "DecimalSI", "1500m"),
        ("-1.5", F(-3, 2), "DecimalSI", "-1500m"),
        ("9.01", F(901, 100), "DecimalSI", "9010m"),
        ("0.001", F(1, 1000), "DecimalSI", "1m"),
        ("1000", F(1000), "DecimalSI", "1k"),
        ("007", F(7), "DecimalSI", "7"),
        # decimal SI suffixes
        ("5n", 5 * NANO, "DecimalSI", "5n"),
        ("4u", F(4, 10**6), "DecimalSI", "4u"),
        ("100m", F(1, 10), "DecimalSI", "100m"),
        ("1080m", F(108, 100), "DecimalSI", "1080m"),
        ("2k", F(2000), "DecimalSI", "2k"),
        ("50k", F(50000), "DecimalSI", "50k"),
        ("7M", F(7 * 10**6), "DecimalSI", "7M"),
        ("1.5G", F(15 * 10**8), "DecimalSI", "1500M"),
        ("1000M", F(10**9), "DecimalSI", "1G"),
        ("5T", F(5 * 10**12), "DecimalSI", "5T"),
        ("2P", F(2 * 10**15), "DecimalSI", "2P"),
        ("1E", F(10**18), "DecimalSI", "1E"),
        ("12E", F(12 * 10**18), "DecimalSI", "12E"),
        ("1000E", F(10**21), "DecimalSI", "1e21"),  # no suffix beyond E: exponent form
        ("100.035k", F(100035), "DecimalSI", "100035"),
        ("10.035M", F(10035000), "DecimalSI", "10035k"),
        ("1.G", F(10**9), "DecimalSI", "1G"),
        (".0001k", F(1, 10), "DecimalSI", "100m"),
        # binary SI suffixes
        ("1Ki", F(1024), "BinarySI", "1Ki"),
        ("8Ki", F(8192), "BinarySI", "8Ki"),
        ("128Mi", F(128 * 2**20), "BinarySI", "128Mi"),
        ("1Gi", F(2**30), "BinarySI", "1Gi"),
        ("1024Mi", F(2**30), "BinarySI", "1Gi"),
        ("1.5Gi", F(3 * 2**29), "BinarySI", "1536Mi"),
        ("0.5Mi", F(2**19), "BinarySI", "512Ki"),
        ("5Ti", F(5 * 2**40), "BinarySI", "5Ti"),
        ("4Pi", F(4 * 2**50), "BinarySI", "4Pi"),
        ("3Ei", F(3 * 2**60), "BinarySI", "3Ei"),
        ("1025Ki", F(1025 * 1024), "BinarySI", "1025Ki"),
        ("100.035Ki", F(10243584, 100), "BinarySI", "102435840m"),  # not whole: decimal form
        ("0.5Ki", F(512), "BinarySI", "512"),  # below 1024: decimal form
        (".001Ki", F(1024, 1000), "BinarySI", "1024m"),
        ("-1Gi", F(-(2**30)), "BinarySI", "-1Gi"),
        # decimal exponents
        ("1e3", F(1000), "DecimalExponent", "1e3"),
        ("1E6", F(10**6), "DecimalExponent", "1e6"),
        ("1E-3", F(1, 1000), "DecimalExponent", "1e-3"),
        ("1e0", F(1), "DecimalExponent", "1"),
        ("1.2e3", F(1200), "DecimalExponent", "1200"),
        ("1.3E+6", F(1300000), "DecimalExponent", "1300e3"),
        ("0.5e-1", F(1, 20), "DecimalExponent", "50e-3"),
        ("1.5e-9", 2 * NANO, "DecimalExponent", "2e-9"),
        ("1e21", F(10**21), "DecimalExponent", "1e21"),
        # rounding below one nano: away from zero
        ("0.9n", NANO, "DecimalSI", "1n"),
        ("3.001n", 4 * NANO, "DecimalSI", "4n"),
        ("0.0000000001", NANO, "DecimalSI", "1n"),
        ("0.00000012345", 124 * NANO, "DecimalSI", "124n"),
        ("-0.0000000001", -NANO, "DecimalSI", "-1n"),
        ("1e-5000", NANO, "DecimalExponent", "1e-9"),
        (".000000000001Ki", 2 * NANO, "DecimalSI", "2n"),  # 1.024n: format changes
        # binary values are capped at 2**63-1
        ("8Ei", F(MAX_INT64), "BinarySI", str(MAX_INT64)),
        ("9Ei", F(MAX_INT64), "BinarySI", str(MAX_INT64)),
        ("9223372036854775807Ki", F(MAX_INT64), "BinarySI", str(MAX_INT64)),
        ("-9Ei", F(-MAX_INT64), "BinarySI", str(-MAX_INT64)),
        # decimal values are not capped
        ("18446744073709551616", F(2**64), "DecimalSI", "18446744073709551616"),
    ],
)
def test_parse(text: str, expected: F, fmt: str, canonical: str) -> None:
    assert parse_quantity(text) == expected
    assert parse_quantity_and_format(text) == (expected, fmt)
    assert canonical_quantity(text) == canonical
    # The canonical form is a fixed point with the same value.
    assert parse_quantity(canonical) == expected
    assert canonical_quantity(canonical) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ERR_FORMAT_WRONG),
        ("1.2.3", ERR_FORMAT_WRONG),
        ("1.1.M", ERR_FORMAT_WRONG),
        ("1+1.0M", ERR_FORMAT_WRONG),
        ("Mi", ERR_FORMAT_WRONG),  # upstream reads these as 0; minik refuses
        ("k", ERR_FORMAT_WRONG),
        ("-", ERR_FORMAT_WRONG),
        ("+", ERR_FORMAT_WRONG),
        (".", ERR_NUMERIC),
        ("-.", ERR_NUMERIC),
        ("1 Gi", ERR_FORMAT_WRONG),
        (" 1", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        ("0.1am", ERR_FORMAT_WRONG),
        ("1,5", ERR_FORMAT_WRONG),
        ("1kI", ERR_FORMAT_WRONG),
        ("\u0661", ERR_FORMAT_WRONG),  # only ASCII digits (this is ARABIC-INDIC ONE)
        ("0.1mi", ERR_SUFFIX),
        (".5i", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("-3.01i", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
        ("1e", ERR_SUFFIX),
        ("1e+", ERR_SUFFIX),
        ("1k3", ERR_SUFFIX),
        ("1Ki3", ERR_SUFFIX),
        ("1KiB", ERR_FORMAT_WRONG),
        ("1K", ERR_SUFFIX),
        ("1mm", ERR_SUFFIX),
        ("1e99999999999999999999", ERR_SUFFIX),  # exponent beyond int64
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert str(info.value) == message
    assert not is_valid_quantity(text)


@pytest.mark.parametrize("text", ["1e1001", "1" * 1001, "1" * 5000 + "m"])
def test_absurdly_large_values_are_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_many_leading_zeros_are_fine() -> None:
    assert parse_quantity("0" * 5000 + "1") == 1
    assert parse_quantity("0." + "0" * 5000 + "1") == NANO
    assert parse_quantity("0." + "0" * 5000 + "1Ei") == NANO


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, F(1)),
        (0, F(0)),
        (-3, F(-3)),
        (0.5, F(1, 2)),
        (0.1, F(1, 10)),
        (2.0, F(2)),
        (1e16, F(10**16)),
        (1e-5, F(1, 10**5)),
        (10**20, F(10**20)),
    ],
)
def test_json_numbers(raw: int | float, expected: F) -> None:
    assert parse_quantity(raw) == expected


@pytest.mark.parametrize("raw", [True, None, [], float("nan"), float("inf"), b"1"])
def test_non_quantities(raw: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(raw)  # type: ignore[arg-type]
    assert not is_valid_quantity(raw)


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("1", 1000),
        ("100m", 100),
        ("0.1", 100),
        ("1.5", 1500),
        ("250m", 250),
        ("1.5m", 2),  # rounds up
        ("0.0001", 1),
        ("1n", 1),
        ("1000001n", 2),
        ("-1.5m", -2),  # away from zero
        ("1Ki", 1024000),
        ("2e-3", 2),
        ("0", 0),
    ],
)
def test_milli_value(text: str, millis: int) -> None:
    assert milli_value(text) == millis


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1", 1),
        ("128Mi", 134217728),
        ("1Gi", 1073741824),
        ("1G", 1000000000),
        ("1.5", 2),  # rounds up
        ("100m", 1),
        ("1001m", 2),
        ("-100m", -1),  # away from zero
        ("0", 0),
        ("12E", 12 * 10**18),  # no int64 overflow in Python
    ],
)
def test_value(text: str, units: int) -> None:
    assert value(text) == units


def test_accessors_take_parsed_values_and_numbers() -> None:
    assert milli_value(F(1, 3)) == 334
    assert value(F(5, 2)) == 3
    assert milli_value(2) == 2000
    assert value(0.5) == 1


@pytest.mark.parametrize(
    ("amount", "binary", "expected"),
    [
        (F(0), False, "0"),
        (F(0), True, "0"),
        (F(1), False, "1"),
        (F(5), True, "5"),  # small binary values print as decimal
        (F(1, 2), True, "500m"),
        (F(1023), True, "1023"),
        (F(1024), True, "1Ki"),
        (F(1024), False, "1024"),
        (F(1025), True, "1025"),
        (F(6 * 1024), True, "6Ki"),
        (F(300 * 2**20), True, "300Mi"),
        (F(1001 * 2**30), True, "1001Gi"),
        (F(2**40), True, "1Ti"),
        (F(2**70), True, "1024Ei"),  # no suffix beyond Ei (parsing would cap it)
        (F(2049, 2), True, "1024500m"),  # not whole: decimal form
        (F(10**9), False, "1G"),
        (F(10**9), True, "1000000000"),  # not a multiple of 1024
        (F(1, 1000), False, "1m"),
        (F(80, 1000), False, "80m"),
        (F(1080, 1000), False, "1080m"),
        (F(3000), False, "3k"),
        (F(1234567 * 10**6), False, "1234567M"),
        (F(10**18), False, "1E"),
        (F(10**21), False, "1e21"),
        (F(5 * 10**21), False, "5e21"),
        (F(1, 10**9), False, "1n"),
        (F(1080, 10**9), False, "1080n"),
        (F(1, 10**6), False, "1u"),
        (F(1, 3), False, "333333334n"),  # finer than nano: rounded away from zero
        (F(-1, 3), False, "-333333334n"),
        (F(-3, 2), False, "-1500m"),
        (F(-(2**30)), True, "-1Gi"),
        (7, False, "7"),
    ],
)
def test_format(amount: F, binary: bool, expected: str) -> None:
    assert format_quantity(amount, binary) == expected
    # Parsing the output gives the value back, up to the rounding to whole nanos
    # (and the 2**63-1 cap that parsing puts on binary values).
    if abs(amount) <= MAX_INT64:
        assert abs(parse_quantity(expected) - amount) < NANO


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (F(10**9), "1e9"),
        (F(1, 1000), "1e-3"),
        (F(1, 10**9), "1e-9"),
        (F(80, 1000), "80e-3"),
        (F(300 * 10**6), "300e6"),
        (F(3000), "3e3"),
        (F(5), "5"),
        (F(0), "0"),
    ],
)
def test_format_decimal_exponent(amount: F, expected: str) -> None:
    assert format_quantity(amount, style="DecimalExponent") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 0.5 ", "500m"),  # JSON decoding trims whitespace
        ("\t2048Ki\n", "2Mi"),
        (1, "1"),
        (0.25, "250m"),
        (1000, "1k"),
        ("1e3", "1e3"),
    ],
)
def test_canonical_quantity(raw: str | int | float, expected: str) -> None:
    assert canonical_quantity(raw) == expected


def test_compare_and_add() -> None:
    assert compare_quantities("1", "1000m") == 0
    assert compare_quantities("1Gi", "1G") == 1
    assert compare_quantities("100m", "0.2") == -1
    assert compare_quantities("10000T", "100Gi") == 1
    assert compare_quantities(F(1, 2), "500m") == 0
    assert add_quantities("100m", "0.2", "1") == F(13, 10)
    assert add_quantities("1Gi", "512Mi") == F(3 * 2**29)
    assert add_quantities() == 0
    assert format_quantity(add_quantities("250m", "250m")) == "500m"
    # Fractions are exact: no float drift over many small requests.
    assert add_quantities(*["100m"] * 10) == 1
    assert sum(parse_quantity("1m") for _ in range(1000)) == 1


def test_is_valid_quantity() -> None:
    assert is_valid_quantity("100m")
    assert is_valid_quantity("1Gi")
    assert is_valid_quantity(3)
    assert not is_valid_quantity("1.2.3")
    assert not is_valid_quantity(object())
