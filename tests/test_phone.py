from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kookoo.protocol.phone import PhoneNumber, normalize_indian_number


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        # Shapes KooKoo sends (protocol §7 and vectors/requests.txt).
        ("8041169706", "8041169706"),  # R03 cid: 10-digit landline, STD code without its 0
        ("+918041169706", "8041169706"),  # R03 cid_e164
        ("911130803946", "1130803946"),  # R03 called_number: 91 + ten digits
        ("919704665032", "9704665032"),  # 2026 cid with 91 prefix
        ("1234567899", "1234567899"),  # R15 emulator cid
        ("09985123456", "9985123456"),  # 0-prefixed national (CommCare, outbound phone_no)
        ("00919876543210", "9876543210"),  # "00" international prefix (VoIP Drupal)
        ("9100000000", "9100000000"),  # ten digits starting with 91 is a mobile, not a prefix
        # Separators people paste in.
        ("+91 98765 43210", "9876543210"),
        ("098765-43210", "9876543210"),
        ("(080) 4116-9706", "8041169706"),
        (" 9876543210\n", "9876543210"),
        # Not an Indian national number.
        ("000000000", None),  # R07: '0' + phone[2:] of a test number, nine digits
        ("0000", None),  # R08 placeholder
        ("0000000000", None),  # national numbers never start with the trunk 0
        ("98765432", None),
        ("98765432101", None),  # eleven digits without a trunk 0
        ("919876543", None),
        ("+14155550123", None),
        ("0014155550123", None),
        ("+91", None),
        ("+9198765abcde", None),
        ("", None),
        ("anonymous", None),
        ("९८७६५४३२१०", None),  # Devanagari digits are not dialable digits
    ],
)
def test_parse_shapes(raw: str, national: str | None) -> None:
    number = PhoneNumber.parse(raw)
    assert number.raw == raw
    assert number.national == national
    assert normalize_indian_number(raw) == national


def test_e164_and_str_when_national_known() -> None:
    number = PhoneNumber.parse("09704665032")
    assert number.e164 == "+919704665032"
    assert str(number) == "+919704665032"


def test_e164_and_str_fall_back_to_raw() -> None:
    number = PhoneNumber.parse("0000")
    assert number.e164 is None
    assert str(number) == "0000"


def test_equality_is_by_raw_and_national() -> None:
    assert PhoneNumber.parse("9876543210") == PhoneNumber.parse("9876543210")
    assert PhoneNumber.parse("9876543210") != PhoneNumber.parse("+919876543210")
    assert PhoneNumber.parse("9876543210").e164 == PhoneNumber.parse("+919876543210").e164


def test_is_immutable_and_hashable() -> None:
    number = PhoneNumber.parse("9876543210")
    with pytest.raises(dataclasses.FrozenInstanceError):
        number.national = "1"  # type: ignore[misc]
    assert {number, PhoneNumber.parse("9876543210")} == {number}


@given(st.text())
def test_parse_never_raises_and_national_is_ten_ascii_digits(raw: str) -> None:
    number = PhoneNumber.parse(raw)
    assert number.raw == raw
    if number.national is not None:
        assert len(number.national) == 10
        assert number.national.isascii()
        assert number.national.isdigit()
        assert number.national[0] != "0"


@given(st.from_regex(r"[1-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "0", "91", "+91"]))
def test_every_prefix_gives_the_same_national(national: str, prefix: str) -> None:
    number = PhoneNumber.parse(prefix + national)
    assert number.national == national
    assert PhoneNumber.parse(str(number)).national == national
