"""Text that leaves kookoo safely: one log line that a request cannot break or forge
(:func:`escape_for_log`), and the one-sentence body of a 4xx reply (:func:`plain_error_body`).
"""

from __future__ import annotations

import unicodedata

__all__ = ["escape_for_log", "plain_error_body"]

# C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi controls that can
# make a log line read differently from what it holds.
_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
for _c in (0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    _ESCAPES[_c] = f"\\u{_c:04x}"


def _hidden(char: str) -> bool:
    """Whether ``char`` can hide or change what a line shows: a control, format, surrogate,
    private-use or unassigned character, or a line or paragraph separator (a space such as
    U+00A0 is kept: it shows as one)."""
    return not char.isprintable() and unicodedata.category(char) != "Zs"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_for_log(text: object, limit: int | None = 200) -> str:
    """``text`` made safe for one log line: control characters (CR and LF included), Unicode
    line separators, bidi and other format characters, and unassigned code points are written
    as escapes, so a request can never start a fake log line or hide what it holds; longer
    than ``limit`` characters is cut with a marker.

    >>> escape_for_log("GotDTMF\\n[CRITICAL] fake")
    'GotDTMF\\\\n[CRITICAL] fake'
    >>> escape_for_log("/\\u0380 \\U000e0001 \\u00a0")  # unassigned, a tag; NBSP is kept
    '/\\\\u0380 \\\\U000e0001 \\xa0'
    >>> escape_for_log("x" * 10, limit=4)
    'xxxx...(+6 chars)'
    """
    value = text if isinstance(text, str) else str(text)
    if not value.isprintable():
        value = value.translate(_ESCAPES)
        if not value.isprintable():  # unassigned code points, other format characters
            value = "".join(_escape(c) if _hidden(c) else c for c in value)
    if limit is not None and len(value) > limit:
        return f"{value[:limit]}...(+{len(value) - limit} chars)"
    return value


def plain_error_body(message: str, limit: int = 200) -> bytes:
    """The body of a 4xx reply: ``message`` on one line, control characters escaped, at most
    ``limit`` characters (cut with ``...``), then a newline; UTF-8.

    >>> plain_error_body("bad\\x00event")
    b'bad\\\\x00event\\n'
    """
    line = escape_for_log(message, limit=None)
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return (line + "\n").encode("utf-8")
