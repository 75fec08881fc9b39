"""One element of a KooKoo reply (:class:`Node`), and the checks every value passes on its way
into the XML.  The builders (:mod:`kookoo.xml.response`) and the parser
(:mod:`kookoo.xml.parser`) both make nodes; everything here is re-exported by
:mod:`kookoo.xml.response`, where users find it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from kookoo.core.errors import KooKooError
from kookoo.protocol import schema
from kookoo.protocol.schema import AttrSpec, ElementSpec

__all__ = ["Node", "ResponseParseError", "XMLValueError", "source_line"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._\-]*")
# "//host/x" (or with backslashes, which browsers and many URL parsers read as slashes) is not
# relative to the app: resolved against the request it names another host.
_SCHEME_RELATIVE = re.compile(r"\s*[/\\]{2}")
_MAY_BE_SCHEME_RELATIVE = frozenset("/\\ \t\r\n\f\v")


class XMLValueError(KooKooError, ValueError):
    """A value cannot go into a KooKoo element: the message names the element and the field."""


class ResponseParseError(KooKooError, ValueError):
    """A KooKoo XML document could not be read.

    Attributes:
        line: 1-based line of the problem, when known.
        column: 1-based column of the problem, when known.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)
        self.line = line
        self.column = column


_SubElement = etree.SubElement


def _illegal_char_message(where: str, value: str) -> str:
    match = _XML_ILLEGAL.search(value)
    if match is None:  # lxml refused it for another reason
        return f"{where} cannot be written as XML: {value!r}"
    return (
        f"{where} contains U+{ord(match.group()):04X} at index {match.start()}, "
        "a control character XML cannot carry"
    )


def _refuse_scheme_relative(element: str, name: str, value: str) -> None:
    # The first-character test keeps the common case (an absolute URL) off the regex.
    if value[:1] in _MAY_BE_SCHEME_RELATIVE and _SCHEME_RELATIVE.match(value):
        raise XMLValueError(
            f"{element}: {name}={value!r} is a scheme-relative URL ('//host/...'): resolved "
            "against the request it would point at another host. Write the full URL "
            "('https://host/...'), or a path with a single leading '/' for this app."
        )


def _encode(element: str, spec: AttrSpec, value: object) -> str:
    """Check one attribute value against the schema and return its wire text."""
    kind = spec.kind
    if kind == "int":
        if type(value) is not int:
            raise TypeError(
                f"{element}: {spec.keyword} must be {spec.describe_allowed()}; "
                f"got {type(value).__name__} {value!r}"
            )
        if (spec.minimum is not None and value < spec.minimum) or (
            spec.maximum is not None and value > spec.maximum
        ):
            raise XMLValueError(
                f"{element}: {spec.keyword}={value!r} is out of range; "
                f"expected {spec.describe_allowed()}"
            )
        return str(value)
    if kind == "bool":
        if type(value) is str and value in spec.also:
            return value
        if type(value) is not bool:
            raise TypeError(
                f"{element}: {spec.keyword} must be {spec.describe_allowed()}; "
                f"got {type(value).__name__} {value!r}"
            )
        return spec.true_text if value else spec.false_text
    if type(value) is not str:
        raise TypeError(
            f"{element}: {spec.keyword} must be {spec.describe_allowed()}; "
            f"got {type(value).__name__} {value!r}"
        )
    if kind == "choice" and value not in spec.choices and not spec.open:
        raise XMLValueError(
            f"{element}: {spec.keyword}={value!r} is not allowed; "
            f"expected {spec.describe_allowed()}"
        )
    if kind == "url":
        _refuse_scheme_relative(element, spec.keyword, value)
    return value


def _attrib(element: etree._Element) -> dict[str, str]:
    return {str(k): str(v) for k, v in element.attrib.items()}


def source_line(element: etree._Element) -> int | None:
    """The line of ``element`` in the document it was parsed from, or ``None``."""
    line = element.sourceline
    return line if isinstance(line, int) else None


