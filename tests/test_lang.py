from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kookoo.protocol.lang import SayAsFormat, say_as_format, say_as_text
from kookoo.protocol.schema import (
    PLAYTEXT_LANGUAGES,
    RECOGNIZE_LANGUAGES,
    SAY_AS_FORMATS,
    SAY_AS_LANGUAGES,
)


def test_format_codes_are_kookoos() -> None:
    # Written out: the schema derives its list from the enum, so only a literal pins them.
    assert SAY_AS_FORMATS == ("1", "201", "202", "204", "222", "401", "402", "501")
    assert [f.name for f in SayAsFormat] == [
        "NUMBER", "DATE_FULL", "DATE_MEDIUM", "DATE_SHORT", "DATE_222", "CURRENCY",
        "CURRENCY_DECIMAL", "DIGITS",
    ]  # fmt: skip


def test_language_lists_are_kookoos() -> None:
    assert PLAYTEXT_LANGUAGES == (
        "EN", "HI", "TE", "KA",
        "en-IN", "hi-IN", "te-IN", "ta-IN", "ml-IN", "kn-IN", "mr-IN", "gu-IN", "bn-IN",
    )  # fmt: skip
    assert SAY_AS_LANGUAGES == (
        "EN", "HI", "KA", "MA", "TE", "TA", "GUJ", "BN", "MR", "ORI", "ML", "TN",
    )  # fmt: skip
    assert RECOGNIZE_LANGUAGES == ("en", "hi", "en-IN", "hi-IN")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (SayAsFormat.CURRENCY, SayAsFormat.CURRENCY),
        (401, SayAsFormat.CURRENCY),
        ("401", SayAsFormat.CURRENCY),
        ("currency", SayAsFormat.CURRENCY),
        ("CURRENCY", SayAsFormat.CURRENCY),
        ("Currency_Decimal", SayAsFormat.CURRENCY_DECIMAL),
        (1, SayAsFormat.NUMBER),
        ("number", SayAsFormat.NUMBER),
        (201, SayAsFormat.DATE_FULL),
        ("date_medium", SayAsFormat.DATE_MEDIUM),
        ("204", SayAsFormat.DATE_SHORT),
        (222, SayAsFormat.DATE_222),
        ("digits", SayAsFormat.DIGITS),
        (501, SayAsFormat.DIGITS),
    ],
)
def test_say_as_format_accepts_enum_code_and_name(
    given: SayAsFormat | int | str, expected: SayAsFormat
) -> None:
    assert say_as_format(given) is expected


@pytest.mark.parametrize("bad", [999, "999", "money", "", " 401", "4O1", 0, -401])
def test_say_as_format_rejects_unknown_values_listing_the_allowed(bad: int | str) -> None:
    with pytest.raises(ValueError, match="say-as: format must be one of") as info:
        say_as_format(bad)
    message = str(info.value)
    assert "1 (number)" in message
    assert "401 (currency)" in message
    assert "501 (digits)" in message
    assert f"got {bad!r}" in message


@pytest.mark.parametrize("bad", [True, False, 401.0, None, Decimal(401)])
def test_say_as_format_rejects_other_types(bad: object) -> None:
    # bool is an int subclass: True must not silently mean format 1.
    with pytest.raises((TypeError, ValueError), match="say-as: format must be one of"):
        say_as_format(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1234, SayAsFormat.NUMBER, "1234"),
        (-7, SayAsFormat.NUMBER, "-7"),
        ("123ABC", SayAsFormat.DIGITS, "123ABC"),
        (5000, SayAsFormat.CURRENCY, "5000"),
        (Decimal("53.75"), SayAsFormat.CURRENCY, "53.75"),
        (Decimal("10000"), SayAsFormat.CURRENCY_DECIMAL, "10000.00"),
        (Decimal("10000.5"), SayAsFormat.CURRENCY_DECIMAL, "10000.50"),
        (Decimal("0.125"), SayAsFormat.CURRENCY_DECIMAL, "0.12"),
        (Decimal("1E+3"), SayAsFormat.NUMBER, "1000"),
        (Decimal("1.5E+3"), SayAsFormat.CURRENCY, "1500"),
        (dt.date(2011, 7, 21), SayAsFormat.DATE_FULL, "20110721"),
        (dt.date(2011, 7, 1), SayAsFormat.DATE_MEDIUM, "20110701"),
        (dt.date(999, 1, 2), SayAsFormat.DATE_SHORT, "09990102"),
        (dt.datetime(2012, 12, 27, 23, 59), SayAsFormat.DATE_222, "20121227"),
        ("20121227ABC", SayAsFormat.DATE_222, "20121227ABC"),
    ],
)
def test_say_as_text(value: str | int | Decimal | dt.date, fmt: SayAsFormat, expected: str) -> None:
    assert say_as_text(value, fmt) == expected


def test_say_as_text_refuses_a_date_for_a_non_date_format() -> None:
    with pytest.raises(ValueError, match="say-as: a date needs a date format, not currency"):
        say_as_text(dt.date(2024, 1, 2), SayAsFormat.CURRENCY)


@pytest.mark.parametrize("bad", [1.5, True, None, b"12", [1]])
def test_say_as_text_refuses_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="say-as: value must be str, int, Decimal or date; got "):
        say_as_text(bad, SayAsFormat.NUMBER)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_say_as_text_refuses_non_finite_decimals(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="say-as: value must be a finite number"):
        say_as_text(bad, SayAsFormat.CURRENCY_DECIMAL)
