"""Document-level checks for KooKoo XML, with messages that teach.

:func:`lint` reads a reply (a :class:`~kookoo.xml.response.Response` built in Python, or the XML
bytes/str an app sends) and returns :class:`Finding` objects.  It never raises for a bad
document: malformed XML is itself a finding (``KK001``) that carries the parser's line.

The builders already refuse bad values one element at a time; these rules look at what no single
element can see (order, pairs of tags, where a tag sits) and at hand-written XML, which never went
through a builder.  The vocabulary comes from :mod:`kookoo.protocol.schema`; only the tags a
rule is about (``dial``, ``hangup``, ``gotourl``, ...) are named here.

Rules (code, severity, what it finds).  Every code has one fixed severity:

=====  =======  ===============================================================================
code   level    finds
=====  =======  ===============================================================================
KK001  error    malformed XML (KooKoo cannot read the reply at all)
KK002  error    the root is not ``<response>`` (a bare fragment such as ``<dial>..</dial>``)
KK101  warning  a tag after the event-producing tag; ``gotourl`` after ``collectdtmf``,
                ``record`` or ``recognize`` is the documented MOTECH pattern and is allowed
KK102  error    ``<hangup>`` in the same reply as ``<dial>``
KK103  error    a relative URL where KooKoo fetches one (``gotourl``, ``playaudio``, URL attrs)
KK104  warning  a second event-producing tag (``hangup`` counts: it makes KooKoo send Disconnect);
                what KooKoo does with it is undocumented (protocol.md §2.1)
KK105  warning  a millisecond value below 100 (``collectdtmf o="5"``): looks like seconds
KK106  error    an element that needs text (``dial``, ``gotourl``, ``playaudio``, ...) is empty
KK107  warning  an element KooKoo's libraries and docs do not know
KK108  warning  an attribute KooKoo does not document for that element
KK109  error    an attribute that must be a whole number is not one, or is out of range
KK110  warning  an element where KooKoo's libraries never put it (``hangup`` or ``say-as``
                inside ``collectdtmf``); no source says what KooKoo does with it
KK111  warning  stray text directly inside ``<response>``, ``<collectdtmf>`` or an empty element
KK112  warning  an empty ``<playtext>`` (KooKoo's own demo sends one; it speaks nothing)
KK113  warning  a value outside the known choices (the vocabulary is not fully documented), and
                values the builders accept only because KooKoo's samples use them
                (``cctransfer record=""``, a ``playtext`` ``type`` that is a voice name)
=====  =======  ===============================================================================

Not checked, on purpose: ``dial``'s ``timeout`` unit.  Official samples pass ``30`` (seconds) while
KooKoo's PHP comments say milliseconds; no value can be called wrong honestly.

Severity and strictness: a finding's severity never changes.  Callers decide what fails --
:func:`has_errors` with ``strict=True`` treats warnings as failures too (``kookoo lint --strict``).

>>> from kookoo.xml.response import Response
>>> [f.code for f in lint(Response().dial("09876543210").hangup())]
['KK102']
>>> print(lint(b"<response>\\n<collectdtmf o='5'/>\\n</response>")[0].line)
2
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from kookoo.protocol import schema
from kookoo.protocol.schema import AttrSpec, ElementSpec
from kookoo.xml.node import Node, source_line
from kookoo.xml.parser import parse_response, parse_tree
from kookoo.xml.response import Response, ResponseParseError

__all__ = ["RULES", "Finding", "Severity", "has_errors", "lint"]

Severity = Literal["error", "warning"]

#: Every rule: code -> (severity, short title).  Codes are stable; new rules get new codes.
RULES: Mapping[str, tuple[Severity, str]] = {
    "KK001": ("error", "malformed XML"),
    "KK002": ("error", "root is not <response>"),
    "KK101": ("warning", "tag after the event-producing tag"),
    "KK102": ("error", "hangup in the same reply as dial"),
    "KK103": ("error", "relative URL"),
    "KK104": ("warning", "two event-producing tags"),
    "KK105": ("warning", "millisecond value looks like seconds"),
    "KK106": ("error", "required text is empty"),
    "KK107": ("warning", "unknown element"),
    "KK108": ("warning", "unknown attribute"),
    "KK109": ("error", "not a whole number, or out of range"),
    "KK110": ("warning", "element not where KooKoo expects it"),
    "KK111": ("warning", "stray text"),
    "KK112": ("warning", "empty playtext"),
    "KK113": ("warning", "value outside the known choices"),
}

#: After these tags a following ``<gotourl>`` sends their event to the new URL (MOTECH, PHP-rec).
_GOTOURL_TAKES_EVENT_FROM = frozenset({"collectdtmf", "record", "recognize"})
#: Milliseconds below this are almost certainly seconds written in the wrong unit.
_MS_LOOKS_LIKE_SECONDS = 100
#: TwiML verbs people carry over, and the KooKoo tag that does the job (protocol.md §2.2).
#: (TwiML's Dial, Record and Hangup share KooKoo's names, which match case-insensitively.)
_TWIML = {
    "say": "playtext",
    "play": "playaudio",
    "gather": "collectdtmf",
    "redirect": "gotourl",
    "sms": "sendsms",
}
_URL_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_PARSE_POSITION = re.compile(r"^line \d+, column \d+: ")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a KooKoo reply.

    Attributes:
        code: stable rule code, e.g. ``"KK101"`` (see :data:`RULES`).
        severity: ``"error"`` (KooKoo will misbehave) or ``"warning"`` (suspicious, or
            allowed by KooKoo but undocumented).
        message: full sentences: what is wrong, why KooKoo cares, what to write instead.
        line: 1-based line in the XML, or ``None`` for a built :class:`Response` (or when the
            parser could not tell).
        tag: the element concerned (canonical spelling for known elements, as written for
            unknown ones), or ``None`` for the whole document.
    """

    code: str
    severity: Severity
    message: str
    line: int | None = None
    tag: str | None = None

    def __str__(self) -> str:
        return f"{self.code} {self.severity}: {self.message}"


