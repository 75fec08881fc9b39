"""Languages and Say-As formats KooKoo speaks.

The codes come from KooKoo's own libraries and docs (see ``protocol.md`` §6).  ``playtext`` takes
either the legacy upper-case codes (``EN``, ``HI``, ``TE``, ``KA``) or the BCP-47 codes KooKoo's
2019 samples use (``en-IN``, ``hi-IN``, ...); ``say-as`` takes the legacy codes only.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from enum import IntEnum
from typing import Literal, TypeAlias

PlayTextLanguage: TypeAlias = Literal[
    "EN", "HI", "TE", "KA",
    "en-IN", "hi-IN", "te-IN", "ta-IN", "ml-IN", "kn-IN", "mr-IN", "gu-IN", "bn-IN",
]  # fmt: skip
"""A ``playtext`` language code."""

SayAsLanguage: TypeAlias = Literal[
    "EN", "HI", "KA", "MA", "TE", "TA", "GUJ", "BN", "MR", "ORI", "ML", "TN"
]
"""A ``say-as`` language code (English, Hindi, Kannada, Malayalam, Telugu, Tamil, Gujarati,
Bengali, Marathi, Oriya; ``ML``/``TN`` are variants seen in VoIP Drupal)."""

RecognizeLanguage: TypeAlias = Literal["en", "hi", "en-IN", "hi-IN"]
"""A ``recognize`` language code."""


class SayAsFormat(IntEnum):
    """How ``say-as`` speaks its value (KooKoo's format codes).

    >>> SayAsFormat.CURRENCY.value
    401
    """

    NUMBER = 1
    """``1234`` -> "one thousand two hundred and thirty four"."""
    DATE_FULL = 201
    """``20110721`` -> "Thursday July 21st 2011"."""
    DATE_MEDIUM = 202
    """``20110721`` -> "July 21st 2011"."""
    DATE_SHORT = 204
    """``20110721`` -> "July 21st"."""
    DATE_222 = 222
    """``20121227ABC`` -> "December 27 2012" (only in KooKoo's docs)."""
    CURRENCY = 401
    """``53`` -> rupees; ignores the decimals."""
    CURRENCY_DECIMAL = 402
    """``10000.00`` -> rupees and paise."""
    DIGITS = 501
    """``123ABC`` -> "one two three A B C"."""


SayAsFormatName: TypeAlias = Literal[
    "number", "date_full", "date_medium", "date_short", "currency", "currency_decimal", "digits"
]
"""A Say-As format by name, e.g. ``"currency"``."""

_DATE_FORMATS = frozenset(
    {SayAsFormat.DATE_FULL, SayAsFormat.DATE_MEDIUM, SayAsFormat.DATE_SHORT, SayAsFormat.DATE_222}
)


def say_as_format(value: SayAsFormat | int | str) -> SayAsFormat:
    """Turn a format given as enum, code (``401``, ``"401"``) or name (``"currency"``) into
    a :class:`SayAsFormat`; raise ``ValueError`` naming the allowed values otherwise."""
    if isinstance(value, SayAsFormat):
        return value
    allowed = ", ".join(f"{f.value} ({f.name.lower()})" for f in SayAsFormat)
    if isinstance(value, bool) or not isinstance(value, int | str):
        # A float or None would otherwise fail with an AttributeError on .isdigit().
        raise TypeError(
            f"say-as: format must be one of {allowed}; got {type(value).__name__} {value!r}"
        )
    try:
        if isinstance(value, int) or value.isdigit():
            return SayAsFormat(int(value))
        return SayAsFormat[value.upper()]
    except (KeyError, ValueError):
        raise ValueError(f"say-as: format must be one of {allowed}; got {value!r}") from None


def say_as_text(value: str | int | Decimal | _dt.date, fmt: SayAsFormat) -> str:
    """Write a value the way ``say-as`` expects it for ``fmt``.

    Dates become ``YYYYMMDD``; ``CURRENCY_DECIMAL`` amounts keep two decimals; other values are
    written with ``str``.  Floats are refused because their decimals are not exact.
    """
    if isinstance(value, _dt.date):
        if fmt not in _DATE_FORMATS:
            raise ValueError(f"say-as: a date needs a date format, not {fmt.name.lower()}")
        # Not strftime("%Y"): glibc does not zero-pad years before 1000.
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if isinstance(value, bool | float):
        raise TypeError(
            f"say-as: value must be str, int, Decimal or date; got {type(value).__name__}"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"say-as: value must be a finite number; got {value}")
        # Fixed-point: str() would write Decimal("1E+3") as "1E+3", which KooKoo cannot speak.
        return f"{value:.2f}" if fmt is SayAsFormat.CURRENCY_DECIMAL else f"{value:f}"
    if isinstance(value, int | Decimal | str):
        return str(value)
    raise TypeError(f"say-as: value must be str, int, Decimal or date; got {type(value).__name__}")
