"""Reading what ``outbound.php`` and ``outbound_sms.php`` answer, leniently.

KooKoo answers with a small XML document holding ``<status>`` then ``<message>``
(``protocol.md`` §4.1, §4.3), with HTTP 200 even for errors. What is uncertain [U], and how
this module stays lenient about it:

- the root element is ``<response>`` in one public mock and ``<request>`` in another: any root
  is accepted, and ``status``/``message`` are looked up among all elements, tag case ignored;
- the status vocabulary: ``queued`` (calls) and ``success`` (SMS, one call mock) mean
  accepted, ``error`` means refused; ``failed``/``failure`` are read as refused too, and any
  other word is reported as unreadable rather than guessed;
- the full list of error messages is unknown: :func:`classify_message` matches the known ones
  (``Authentication error``, ``Phone number in DND list``, ``Calls will not be made between
  9PM to 9AM.``, ``Cannot process the request before your working start hour.``) by their
  words, and everything else is ``"other"``;
- a newer Ozonetel region may answer JSON: a body that starts with ``{`` is read as an object
  with ``status`` and ``message``.

An empty body, HTML, or XML without a status gives :class:`UnreadableReply` with a short
description, never a parser crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lxml import etree

from kookoo.core.errors import KooKooError
from kookoo.outbound.errors import Reason
from kookoo.xml.parser import hardened_parser

__all__ = ["Reply", "UnreadableReply", "classify_message", "parse_reply"]

# recover=True reads slightly broken XML (an unescaped "&" in a message) instead of giving up.
_PARSER = hardened_parser(recover=True)
_MAX_BYTES = 64 * 1024

ACCEPTED = frozenset({"queued", "success", "ok"})
"""Status words that mean KooKoo took the request."""
REFUSED = frozenset({"error", "failed", "failure"})
"""Status words that mean KooKoo refused it."""

# Ordered: the first matching rule wins. Words, not whole messages, so small wording changes
# on KooKoo's side still classify.
_RULES: tuple[tuple[Reason, re.Pattern[str]], ...] = (
    ("authentication", re.compile(r"authenticat|api[ _]?key|unauthori[sz]ed", re.I)),
    ("dnd", re.compile(r"\bdnd\b|do[ -]not[ -]disturb|\bndnc\b", re.I)),
    (
        "calling_hours",
        re.compile(
            r"9\s*pm|9\s*am|21:00|working (?:start |end )?hour|calling hours|not be made between",
            re.I,
        ),
    ),
    (
        "invalid_number",
        re.compile(
            r"invalid[ _](?:phone|mobile|number)|(?:phone|mobile)[ _]?(?:no|number)?[ _]is[ _]"
            r"(?:invalid|wrong)|wrong[ _]number|not a valid (?:phone|mobile|number)",
            re.I,
        ),
    ),
)


def classify_message(message: str) -> Reason:
    """What a KooKoo error message means.

    >>> classify_message("Phone number in DND list")
    'dnd'
    >>> classify_message("Calls will not be made between 9PM to 9AM.")
    'calling_hours'
    >>> classify_message("Something new")
    'other'
    """
    for reason, pattern in _RULES:
        if pattern.search(message):
            return reason
    return "other"


@dataclass(frozen=True, slots=True)
class Reply:
    """KooKoo's ``<status>`` (lower-cased, stripped) and ``<message>`` (stripped)."""

    status: str
    message: str

    @property
    def accepted(self) -> bool:
        """Whether the status says KooKoo took the request."""
        return self.status in ACCEPTED

    @property
    def refused(self) -> bool:
        """Whether the status says KooKoo refused the request."""
        return self.status in REFUSED


class UnreadableReply(KooKooError, ValueError):
    """The body holds no status kookoo can read; the message says what it holds instead."""


def _excerpt(body: bytes) -> str:
    text = body[:120].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return repr(text + ("..." if len(body) > 120 else ""))


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1].lower()


def parse_reply(body: bytes) -> Reply:
    """Read ``status`` and ``message`` from a reply body.

    >>> parse_reply(b"<request><status>queued</status><message>1234</message></request>")
    Reply(status='queued', message='1234')

    Raises:
        UnreadableReply: empty, not XML or JSON, too large, or no status in it.
    """
    stripped = body.strip().removeprefix(b"\xef\xbb\xbf").strip()
    if not stripped:
        raise UnreadableReply("the reply is empty")
    if len(stripped) > _MAX_BYTES:
        raise UnreadableReply(f"the reply is {len(stripped)} bytes, far more than a status")
    if stripped.startswith(b"{"):
        return _parse_json(stripped)
    if not stripped.startswith(b"<"):
        raise UnreadableReply(f"the reply is not XML: {_excerpt(stripped)}")
    try:
        root = etree.fromstring(stripped, _PARSER)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise UnreadableReply(f"the reply is not XML KooKoo sends: {_excerpt(stripped)}")
    found: dict[str, str] = {}
    for element in root.iter():
        name = _local(element.tag)
        if name in ("status", "message") and name not in found:
            found[name] = "".join(str(t) for t in element.itertext()).strip()
    if "status" not in found:
        raise UnreadableReply(
            f"the reply has no <status> element (root <{_local(root.tag)}>): {_excerpt(stripped)}"
        )
    return Reply(status=found["status"].lower(), message=found.get("message", ""))


def _parse_json(body: bytes) -> Reply:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UnreadableReply(f"the reply is neither XML nor JSON: {_excerpt(body)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise UnreadableReply(f"the JSON reply has no status: {_excerpt(body)}")
    message = data.get("message", "")
    return Reply(
        status=data["status"].strip().lower(),
        message=message.strip() if isinstance(message, str) else json.dumps(message),
    )