def has_errors(findings: Iterable[Finding], *, strict: bool = False) -> bool:
    """Whether ``findings`` should fail a check: any error, or with ``strict`` any finding.

    >>> has_errors([Finding("KK112", "warning", "...")]), has_errors(
    ...     [Finding("KK112", "warning", "...")], strict=True)
    (False, True)
    """
    return any(strict or f.severity == "error" for f in findings)


def lint(doc: Response | bytes | str) -> list[Finding]:
    """Check a KooKoo reply and return its findings, in document order.

    Args:
        doc: a :class:`~kookoo.xml.response.Response` (findings have no line numbers), or the XML
            as bytes or str.  XML is read with the same safe parser as
            :func:`~kookoo.xml.parser.parse_response`; a malformed document gives one ``KK001``
            finding instead of an exception.

    >>> [(f.code, f.line) for f in lint("<response>\\n<playtext></playtext>\\n</response>")]
    [('KK112', 2)]
    """
    if isinstance(doc, Response):
        return _Linter().run(doc)
    if not isinstance(doc, bytes | str):
        raise TypeError(f"lint() takes a Response, bytes or str, not {type(doc).__name__}")
    try:
        root = parse_tree(doc)
    except ResponseParseError as exc:
        return [_malformed(exc)]
    findings: list[Finding] = []
    spec = schema.lookup(str(root.tag)) if isinstance(root.tag, str) else None
    line = source_line(root)
    if spec is None:
        findings.append(
            _finding(
                "KK002",
                f"The root element is <{root.tag}>, so this is not a KooKoo reply (is the URL "
                "serving an error page or another format?). KooKoo replies start with "
                "<response> and hold its tags, e.g. <response><playtext>Hello</playtext>"
                "</response>.",
                line,
                None,
            )
        )
        return findings
    if spec.tag != "response":
        findings.append(
            _finding(
                "KK002",
                f"The document is a bare <{spec.tag}> without the <response> root. KooKoo reads "
                f"only replies wrapped in <response>...</response>; put <{spec.tag}> inside "
                "<response>.",
                line,
                spec.tag,
            )
        )
    # Parsing again builds the same Node tree the builders make (text between elements
    # included), so every rule below reads one shape.
    response = parse_response(doc)
    findings.extend(_Linter().run(response))
    return sorted(findings, key=lambda f: 0 if f.line is None else f.line)


