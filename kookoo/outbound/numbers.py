"""Phone numbers in the forms KooKoo's outbound APIs expect (``protocol.md`` §4.1, §4.3, §7).

- ``phone_no`` of ``outbound.php``: Indian numbers as ``0`` plus the ten national digits
  (``09876543210``; KooKoo's own readme: "prefix mobile numbers with a 0 and prefix landline
  numbers with STD code"), international numbers as ``00`` plus country code and number
  (``0044...``; KooKoo does not take ``+``). [U] whether KooKoo dials international numbers at
  all depends on the account.
- ``phone_no`` of ``outbound_sms.php``: the ten national digits, no prefix; KooKoo's SMS API
  is for Indian numbers [U].
- ``caller_id``: the DID as KooKoo writes it in ``called_number``, ``91`` plus ten digits.

Each accepts a :class:`~kookoo.protocol.phone.PhoneNumber` (as events carry them) or text in
any shape :func:`~kookoo.protocol.phone.normalize_indian_number` reads, and raises
:class:`ValueError` naming the field for anything else.
"""

from __future__ import annotations

import re

from kookoo.protocol.phone import PhoneNumber, normalize_indian_number

__all__ = ["caller_id_number", "dial_number", "sms_number"]

_SEPARATORS = re.compile(r"[\s\-().]")
_INTERNATIONAL = re.compile(r"\+?(?:00)?([1-9][0-9]{6,14})", re.ASCII)


def _raw(value: PhoneNumber | str, field: str) -> str:
    if isinstance(value, PhoneNumber):
        return value.raw
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a PhoneNumber or str, not {type(value).__name__}")
    return value


def dial_number(value: PhoneNumber | str, field: str = "phone_no") -> str:
    """The number as ``outbound.php`` dials it.

    >>> dial_number("+91 98765 43210"), dial_number("919876543210"), dial_number("+442079460000")
    ('09876543210', '09876543210', '00442079460000')
    """
    raw = _raw(value, field)
    national = normalize_indian_number(raw)
    if national is not None:
        return "0" + national
    compact = _SEPARATORS.sub("", raw)
    match = _INTERNATIONAL.fullmatch(compact)
    is_international = compact.startswith(("+", "00")) and not compact.startswith(("+91", "0091"))
    if match is not None and is_international:
        return "00" + match.group(1)
    raise ValueError(
        f"{field} {raw!r} is not a number KooKoo can dial: give an Indian number "
        "(9876543210, 09876543210, +919876543210, or a landline with its STD code) or an "
        "international one as +<country code><number>"
    )


def sms_number(value: PhoneNumber | str, field: str = "phone_no") -> str:
    """The number as ``outbound_sms.php`` expects it: ten national digits.

    >>> sms_number("09876543210")
    '9876543210'
    """
    raw = _raw(value, field)
    national = normalize_indian_number(raw)
    if national is None:
        raise ValueError(
            f"{field} {raw!r} is not an Indian number; KooKoo's SMS API sends to Indian "
            "numbers (9876543210, 09876543210 or +919876543210)"
        )
    return national


def caller_id_number(value: PhoneNumber | str, field: str = "caller_id") -> str:
    """A KooKoo DID as ``caller_id`` takes it: ``91`` and ten digits.

    >>> caller_id_number("08049202255")
    '918049202255'
    """
    raw = _raw(value, field)
    national = normalize_indian_number(raw)
    if national is None:
        raise ValueError(
            f"{field} {raw!r} is not one of your KooKoo numbers: give the DID as KooKoo shows "
            "it (918049202255, 08049202255 or +918049202255)"
        )
    return "91" + national
