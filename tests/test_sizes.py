"""Sizes: parse_size reads what people write (all binary), format_size prints it back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from httpdlint.sizes import UNITS, format_size, parse_size

KIB, MIB, GIB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1G", GIB),
        ("1GB", GIB),
        ("1GiB", GIB),
        ("1g", GIB),
        ("512M", 512 * MIB),
        ("25MB", 25 * MIB),
        ("25 MiB", 25 * MIB),
        ("1.5GiB", 3 * GIB // 2),
        ("0.5k", 512),
        (".5K", 512),
        ("100", 100),
        ("100B", 100),
        ("0", 0),
        ("2T", 2 * 1024**4),
        ("1P", 1024**5),
        (" 64 kb ", 64 * KIB),
        ("1e3", 1000),
    ],
)
def test_parse_size_accepts_binary_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_one_gigabyte_is_1024_mebibytes() -> None:
    # The decimal reading (1000^3) is the classic 7 % sizing error: there is only one reading.
    assert parse_size("1G") == 1024 * parse_size("1M") == parse_size("1024M")


@pytest.mark.parametrize(
    "text", ["", " ", "G", "1X", "-1G", "1 G B", "1iB", "1GG", "one", "inf", "nan", "1e400", "1,5G"]
)
def test_parse_size_rejects_with_a_message_that_names_the_input(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert repr(text) in str(info.value)


def test_parse_size_rejects_non_text() -> None:
    with pytest.raises(ValueError):
        parse_size(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (KIB, "1 KiB"),
        (25 * MIB, "25 MiB"),
        (GIB, "1 GiB"),
        (3 * GIB // 2, "1.5 GiB"),
        (int(27.75 * MIB), "27.75 MiB"),
        (-MIB, "-1 MiB"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


def test_format_size_forced_unit() -> None:
    assert format_size(GIB, "MiB") == "1024 MiB"
    assert format_size(256 * KIB, "MiB") == "0.25 MiB"
    with pytest.raises(ValueError):
        format_size(1, "MB")


@given(st.integers(min_value=0, max_value=2**62))
def test_format_then_parse_is_close(n: int) -> None:
    text = format_size(n)
    unit = 1024 ** UNITS.index(text.split()[1])
    # Two decimals of the unit: within half a hundredth of it.
    assert abs(parse_size(text.replace(" ", "")) - n) <= unit * 0.005 + 0.5


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["", "B", "K", "KB", "KiB", "M", "MB", "MiB", "G", "GB", "GiB"]),
    st.sampled_from(["", " "]),
)
def test_integers_with_any_unit_spelling(value: int, unit: str, space: str) -> None:
    power = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3}[unit[:1]]
    assert parse_size(f"{value}{space}{unit}") == value * 1024**power
    assert parse_size(f"{value}{space}{unit.lower()}") == value * 1024**power


@given(st.text(max_size=12))
def test_parse_size_never_raises_anything_but_value_error(text: str) -> None:
    try:
        result = parse_size(text)
    except ValueError:
        return
    assert isinstance(result, int) and result >= 0


@given(st.integers(min_value=0, max_value=2**50), st.integers(min_value=0, max_value=2**50))
def test_parse_size_is_monotone_in_the_number(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert parse_size(f"{lo}K") <= parse_size(f"{hi}K")