# -- helpers -----------------------------------------------------------------------------------


def _finding(code: str, message: str, line: int | None, tag: str | None) -> Finding:
    return Finding(code, RULES[code][0], message, line, tag)


def _malformed(exc: ResponseParseError) -> Finding:
    reason = _PARSE_POSITION.sub("", str(exc))
    where = f" (column {exc.column})" if exc.column is not None else ""
    hint = ""
    if "EntityRef" in reason or "xmlParseEntityRef" in reason:
        # A common cause in KooKoo apps: a query string pasted into <gotourl> unescaped.
        hint = " An '&' in a URL or text must be written '&amp;'."
    return _finding(
        "KK001",
        f"The XML is not well-formed: {reason}{where}. KooKoo cannot read a malformed reply, "
        f"so the call goes wrong at this point; fix the markup.{hint}",
        exc.line,
        None,
    )


def _at(node: Node, subject: Node | None = None) -> str:
    """' (line N)' to point at another parsed node; '' for built nodes and for the subject,
    whose line the finding carries already."""
    if node is subject or node.sourceline is None:
        return ""
    return f" (line {node.sourceline})"


def _names(tags: Iterable[str]) -> str:
    return ", ".join(f"<{t}>" for t in tags)


def _excerpt(text: str, limit: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme.lower() in _URL_SCHEMES and bool(parts.netloc)


def _example_url(relative: str) -> str:
    if relative.startswith("//"):  # scheme-relative: the host is there, the scheme is not
        return "https:" + relative
    return urljoin("https://example.com/", relative)


class _Linter:
    """One run over one document; collects findings in document order."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, node: Node | None) -> None:
        line = None if node is None else node.sourceline
        tag = None if node is None else node.tag
        self.findings.append(_finding(code, message, line, tag))

    def run(self, response: Response) -> list[Finding]:
        assert response.spec is not None
        self.check_element(response, response.spec)
        first: Node | None = None  # the first event-producing top-level tag
        hangup: Node | None = None  # the first <hangup> and <dial> so far
        dial: Node | None = None
        for child in response.children:  # one pass: a reply may hold thousands of tags
            if hangup is None and child.tag == "hangup":
                hangup = child
            if dial is None and child.tag == "dial":
                dial = child
            if first is not None:
                self.check_order(child, first, hangup, dial)
            elif child.event is not None:
                first = child
            self.check_node(child, response.spec)
        return self.findings

    # -- order of the top-level tags ---------------------------------------------------------

    def check_order(self, child: Node, first: Node, hangup: Node | None, dial: Node | None) -> None:
        """Check ``child`` against ``first``, the reply's event tag; ``hangup`` and ``dial``
        are the first of each up to and including ``child``."""
        assert first.event is not None
        # Reported once, at whichever of the two comes second.
        if hangup is not None and dial is not None and (child is hangup or child is dial):
            self.add(
                "KK102",
                f"<hangup>{_at(hangup, child)} is in the same reply as "
                f"<dial>{_at(dial, child)}. KooKoo's "
                "own demo says not to send hangup with dial: the call is still ringing or "
                "connected when KooKoo reads it. Return <hangup> in your reply to the Dial "
                "event instead.",
                child,
            )
        elif child.event is not None:
            self.add(
                "KK104",
                f"<{child.tag}> is a second event-producing tag: "
                f"<{first.tag}>{_at(first)} already makes KooKoo send {first.event}. "
                "KooKoo's guidance is one event tag, the last of the reply; what it does "
                "with a second one is undocumented (it may never get there). Keep one, "
                f"and send <{child.tag}> in your reply to the {first.event} request.",
                child,
            )
        elif child.tag == "gotourl" and first.tag in _GOTOURL_TAKES_EVENT_FROM:
            pass  # documented: the event goes to the gotourl target (MOTECH, PHP-rec)
        elif first.tag == "hangup":
            self.add(
                "KK101",
                f"<{child.tag}> comes after <hangup>{_at(first)}, which ends "
                f"the call, so the caller will probably never hear it. Move <{child.tag}> "
                "before <hangup>.",
                child,
            )
        else:
            self.add(
                "KK101",
                f"<{child.tag}> comes after <{first.tag}>{_at(first)}, the tag "
                f"that makes KooKoo send {first.event}. KooKoo's guidance is to make the "
                "event tag the last tag of the reply, and what it does with tags after it "
                "is undocumented (some live apps do this). Move "
                f"<{child.tag}> before <{first.tag}>, or send it in your reply to "
                f"{first.event}.",
                child,
            )

    # -- one element and its subtree -----------------------------------------------------------

    def check_node(self, node: Node, parent: ElementSpec | None) -> None:
        spec = node.spec
        if spec is None:
            self.unknown_element(node)
        else:
            if parent is not None and spec.tag not in parent.children:
                self.misplaced(node, spec, parent)
            self.check_element(node, spec)
        for child in node.children:
            self.check_node(child, spec)

    def unknown_element(self, node: Node) -> None:
        known = schema.BY_TAG["response"].children
        twiml = _TWIML.get(node.tag.lower())
        hint = (
            f"<{node.tag}> looks like TwiML; KooKoo's tag for that is <{twiml}>."
            if twiml is not None
            else f"Check the spelling; KooKoo's tags are {_names(known)}."
        )
        self.add(
            "KK107",
            f"<{node.tag}> is not an element KooKoo's libraries or docs know, so KooKoo "
            f"probably ignores it or rejects the reply. {hint}",
            node,
        )

    def misplaced(self, node: Node, spec: ElementSpec, parent: ElementSpec) -> None:
        if parent.children:
            rule = f"<{parent.tag}> may contain only {_names(parent.children)}"
        else:
            rule = f"<{parent.tag}> cannot contain other elements"
        if spec.tag in schema.BY_TAG["response"].children:
            fix = f"Move <{spec.tag}> to the top level, directly inside <response>."
        else:
            fix = f"<{spec.tag}> is the root element; use it only once, around the whole reply."
        self.add(
            "KK110",
            f"<{spec.tag}> is inside <{parent.tag}>, where KooKoo's libraries never put it: "
            f"{rule}. What KooKoo does with it is undocumented. {fix}",
            node,
        )

    def check_element(self, node: Node, spec: ElementSpec) -> None:
        self.check_text(node, spec)
        for name, value in node.attrs.items():
            attr = spec.attr_by_xml.get(name)
            if attr is None:
                self.unknown_attribute(node, spec, name)
            else:
                self.check_value(node, spec, attr, value)

    def check_text(self, node: Node, spec: ElementSpec) -> None:
        text = node.text.strip()
        if spec.text == "none":
            if text:
                self.stray_text(node, spec, text)
            for child in node.children:
                if child.tail.strip():
                    self.stray_text(child, spec, child.tail.strip())
            return
        if not text:
            if spec.tag == "playtext":
                self.add(
                    "KK112",
                    "<playtext> is empty, so KooKoo has nothing to speak. KooKoo's "
                    "own demo sends one and it seems harmless, but remove it or put the words "
                    "inside it.",
                    node,
                )
            elif spec.text_required:
                self.add(
                    "KK106",
                    f"<{spec.tag}> is empty, but KooKoo needs the {spec.text_keyword} as its "
                    f"text. Write <{spec.tag}>{spec.text_keyword.upper()}</{spec.tag}> with the "
                    "real value, or leave the element out.",
                    node,
                )
            return
        if spec.text == "url" and not _is_absolute_url(text):
            self.add(
                "KK103",
                f"<{spec.tag}> holds the relative URL {text!r}. KooKoo fetches it "
                "itself and has no page to resolve it against; write the full URL with scheme "
                f"and host, e.g. {_example_url(text)!r}.",
                node,
            )

    def stray_text(self, node: Node, spec: ElementSpec, text: str) -> None:
        """Report ``text`` inside ``spec``'s element, found at ``node`` (the element itself, or
        the child it follows)."""
        what = f"<{spec.tag}> contains the text {_excerpt(text)!r} outside any element"
        if spec.children:
            fix = f"To speak it, wrap it in <playtext>{_excerpt(text)}</playtext>."
        else:
            fix = f"<{spec.tag}> takes no text; remove it."
        self.findings.append(
            _finding(
                "KK111",
                f"{what}; KooKoo reads only elements there, so the text is ignored. {fix}",
                node.sourceline,
                spec.tag,
            )
        )

    def unknown_attribute(self, node: Node, spec: ElementSpec, name: str) -> None:
        if spec.attrs:
            known = "Its known attributes are " + ", ".join(a.xml for a in spec.attrs) + "."
        else:
            known = f"<{spec.tag}> takes no attributes."
        self.add(
            "KK108",
            f"<{spec.tag}> has the attribute {name!r}, which KooKoo does not document "
            f"for <{spec.tag}>, so it is probably ignored. Check the spelling (attribute names "
            f"are case-sensitive). {known}",
            node,
        )

    def check_value(self, node: Node, spec: ElementSpec, attr: AttrSpec, value: str) -> None:
        said = f"<{spec.tag}> {attr.xml}={value!r}"
        purpose = attr.doc.rstrip(".")
        if attr.kind == "int":
            if not _WHOLE_NUMBER.fullmatch(value):
                self.add(
                    "KK109",
                    f"{said} is not a whole number. KooKoo expects {attr.describe_allowed()} "
                    f"({purpose}); write digits only, without spaces or units.",
                    node,
                )
                return
            # int() refuses over 4,300 digits; anything past 18 is out of range anyway.
            number = int(value) if len(value) <= 19 else None
            if (
                number is None
                or (attr.minimum is not None and number < attr.minimum)
                or (attr.maximum is not None and number > attr.maximum)
            ):
                self.add(
                    "KK109",
                    f"{said} is out of range. KooKoo expects {attr.describe_allowed()} "
                    f"({purpose}).",
                    node,
                )
            elif attr.unit == "ms" and 0 < number < _MS_LOOKS_LIKE_SECONDS:
                default = f" (its default is {attr.default})" if attr.default else ""
                self.add(
                    "KK105",
                    f"{said} is in milliseconds, so KooKoo would wait only {number} ms"
                    f"{default}. If you meant {number} seconds, write "
                    f'{attr.xml}="{number * 1000}".',
                    node,
                )
        elif attr.kind == "choice" and value not in attr.choices:
            self.add(
                "KK113",
                f"{said} is not one of the values KooKoo is known to accept: "
                f"{attr.describe_allowed()} ({purpose}). KooKoo's vocabulary is not fully "
                "documented, so it may still work; try it on a live call.",
                node,
            )
        elif attr.kind == "bool" and value not in (attr.true_text, attr.false_text):
            self.add(
                "KK113",
                f"{said} is not one of the values KooKoo is known to accept: "
                f"{attr.true_text!r} or {attr.false_text!r} ({purpose}). What KooKoo makes "
                f"of other values is unknown; write {attr.true_text!r} or {attr.false_text!r}.",
                node,
            )
        elif attr.kind == "url" and not _is_absolute_url(value.strip()):
            self.add(
                "KK103",
                f"{said} is not an absolute URL. KooKoo uses it itself and has no page to "
                "resolve it against; write the full URL with scheme and host, e.g. "
                f"{_example_url(value.strip())!r}.",
                node,
            )
