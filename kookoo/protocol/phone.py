"""Indian phone numbers as KooKoo sends them.

KooKoo is not consistent about number formats: ``cid`` arrives as a bare 10-digit number, with a
leading ``0``, with ``91`` in front, or as ``+91...`` in ``cid_e164``; ``called_number`` is usually
``91`` plus ten digits. :class:`PhoneNumber` keeps the raw value and derives the 10-digit national
number so apps can compare callers however KooKoo wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PhoneNumber", "normalize_indian_number"]

# Separators people and carriers put inside numbers; they carry no information.
_SEPARATORS = re.compile(r"[\s\-().]")
# re.ASCII keeps other scripts' digits (e.g. Devanagari) from passing as phone digits.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# Indian national significant numbers are ten digits and never start with 0 (that is the trunk
# prefix), so "0000000000" is a placeholder rather than a number.
_NATIONAL = re.compile(r"[1-9][0-9]{9}", re.ASCII)
# Prefixes that may precede the national number: international (00 91 / +91), country code (91),
# trunk (0). Longest first so "0091..." is not read as trunk "0" + "091...".
_PREFIXES = ("0091", "91", "0")


def normalize_indian_number(raw: str) -> str | None:
    """Return the 10-digit Indian national number in ``raw``, or ``None`` if there is none.

    Accepts the shapes KooKoo and Indian carriers use: ``9876543210``, ``09876543210``,
    ``919876543210``, ``+919876543210`` and ``00919876543210``, with spaces, dashes, dots or
    parentheses anywhere. Anything else (other countries, short codes, placeholders such as
    ``0000``) gives ``None``; the function never raises.

    >>> normalize_indian_number("+91 98765-43210")
    '9876543210'
    >>> normalize_indian_number("0000") is None
    True
    """
    # Fast path for the shapes KooKoo actually sends: plain ASCII digits.
    if raw.isascii() and raw.isdigit():
        size = len(raw)
        if size == 10 and raw[0] != "0":
            return raw
        if size == 11 and raw[0] == "0" and raw[1] != "0":
            return raw[1:]
        if size == 12 and raw.startswith("91") and raw[2] != "0":
            return raw[2:]
    compact = _SEPARATORS.sub("", raw)
    if compact.startswith("+"):
        # After "+" only a country code can follow; anything but India is not national.
        if not compact.startswith("+91"):
            return None
        candidates = [compact[3:]]
    else:
        if not _DIGITS.fullmatch(compact):
            return None
        candidates = [compact] + [
            compact[len(prefix) :] for prefix in _PREFIXES if compact.startswith(prefix)
        ]
    for candidate in candidates:
        if _NATIONAL.fullmatch(candidate):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number from a KooKoo request, with its Indian national form when derivable.

    Parameters:
        raw: the value exactly as KooKoo sent it.
        national: the 10-digit national number (no ``0``, ``91`` or ``+91`` prefix), or ``None``
            when ``raw`` is not a recognisable Indian number.

    Build instances with :meth:`parse`; two numbers written differently compare unequal (``raw``
    differs), so compare ``national`` or ``e164`` to match callers.

    >>> number = PhoneNumber.parse("919876543210")
    >>> number.national, number.e164, str(number)
    ('9876543210', '+919876543210', '+919876543210')
    """

    raw: str
    national: str | None

    @classmethod
    def parse(cls, raw: str) -> PhoneNumber:
        """Parse ``raw`` leniently; never raises, ``national`` is ``None`` for odd shapes.

        >>> PhoneNumber.parse("08041169706").national
        '8041169706'
        """
        return cls(raw=raw, national=normalize_indian_number(raw))

    @property
    def e164(self) -> str | None:
        """The number in E.164 form (``+91`` and the national number), or ``None``."""
        return None if self.national is None else "+91" + self.national

    def __str__(self) -> str:
        """The E.164 form when known, else the raw value."""
        return self.e164 or self.raw