class Node:
    """One element of a KooKoo reply: its tag, attributes, text and children.

    Builders create nodes through methods such as :meth:`kookoo.Response.play_text`;
    :func:`kookoo.xml.parser.parse_response` creates them from XML.  Elements kookoo does not know
    (added with :meth:`kookoo.Response.add_raw`, or found by the parser) are nodes whose
    :attr:`spec` is ``None``.  Two nodes are equal when tag, attributes, text, the text after
    them (:attr:`tail`) and children are equal.
    """

    __slots__ = ("_element", "spec")

    def __init__(self, element: etree._Element, spec: ElementSpec | None) -> None:
        # The lxml element is the single source of truth; nodes are thin views on it, made
        # on demand, so building a reply creates no Python object per element.
        self._element = element
        self.spec = spec

    @property
    def children(self) -> list[Node]:
        """Child nodes, in document order (fresh views on each access)."""
        return [_node_for(child) for child in self._element]

    @property
    def sourceline(self) -> int | None:
        """Line in the parsed document, or ``None`` for built nodes."""
        return source_line(self._element)

    @property
    def tag(self) -> str:
        """The tag: canonical spelling for known elements, as written for unknown ones."""
        return str(self._element.tag)

    @property
    def attrs(self) -> dict[str, str]:
        """Attributes by XML name (a copy), in the order they are written."""
        return _attrib(self._element)

    @property
    def text(self) -> str:
        """The element's text ("" when it has none)."""
        return self._element.text or ""

    @property
    def tail(self) -> str:
        """Text after this element, before its next sibling ("" when none).

        Only parsed documents have it (stray text, which KooKoo ignores and lint reports as
        KK111); the builders never write any.
        """
        return self._element.tail or ""

    def get(self, keyword: str) -> str | None:
        """The wire value of an attribute by Python keyword or XML name, or ``None``.

        >>> from kookoo.xml.response import Response
        >>> Response().collect_dtmf(max_digits=4).get("max_digits")
        '4'
        """
        if self.spec is not None:
            attr = self.spec.attr_by_keyword.get(keyword)
            if attr is not None:
                keyword = attr.xml
        value = self._element.get(keyword)
        return None if value is None else str(value)

    def get_int(self, keyword: str) -> int | None:
        """Like :meth:`get` but as an int; ``None`` when absent or not a whole number."""
        value = self.get(keyword)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            return None

    @property
    def event(self) -> str | None:
        """The event KooKoo sends after running this element, or ``None``."""
        return None if self.spec is None else self.spec.event

    def iter(self) -> Iterator[Node]:
        """This node and all its descendants, in document order."""
        yield self
        for child in self.children:
            yield from child.iter()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.tag == other.tag
            and self.attrs == other.attrs
            and self.text == other.text
            and self.tail == other.tail
            and self.children == other.children
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def __repr__(self) -> str:
        parts = [repr(self.tag)]
        if self.text:
            parts.append(f"text={self.text!r}")
        parts.extend(f"{k}={v!r}" for k, v in self.attrs.items())
        if self.children:
            parts.append(f"children={self.children!r}")
        if self.tail:
            parts.append(f"tail={self.tail!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- building ---------------------------------------------------------------------------

    def _text_refused(self, element: etree._Element, spec: ElementSpec, text: str) -> XMLValueError:
        """The error for a text lxml refused on the new child ``element`` (a control
        character XML cannot carry), which is removed again: a refused value leaves no trace.
        For the builders that set a prompt's text inline (``play_text``, ``play_audio``)."""
        self._element.remove(element)
        return XMLValueError(_illegal_char_message(f"{spec.tag}: {spec.text_keyword}", text))

    def _add(
        self,
        spec: ElementSpec,
        text: str | None,
        values: tuple[object, ...] = (),
    ) -> etree._Element:
        """Validate and append a child element; ``values`` follow ``spec.attrs`` order."""
        # Check the text before the element exists: a refused value must leave no trace.
        if text is not None:
            if type(text) is not str:
                raise TypeError(
                    f"{spec.tag}: {spec.text_keyword} must be a str; got {type(text).__name__}"
                )
            if not text and spec.text_required:
                raise XMLValueError(f"{spec.tag}: {spec.text_keyword} must not be empty")
            if spec.text == "url" and text[:1] in _MAY_BE_SCHEME_RELATIVE:
                _refuse_scheme_relative(spec.tag, spec.text_keyword, text)
        parent = self._element
        if values.count(None) == len(values):  # no attributes: the common case, kept cheap
            element = _SubElement(parent, spec.tag)
        else:
            attrib: dict[str, str] = {}
            # Builder signatures follow spec.attrs in order (tests/test_schema.py checks it).
            for attr, value in zip(spec.attrs, values):  # noqa: B905  # hot path
                if value is None:
                    continue
                # The common valid values inline (what _encode would return for them); the
                # rest, and every error message, go through _encode.
                kind = attr.kind
                if type(value) is str:
                    if kind == "str" or (kind == "choice" and value in attr.choices):
                        attrib[attr.xml] = value  # nothing to check; lxml refuses control chars
                        continue
                elif (
                    type(value) is int
                    and kind == "int"
                    and (attr.minimum is None or value >= attr.minimum)
                    and (attr.maximum is None or value <= attr.maximum)
                ):
                    attrib[attr.xml] = str(value)
                    continue
                attrib[attr.xml] = _encode(spec.tag, attr, value)
            try:
                element = _SubElement(parent, spec.tag, attrib)
            except ValueError:
                for xml_name, value in attrib.items():
                    if _XML_ILLEGAL.search(value):
                        raise XMLValueError(
                            _illegal_char_message(f"{spec.tag}: attribute {xml_name}", value)
                        ) from None
                raise
        if text:
            try:
                element.text = text
            except ValueError:
                parent.remove(element)
                raise XMLValueError(
                    _illegal_char_message(f"{spec.tag}: {spec.text_keyword}", text)
                ) from None
        return element


#: Canonical tag -> the Node subclass that views it (the builders register CollectDtmf).
_VIEWS: dict[str, type[Node]] = {}


def _register_view(tag: str, cls: type[Node]) -> None:
    _VIEWS[tag] = cls


def _node_for(element: etree._Element) -> Node:
    tag = str(element.tag)
    return _VIEWS.get(tag, Node)(element, schema.BY_TAG.get(tag))
