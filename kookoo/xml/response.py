"""Typed builders for KooKoo XML and their serialisation (the parser is :mod:`kookoo.xml.parser`).

Build a reply with one method per KooKoo element; every value is checked when it is set::

    r = Response(sid="123")
    with r.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
        menu.play_text("Press 1 for English, 2 for Hindi")
    r.to_xml()  # b"<?xml version='1.0' encoding='UTF-8'?>\\n<response sid=\\"123\\">..."

Element methods that add a prompt or verb return the container they were called on, so calls
chain (``r.play_text("Bye").hangup()``); :meth:`Response.collect_dtmf` returns the new
:class:`CollectDtmf` so prompts can be nested in it, as a ``with`` block or by chaining.

The vocabulary (tags, attribute names, allowed values) lives in :mod:`kookoo.protocol.schema`; the
:class:`Node` view and the value checks in :mod:`kookoo.xml.node`.
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Self

from lxml import etree

from kookoo.protocol import schema
from kookoo.protocol.lang import (
    PlayTextLanguage,
    RecognizeLanguage,
    SayAsFormat,
    SayAsFormatName,
    SayAsLanguage,
    say_as_format,
    say_as_text,
)
from kookoo.protocol.phone import PhoneNumber
from kookoo.protocol.schema import ElementSpec
from kookoo.xml.node import (
    _MAY_BE_SCHEME_RELATIVE,
    _XML_ILLEGAL,
    _XML_NAME,
    Node,
    ResponseParseError,
    XMLValueError,
    _encode,
    _illegal_char_message,
    _register_view,
    _SubElement,
)

#: The ``x-uui`` key that marks a ``<stream>`` whose token the app signs (``handler=``).
STREAM_HANDLER_KEY = "kookoo_handler"

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "CollectDtmf",
    "Node",
    "Response",
    "ResponseParseError",
    "XMLValueError",
]

RecordTerminator = Literal["#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
"""A key that stops ``<record>`` (``termchar``)."""


def _renamed(
    method: str, old: str, new: str, old_value: int | None, value: int | None
) -> int | None:
    """The value of a keyword renamed for the unit naming rule (:mod:`kookoo.protocol.schema`)."""
    if old_value is None:
        return value
    warnings.warn(
        f"{method}({old}=...) is deprecated; use {new}= (the same value: the unit is now "
        "in the name)",
        DeprecationWarning,
        stacklevel=3,
    )
    if value is not None:
        raise TypeError(f"{method}() got both {old}= and its new name {new}=")
    return old_value


class Prompts(Node):
    """Base of the containers that take prompts: :class:`Response` and :class:`CollectDtmf`."""

    __slots__ = ()

    def play_text(
        self,
        text: str,
        *,
        lang: PlayTextLanguage | None = None,
        speed: int | None = None,
        quality: Literal["best", "normal"] | None = None,
        engine: str | None = None,
    ) -> Self:
        """Speak ``text`` (``<playtext>``).

        Args:
            text: words to speak, any language KooKoo's TTS reads (UTF-8).  An empty text is
                written as ``<playtext/>`` (KooKoo's own demo sends one; lint warns, KK112).
            lang: TTS language, e.g. ``"EN"`` or ``"hi-IN"`` (KooKoo defaults to English).
            speed: 1 (slow) to 9 (fast); KooKoo's default is 2.
            quality: ``"best"`` (default) or ``"normal"``.
            engine: the ``type`` attribute: ``"ggl"`` (Google), ``"polly"`` (uncertain) or a
                voice name such as ``"Aditi"`` (Ozonetel's sample); other values are written
                as given and lint warns about them (KK113).
        """
        if (
            lang is None
            and speed is None
            and quality is None
            and engine is None
            and type(text) is str
            and text
        ):
            # The usual prompt, inlined (prompts are most of every reply): no attributes,
            # a text lxml checks as it sets it.
            element = _SubElement(self._element, "playtext")
            try:
                element.text = text
            except ValueError:
                raise self._text_refused(element, _PLAYTEXT, text) from None
        else:
            self._add(_PLAYTEXT, text, (lang, speed, quality, engine))
        return self

    def play_audio(self, url: str) -> Self:
        """Play the audio file at ``url`` (``<playaudio>``): WAV (8 kHz, 16-bit, mono) or MP3.

        Use an absolute URL: KooKoo fetches it.  Inside an app, a relative URL is resolved
        against the request's URL when the reply is sent.  A scheme-relative ``//host/...``
        is refused (:class:`XMLValueError`): it would be resolved to another host.
        """
        if type(url) is str and url and url[:1] not in _MAY_BE_SCHEME_RELATIVE:
            element = _SubElement(self._element, "playaudio")  # inlined as in play_text
            try:
                element.text = url
            except ValueError:
                raise self._text_refused(element, _PLAYAUDIO, url) from None
        else:
            self._add(_PLAYAUDIO, url)
        return self


class CollectDtmf(Prompts):
    """A ``<collectdtmf>`` element: prompts played while the caller's digits are collected.

    Use it as a context manager or chain on it::

        with r.collect_dtmf(max_digits=4, terminator="#") as pin:
            pin.play_text("Enter your PIN, then hash")
    """

    __slots__ = ("_response",)
    _response: Response

    @property
    def response(self) -> Response:
        """The reply this menu belongs to: the :class:`Response` whose
        :meth:`~Response.collect_dtmf` made it (with its :meth:`~Response.next_step`), so
        ``return Response().next_step("menu").collect_dtmf(...).play_text(...)`` sends the
        whole reply and keeps its step. A menu read by the parser answers a view of its
        document.

        >>> reply = Response().next_step("menu")
        >>> reply.collect_dtmf(max_digits=1).play_text("Press 1").response is reply
        True
        """
        owner: Response | None = getattr(self, "_response", None)
        if owner is None:
            owner = Response._wrap(self._element.getroottree().getroot())
        return owner

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class Response(Prompts):
    """A KooKoo reply: the ``<response>`` root and the elements KooKoo runs in order.

    Args:
        sid: session id written on the root (apps usually echo the request's ``sid``).
        filler: ``True`` makes KooKoo play hold music while it fetches the next reply.

    >>> print(Response(sid="42").play_text("Hello").hangup())
    <?xml version='1.0' encoding='UTF-8'?>
    <response sid="42"><playtext>Hello</playtext><hangup/></response>
    """

    __slots__ = ("step", "step_given")

    def __init__(self, *, sid: str | None = None, filler: bool | None = None) -> None:
        #: The step that handles the call's next event (see :meth:`next_step`); not XML.
        self.step: str | None = None
        #: Whether :meth:`next_step` was called (``next_step(None)`` clears the call's step).
        self.step_given = False
        if sid is None and filler is None:
            element = _Element("response")
        else:
            attrib: dict[str, str] = {}
            if sid is not None:
                attrib["sid"] = sid if type(sid) is str else _encode("response", _SID, sid)
            if filler is not None:
                attrib["filler"] = _encode("response", _FILLER, filler)
            try:
                element = _Element("response", attrib)
            except ValueError:  # lxml refuses what XML cannot carry; say which field
                raise XMLValueError(
                    _illegal_char_message("response: attribute sid", sid or "")
                ) from None
        # Node.__init__, inlined: every reply starts here.
        self._element = element
        self.spec = _RESPONSE

    @classmethod
    def _wrap(cls, element: etree._Element) -> Response:
        node = cls.__new__(cls)
        Node.__init__(node, element, _RESPONSE)
        node.step = None
        node.step_given = False
        return node

    def next_step(self, step: str | None) -> Self:
        """Name the step whose handlers receive this call's next event (``None`` clears it).

        The step is kept with the call (see :class:`kookoo.KooKoo`); it is not part of the
        XML and does not take part in equality.

        >>> r = Response().next_step("department")
        >>> r.step
        'department'
        """
        self.step = step
        self.step_given = True
        return self

    def say_as(
        self,
        value: str | int | Decimal | _dt.date,
        *,
        format: SayAsFormat | SayAsFormatName | int,  # KooKoo's own name
        lang: SayAsLanguage | None = None,
    ) -> Self:
        """Speak ``value`` in a format (``<say-as>``): a number, date, amount or digits.

        Args:
            value: what to speak; a ``date`` is written ``YYYYMMDD``, a ``Decimal`` amount
                keeps two decimals for ``CURRENCY_DECIMAL``.
            format: a :class:`~kookoo.protocol.lang.SayAsFormat`, its code (``401``) or its name
                (``"currency"``).
            lang: language of the spoken value, e.g. ``"EN"``, ``"HI"``.

        >>> Response().say_as(5000, format="currency", lang="EN").children[0].attrs
        {'format': '401', 'lang': 'EN'}
        """
        try:
            fmt = say_as_format(format)
        except ValueError as exc:
            raise XMLValueError(str(exc)) from None
        try:
            text = say_as_text(value, fmt)
        except ValueError as exc:
            raise XMLValueError(str(exc)) from None
        self._add(_SAY_AS, text, (str(fmt.value), lang))
        return self

    def collect_dtmf(
        self,
        *,
        max_digits: int | None = None,
        terminator: Literal["#", "*"] | None = None,
        timeout_ms: int | None = None,
    ) -> CollectDtmf:
        """Collect digits (``<collectdtmf>``); KooKoo then sends ``GotDTMF``.

        Returns the new :class:`CollectDtmf` so prompts can be nested in it.

        Args:
            max_digits: collection ends when this many digits are pressed (``l``).
            terminator: ``"#"`` or ``"*"`` ends input early (``t``).
            timeout_ms: milliseconds to wait for input (``o``; KooKoo's default is 4000).
        """
        # A menu is the most common reply: its attributes are checked inline (what _add and
        # _encode do for a valid value); anything else, and every error message, goes
        # through _encode. Ints and the closed choice carry nothing lxml could refuse.
        attrib: dict[str, str] = {}
        if max_digits is not None:
            if type(max_digits) is int and max_digits >= _MAX_DIGITS_MIN:
                attrib[_MAX_DIGITS.xml] = str(max_digits)
            else:
                attrib[_MAX_DIGITS.xml] = _encode("collectdtmf", _MAX_DIGITS, max_digits)
        if terminator is not None:
            if type(terminator) is str and terminator in _TERMINATOR.choices:
                attrib[_TERMINATOR.xml] = terminator
            else:
                attrib[_TERMINATOR.xml] = _encode("collectdtmf", _TERMINATOR, terminator)
        if timeout_ms is not None:
            if type(timeout_ms) is int and timeout_ms >= _TIMEOUT_MS_MIN:
                attrib[_TIMEOUT_MS.xml] = str(timeout_ms)
            else:
                attrib[_TIMEOUT_MS.xml] = _encode("collectdtmf", _TIMEOUT_MS, timeout_ms)
        element = _SubElement(self._element, "collectdtmf", attrib)
        # Node.__init__, inlined.
        collect = _new_collect(CollectDtmf)
        collect._element = element
        collect.spec = _COLLECT
        collect._response = self  # the step travels with the document
        return collect

    def record(
        self,
        filename: str,
        *,
        format: Literal["wav", "mp3"] | None = None,  # KooKoo's own name
        silence_seconds: int | None = None,
        max_seconds: int | None = None,
        terminator: RecordTerminator | None = None,
        option: Literal["k"] | None = None,
    ) -> Self:
        """Record the caller (``<record>``); KooKoo then sends ``Record`` with the file's URL.

        Args:
            filename: a unique name for the recording.
            format: ``"wav"`` or ``"mp3"``.
            silence_seconds: stop after this much silence (``silence``; default 4).
            max_seconds: longest recording (``maxduration``; default 60).
            terminator: key that stops recording (``termchar``; default ``#``).
            option: ``"k"`` kept recording after hangup in old KooKoo versions.
        """
        self._add(_RECORD, filename, (format, silence_seconds, max_seconds, terminator, option))
        return self

    def dial(
        self,
        number: str,
        *,
        record: bool | None = None,
        limit_seconds: int | None = None,
        timeout_seconds: int | None = None,
        moh: Literal["default", "ring", "normal"] | None = None,
        prompt_to_called_number: str | None = None,
        caller_id: str | None = None,
        transfer_allowed_by_caller: bool | None = None,
        callback_on_answered: str | None = None,
        timeout: int | None = None,
    ) -> Self:
        """Connect the caller to ``number`` (``<dial>``); KooKoo then sends ``Dial``.

        Do not put :meth:`hangup` in the same reply: wait for the ``Dial`` event.

        Args:
            number: the number to dial (prefix STD numbers with 0).
            record: record the bridged call; its URL comes back in the Dial event.
            limit_seconds: longest talk time after answer (``limittime``).
            timeout_seconds: ring timeout (``timeout``).  Its unit is disputed: Ozonetel's
                samples pass ``30`` (seconds), a PHP comment says milliseconds; the value is
                written unchanged.
            moh: what the caller hears while it rings: ``"default"`` music on hold,
                ``"ring"`` KooKoo's ring, ``"normal"`` the telco's tones.
            prompt_to_called_number: audio URL played to the called party first, or ``"no"``.
            caller_id: caller id shown to the called party; must be one of your DIDs.
            transfer_allowed_by_caller: newer attribute (one source).
            callback_on_answered: URL called when answered (newer attribute, one source).
            timeout: deprecated name of ``timeout_seconds``.
        """
        if timeout is not None:
            timeout_seconds = _renamed(
                "dial", "timeout", "timeout_seconds", timeout, timeout_seconds
            )
        self._add(
            _DIAL,
            number,
            (
                record,
                limit_seconds,
                timeout_seconds,
                moh,
                prompt_to_called_number,
                caller_id,
                transfer_allowed_by_caller,
                callback_on_answered,
            ),
        )
        return self

    def conference(
        self,
        room: str,
        *,
        caller_id: str | None = None,
        record: bool | None = None,
        timeout_seconds: int | None = None,
        version: str | None = None,
        caller_onhold_music: str | None = None,
        timeout: int | None = None,
    ) -> Self:
        """Join the caller to conference ``room`` (``<conference>``).

        Args:
            room: conference number or room id.
            caller_id: caller id shown.
            record: record the conference (KooKoo's default is true).
            timeout_seconds: KooKoo's ``timeout``; -1 means none (unit uncertain, written
                unchanged).
            version: KooKoo's ``version`` attribute (meaning undocumented).
            caller_onhold_music: hold music, e.g. ``"default"``.
            timeout: deprecated name of ``timeout_seconds``.
        """
        if timeout is not None:
            timeout_seconds = _renamed(
                "conference", "timeout", "timeout_seconds", timeout, timeout_seconds
            )
        self._add(
            _CONFERENCE, room, (caller_id, record, timeout_seconds, version, caller_onhold_music)
        )
        return self

    def hangup(self) -> Self:
        """End the call (``<hangup/>``); KooKoo then sends ``Disconnect``."""
        self._add(_HANGUP, None)
        return self

    def goto_url(self, url: str, *, clean_params: bool | None = None) -> Self:
        """Send KooKoo's next request to ``url`` (``<gotourl>``).

        Query parameters in ``url`` come back on that request.  Use an absolute URL; inside an
        app a relative one is resolved against the request's URL when the reply is sent.  A
        scheme-relative ``//host/...`` is refused (:class:`XMLValueError`): it would be
        resolved to another host.
        """
        self._add(_GOTOURL, url, (clean_params,))
        return self

    def send_sms(
        self, text: str, *, to: str | PhoneNumber | None = None, unicode: bool | None = None
    ) -> Self:
        """Send an SMS with ``text`` during the call (``<sendsms>``; SMS-enabled accounts).

        Args:
            text: the message.
            to: destination number: text as KooKoo should see it (10 digits, or 91 and 10
                digits), or a :class:`~kookoo.protocol.phone.PhoneNumber` such as ``event.caller``,
                written as its 10-digit national number (the form in Ozonetel's Java
                sample) or, when it has none, as KooKoo sent it.
            unicode: send as Unicode (how KooKoo spells this value is uncertain).

        >>> from kookoo.protocol.phone import PhoneNumber
        >>> Response().send_sms("Booked", to=PhoneNumber.parse("+919876543210")).children[0]
        Node('sendsms', text='Booked', to='9876543210')
        """
        if isinstance(to, PhoneNumber):
            to = to.national or to.raw
        self._add(_SENDSMS, text, (to, unicode))
        return self

    def play_dtmf(self) -> Self:
        """Add ``<playdtmf-i/>`` (from KooKoo's PHP library; semantics undocumented)."""
        self._add(_PLAYDTMF, None)
        return self

    def recognize(
        self,
        *,
        engine: Literal["zena", "ggl-stream", "indybol"] | None = None,
        timeout_seconds: int | None = None,
        silence_seconds: int | None = None,
        lang: RecognizeLanguage | None = None,
        length: int | None = None,
        grammar: str | None = None,
        success_file: str | None = None,
        complete_silence_seconds: int | None = None,
        moh: str | None = None,
        moh_url: str | None = None,
        timeout: int | None = None,
        silence: int | None = None,
        complete_silence: int | None = None,
    ) -> Self:
        """Recognise speech (``<recognize>``); KooKoo then sends ``Recognize`` with the text.

        Args:
            engine: the ``type`` attribute: ``"zena"``, ``"ggl-stream"`` or ``"indybol"``.
            timeout_seconds: KooKoo's ``timeout`` (its values look like seconds; default 5).
            silence_seconds: silence that ends speech (``silence``; default 10).
            lang: ``"en"``, ``"hi"``, ``"en-IN"`` or ``"hi-IN"``.
            length: max digits for digit grammars.
            grammar: e.g. ``"digits"``, ``"yesno"``, ``"number"``, ``"date"``.
            success_file: audio URL played once speech is captured.
            complete_silence_seconds: silence after speech (``complete_silence``; default 2).
            moh: music on hold while recognising.
            moh_url: URL of that music.
            timeout: deprecated name of ``timeout_seconds``.
            silence: deprecated name of ``silence_seconds``.
            complete_silence: deprecated name of ``complete_silence_seconds``.
        """
        if timeout is not None or silence is not None or complete_silence is not None:
            timeout_seconds = _renamed(
                "recognize", "timeout", "timeout_seconds", timeout, timeout_seconds
            )
            silence_seconds = _renamed(
                "recognize", "silence", "silence_seconds", silence, silence_seconds
            )
            complete_silence_seconds = _renamed(
                "recognize",
                "complete_silence",
                "complete_silence_seconds",
                complete_silence,
                complete_silence_seconds,
            )
        self._add(
            _RECOGNIZE,
            None,
            (
                engine,
                timeout_seconds,
                silence_seconds,
                lang,
                length,
                grammar,
                success_file,
                complete_silence_seconds,
                moh,
                moh_url,
            ),
        )
        return self

    def stream(
        self,
        number: str,
        *,
        is_sip: bool | None = None,
        url: str | None = None,
        uui: str | None = None,
        moh: str | None = None,
        record: bool | None = None,
        handler: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> Self:
        """Stream the call's audio to a WebSocket voice bot (``<stream>``); then ``Stream``.

        Args:
            number: the SIP/stream number Ozonetel provisioned.
            is_sip: the number is a SIP number.
            url: the ``ws://``/``wss://`` endpoint.
            uui: JSON passed to the socket (``x-uui``); leave it out with ``handler``.
            moh: hold audio, e.g. ``"silence"``.
            record: record the streamed call.
            handler: the name of the :class:`~kookoo.stream.StreamBots` handler that takes
                the socket. The app puts the call's sid and a signed, expiring token (keyed
                by its secret, as ``StreamBots`` verify it) into ``x-uui`` when it sends the
                reply; not XML of its own.
            data: JSON values for the bot, sent in ``x-uui`` with ``handler``.

        Raises:
            TypeError: both ``uui`` and ``handler`` given, or ``data`` without ``handler``.
        """
        if handler is not None or data is not None:
            if handler is None or uui is not None:
                raise TypeError("stream: give handler= (and data=) or uui=, not both")
            # A placeholder the app replaces with the signed x-uui (Pipeline.serialize);
            # sent as it is outside an app, a bot refuses it for want of a token.
            uui = json.dumps({**(data or {}), STREAM_HANDLER_KEY: handler}, ensure_ascii=False)
        self._add(_STREAM, number, (is_sip, url, uui, moh, record))
        return self

    def start_record(self) -> Self:
        """Start recording the whole call (``<start-record/>``)."""
        self._add(_START_RECORD, None)
        return self

    def context(self, text: str = "") -> Self:
        """Add ``<context>`` (from KooKoo's Java library's ``addContext``; semantics
        undocumented, so use it only where KooKoo support told you to)."""
        self._add(_CONTEXT, text)
        return self

    def cc_transfer(
        self,
        queue: str,
        *,
        record: bool | Literal[""] | None = None,
        moh: str | None = None,
        caller_onhold_music: str | None = None,
        uui: str | None = None,
        timeout_seconds: int | None = None,
        ring_type: str | None = None,
    ) -> Self:
        """Transfer to a CloudAgent contact-centre ``queue`` (``<cctransfer>``).

        Args:
            queue: the CloudAgent campaign or queue name, e.g. ``"general"``.
            record: record the transfer; ``""`` is written as given (the voice-bot samples send
                ``record=""``; lint warns, KK113).
            moh: music on hold.
            caller_onhold_music: hold music.
            uui: user-to-user information passed to the agent.
            timeout_seconds: ring timeout (``timeout``; seconds assumed).
            ring_type: ``ringType``, e.g. ``"ring"``.
        """
        self._add(
            _CCTRANSFER, queue, (record, moh, caller_onhold_music, uui, timeout_seconds, ring_type)
        )
        return self

    def add_raw(
        self,
        tag: str,
        text: str = "",
        attrs: Mapping[str, str] | None = None,
        **more_attrs: str,
    ) -> Self:
        """Add an element kookoo does not model (for tags KooKoo adds later).

        Text and attribute values are still escaped and checked for characters XML cannot
        carry.  Attribute names that are not Python identifiers go in ``attrs``.

        >>> Response().add_raw("survey", "billing").children[0]
        Node('survey', text='billing')
        """
        if type(tag) is not str or not _XML_NAME.fullmatch(tag):
            raise XMLValueError(f"add_raw: {tag!r} is not a valid XML tag name")
        attrib = {**(attrs or {}), **more_attrs}
        for name, value in attrib.items():
            if not _XML_NAME.fullmatch(name):
                raise XMLValueError(f"{tag}: {name!r} is not a valid XML attribute name")
            if name == "xmlns":  # lxml would write it as a namespace declaration
                raise XMLValueError(f"{tag}: 'xmlns' is reserved for namespaces")
            if type(value) is not str:
                raise TypeError(f"{tag}: attribute {name} must be a str; got {value!r}")
            if _XML_ILLEGAL.search(value):
                raise XMLValueError(_illegal_char_message(f"{tag}: attribute {name}", value))
        if type(text) is not str:
            raise TypeError(f"{tag}: text must be a str; got {type(text).__name__}")
        if _XML_ILLEGAL.search(text):
            raise XMLValueError(_illegal_char_message(f"{tag}: text", text))
        element = etree.SubElement(self._element, tag, attrib)
        if text:
            element.text = text
        return self

    # -- reading and writing ----------------------------------------------------------------

    @property
    def sid(self) -> str | None:
        """The ``sid`` attribute, if set."""
        return self.get("sid")

    @property
    def event_nodes(self) -> list[Node]:
        """The top-level elements after which KooKoo sends an event, in order."""
        return [c for c in self.children if c.spec is not None and c.spec.event is not None]

    def to_xml(self) -> bytes:
        """Serialise as UTF-8 bytes with an XML declaration; attributes in schema order."""
        return etree.tostring(self._element, xml_declaration=True, encoding="UTF-8")

    def __str__(self) -> str:
        return self.to_xml().decode("utf-8")


def _spec(tag: str) -> ElementSpec:
    return schema.BY_TAG[tag]


_RESPONSE = _spec("response")
_new_collect = object.__new__
_Element = etree.Element
_SID, _FILLER = _RESPONSE.attrs
_PLAYTEXT = _spec("playtext")
_SAY_AS = _spec("say-as")
_PLAYAUDIO = _spec("playaudio")
_COLLECT = _spec("collectdtmf")
_MAX_DIGITS = _COLLECT.attr_by_keyword["max_digits"]
_TERMINATOR = _COLLECT.attr_by_keyword["terminator"]
_TIMEOUT_MS = _COLLECT.attr_by_keyword["timeout_ms"]
# collect_dtmf's inline checks rely on this shape of the schema (tests/test_schema.py
# checks it): two ints with a lower bound only, one closed choice.
_MAX_DIGITS_MIN: int = _MAX_DIGITS.minimum or 0
_TIMEOUT_MS_MIN: int = _TIMEOUT_MS.minimum or 0
_RECORD = _spec("record")
_DIAL = _spec("dial")
_CONFERENCE = _spec("conference")
_HANGUP = _spec("hangup")
_GOTOURL = _spec("gotourl")
_SENDSMS = _spec("sendsms")
_PLAYDTMF = _spec("playdtmf-i")
_RECOGNIZE = _spec("recognize")
_STREAM = _spec("stream")
_START_RECORD = _spec("start-record")
_CCTRANSFER = _spec("cctransfer")
_CONTEXT = _spec("context")


_register_view("collectdtmf", CollectDtmf)
