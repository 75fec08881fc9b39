"""The safe parser: KooKoo XML as real apps write it, read into the builders' objects.

No DTD is loaded, no entity expanded, nothing fetched from the network, and documents over a
size limit are refused; errors carry the line and column.  ``parse_response`` is also
importable from :mod:`kookoo`.
"""

from __future__ import annotations

import re

from lxml import etree

from kookoo.protocol import schema
from kookoo.xml.node import source_line
from kookoo.xml.response import Response, ResponseParseError

__all__ = ["MAX_RESPONSE_BYTES", "hardened_parser", "parse_response", "parse_tree"]

#: Largest document :func:`parse_response` reads by default (bytes).
MAX_RESPONSE_BYTES = 1_000_000


def hardened_parser(*, recover: bool = False) -> etree.XMLParser:
    """The one lxml parser setup kookoo reads XML with: no entities, no DTD (neither loaded
    nor validated), no network, no huge trees, comments and processing instructions dropped.

    Args:
        recover: read slightly broken XML (an unescaped ``&``) instead of refusing it; for
            text kookoo only needs a few values from (the outbound API's replies), never
            for replies it checks.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=recover,
        remove_comments=True,
        remove_pis=True,
        # No collect_ids=False: with libxml2 2.14 it makes the parser read a DOCTYPE's
        # external subset (a local file) even though load_dtd is off.
    )


_PARSER = hardened_parser()
_DECLARATION = re.compile(r"^\s*<\?xml\s[^>]*\?>")
_DECLARATION_BYTES = re.compile(rb"^[ \t\r\n]*<\?xml\s[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)[\"']")
_NOT_LINE_END = re.compile(r"[^\r\n]")
_NOT_LINE_END_BYTES = re.compile(rb"[^\r\n]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_LXML_POSITION = re.compile(r",? \(?line \d+,? column \d+\)?$")


def _blank(match: re.Match[str]) -> str:
    return _NOT_LINE_END.sub(" ", match.group())


def parse_tree(data: bytes | str, *, max_bytes: int = MAX_RESPONSE_BYTES) -> etree._Element:
    """Parse XML safely and return the lxml root element.

    No DTD is loaded, no entity is expanded, nothing is fetched from the network, and documents
    larger than ``max_bytes`` are refused.  Errors are :class:`ResponseParseError` with line and
    column.
    """
    if isinstance(data, str):
        # A declaration naming another encoding would lie about a str we encode as UTF-8.  It is
        # blanked, not removed, so that lines and columns in errors are those of the input.
        data = data.removeprefix("\ufeff")
        try:
            data = _DECLARATION.sub(_blank, data, count=1).encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: not text XML can hold
            raise ResponseParseError(
                f"the text holds U+{ord(exc.object[exc.start]):04X} at index {exc.start}, "
                "which is not a character XML can carry"
            ) from None
    elif not isinstance(data, bytes):
        raise TypeError(f"parse_response() takes bytes or str, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise ResponseParseError(f"document is {len(data)} bytes; the limit is {max_bytes}")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.lstrip(b" \t\r\n"):
        raise ResponseParseError("document is empty", 1, 1)
    declaration = _DECLARATION_BYTES.match(data)
    if declaration is not None and not data.startswith(b"<?xml"):
        # Whitespace before the declaration is an XML error that KooKoo evidently shrugs off.
        # A UTF-8 declaration is blanked so that error lines and columns stay those of the
        # input; one naming another encoding must stay, so the whitespace goes instead.
        encoding = _DECLARED_ENCODING.search(declaration.group())
        if encoding is None or encoding.group(1).lower() in (b"utf-8", b"utf8"):
            blank = _NOT_LINE_END_BYTES.sub(b" ", declaration.group())
            data = blank + data[declaration.end() :]
        else:
            data = data.lstrip(b" \t\r\n")
    doctype = _DOCTYPE.search(data)
    if doctype is not None:
        line = data.count(b"\n", 0, doctype.start()) + 1
        raise ResponseParseError("DOCTYPE declarations are not allowed in KooKoo XML", line, 1)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        message = _LXML_POSITION.sub("", str(exc.msg))
        raise ResponseParseError(message, line, column) from None
    # The byte search above misses a DOCTYPE in UTF-16 and the like; entities were not
    # expanded either way, but refuse the document rather than silently drop them.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:
        raise ResponseParseError("DOCTYPE declarations are not allowed in KooKoo XML")
    return root


def _layout(text: str | None) -> str | None:
    """``text`` unless it is only whitespace (indentation between tags is layout)."""
    return text if text and not text.isspace() else None


def _normalise(element: etree._Element) -> None:
    """Rewrite a parsed tree in place into the builders' form: canonical tags for known
    elements, layout whitespace dropped; unknown elements and any other text are kept as
    written."""
    for child in list(element):
        tag = child.tag
        if not isinstance(tag, str):  # processing instructions and the like
            # Comments and PIs are removed by the parser; keep the text that followed one.
            _keep_tail(element, child)
            element.remove(child)
            continue
        spec = schema.lookup(tag)
        if spec is not None:
            child.tag = spec.tag
        child.tail = _layout(child.tail)
        if len(child) or (spec is not None and spec.text == "none"):
            child.text = _layout(child.text)
        else:
            child.text = child.text or None
        if len(child):
            _normalise(child)


def _keep_tail(parent: etree._Element, node: etree._Element) -> None:
    tail = node.tail
    if not tail:
        return
    previous = node.getprevious()
    if previous is None:
        parent.text = (parent.text or "") + tail
    else:
        previous.tail = (previous.tail or "") + tail


def parse_response(data: bytes | str, *, max_bytes: int = MAX_RESPONSE_BYTES) -> Response:
    """Read KooKoo XML as real apps write it into the same objects the builders make.

    Accepts any tag-name case (``<Response>``, ``<PlayText>``), both ``say-as`` spellings,
    single or double quotes, whitespace and a missing declaration.  Unknown elements are kept
    as raw :class:`Node` objects and text between elements as :attr:`Node.tail` (or the
    container's :attr:`Node.text`); only whitespace between tags (layout), comments and
    processing instructions are dropped.  A bare element whose tag KooKoo knows
    (a fragment such as ``<dial>...</dial>``) is read as if it stood inside ``<response>``;
    :func:`kookoo.xml.lint.lint` reports it.

    Raises:
        ResponseParseError: malformed XML (with line and column), a DOCTYPE, or a document
            over ``max_bytes``.

    >>> parse_response("<Response><PlayText>Hi</PlayText></Response>") == Response().play_text("Hi")
    True
    """
    root = parse_tree(data, max_bytes=max_bytes)
    spec = schema.lookup(str(root.tag))
    if spec is not None and spec.tag == "response":
        root.tag = "response"
        root.tail = None
        root.text = _layout(root.text)
        _normalise(root)
        return Response._wrap(root)
    if spec is None:
        raise ResponseParseError(
            f"the root element is <{root.tag}>; KooKoo XML starts with <response>",
            source_line(root),
            1,
        )
    wrapper = etree.Element("response")
    wrapper.append(root)
    root.tail = None
    _normalise(wrapper)
    response = Response._wrap(wrapper)
    return response
