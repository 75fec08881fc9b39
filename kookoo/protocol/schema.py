"""The one declarative table of KooKoo XML ("KooKoo tunes").

Every element KooKoo understands, every attribute it takes (Python keyword, XML name, type,
allowed values or range, unit, KooKoo's default), which children an element may hold and which
event it makes KooKoo send next.  The builders (:mod:`kookoo.xml.response`), the parser and the
linter (:mod:`kookoo.xml.lint`) all read this table, so the vocabulary is written down once.

Canonical spelling: kookoo emits lower-case tag names as KooKoo's own PHP library and docs do
(``response``, ``playtext``, ``say-as``, ``collectdtmf``, ...).  The parser also accepts any
tag-name case (``<Response>``, ``<PlayText>``, ``<Say-As>``) and the historical aliases listed in
:attr:`ElementSpec.aliases`.  Attribute names are matched exactly, as KooKoo documents them.

Confidence marks follow ``protocol.md``: ``"C"`` confirmed by an official Ozonetel source,
``"O"`` observed in independent public code, ``"U"`` uncertain.  Where a fact is uncertain the
builders stay conservative (they only emit values seen working) and the parser stays lenient.

Keyword names: a keyword that holds a duration ends in its unit, ``_ms`` for milliseconds and
``_seconds`` for seconds (``timeout_ms``, ``silence_seconds``); everything else is named for what
it means.  Where KooKoo's unit is disputed (``dial``, ``conference`` and ``recognize``
``timeout``) the unit named is the one Ozonetel's own samples imply, the attribute's
``confidence`` is ``"U"``, and the value is written unchanged.  Keywords renamed to follow this
rule are listed in :attr:`AttrSpec.deprecated`; the builders still take them, with a
:class:`DeprecationWarning`.

Besides the table, this module holds what the tools need to know about KooKoo's behaviour:
what KooKoo waits for after an element (:data:`WAITS_FOR`, :data:`HANGUP_PROCESS`), KooKoo's
defaults (:func:`default_of`, :data:`DEFAULT_DTMF_TIMEOUT_MS`) and the numbers the simulator
uses when none is given (:data:`DEFAULT_CALLER`, :data:`DEFAULT_CALLED_NUMBER`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from kookoo.protocol.lang import PlayTextLanguage, RecognizeLanguage, SayAsFormat, SayAsLanguage

AttrKind = Literal["str", "int", "bool", "choice", "url"]
Confidence = Literal["C", "O", "U"]
WaitingFor = Literal[
    "digits", "recording", "dial", "speech", "conference", "stream", "transfer"
]  # fmt: skip
"""What KooKoo waits for after an element: the caller's keys, a recording, a dial outcome,
speech for ``recognize``, the end of a conference, a stream or a contact-centre transfer."""


@dataclass(frozen=True, slots=True)
class AttrSpec:
    """One attribute of a KooKoo element.

    Attributes:
        keyword: the Python keyword argument the builder method takes.
        xml: the attribute name on the wire.
        kind: ``"int"`` (whole number, optionally bounded by ``minimum``/``maximum``),
            ``"bool"`` (written as ``true_text``/``false_text``), ``"choice"`` (one of
            ``choices``), ``"url"`` (an absolute http(s)/ws(s) URL is expected) or ``"str"``.
        choices: the closed set of values for ``"choice"``; for ``"str"`` the values seen in
            the wild (informational, not enforced).
        unit: unit of a number (``"ms"``, ``"s"``), for documentation and messages.
        default: KooKoo's own default when the attribute is left out, as written on the wire
            (the builders never write it for you; see :func:`default_of`).
        doc: one sentence on what it does.
        confidence: how sure we are the attribute exists and means this.
        open: for ``"choice"``: ``choices`` are the values known to work, but KooKoo's own
            samples use others, so the builder takes any string and lint warns (KK113)
            about values outside them.
        also: strings the builder writes as given for a ``"bool"`` attribute because KooKoo's
            own samples send them (``record=""``); lint warns about them (KK113).
        deprecated: keyword names this attribute had before the unit naming rule; builders
            still accept them with a :class:`DeprecationWarning`.
    """

    keyword: str
    xml: str
    kind: AttrKind
    doc: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    unit: str | None = None
    default: str | None = None
    true_text: str = "true"
    false_text: str = "false"
    confidence: Confidence = "C"
    open: bool = False
    also: tuple[str, ...] = ()
    deprecated: tuple[str, ...] = ()

    def describe_allowed(self) -> str:
        """Say in words which values this attribute accepts (used in error messages)."""
        if self.kind == "choice":
            known = ", ".join(repr(c) for c in self.choices)
            return f"a string; known values {known}" if self.open else f"one of {known}"
        if self.kind == "bool":
            also = "".join(f" or {value!r}" for value in self.also)
            return f"True or False (written {self.true_text!r}/{self.false_text!r}){also}"
        if self.kind == "int":
            unit = f" {self.unit}" if self.unit else ""
            if self.minimum is not None and self.maximum is not None:
                return f"a whole number from {self.minimum} to {self.maximum}{unit}"
            if self.minimum is not None:
                return f"a whole number >= {self.minimum}{unit}"
            return f"a whole number{unit}"
        if self.kind == "url":
            return "an absolute URL"
        return "a string"


TextKind = Literal["none", "text", "url", "number", "name"]


@dataclass(frozen=True, slots=True)
class ElementSpec:
    """One KooKoo element.

    Attributes:
        tag: canonical tag name (what kookoo emits).
        method: name of the builder method that adds it.
        text: what the element's text content is: ``"none"`` (empty element), ``"text"``
            (words to speak or send), ``"url"``, ``"number"`` (a phone number / room) or
            ``"name"`` (a file or queue name).
        text_keyword: the builder's positional parameter name for the text.
        text_required: whether an element without text is an error.
        attrs: the attributes, in the order kookoo writes them.
        children: canonical tags of allowed child elements (prompts inside ``collectdtmf``).
        event: the event KooKoo sends next once this element has run, or ``None``.
        waits_for: what KooKoo waits for once it reaches this element (the call does not go
            on until it happens), or ``None`` for elements it plays and moves past.
        aliases: other spellings the parser accepts (compared case-insensitively).
        doc: one sentence on what it does.
        confidence: how sure we are of the element.
    """

    tag: str
    method: str
    text: TextKind
    doc: str
    text_keyword: str = "text"
    text_required: bool = False
    attrs: tuple[AttrSpec, ...] = ()
    children: tuple[str, ...] = ()
    event: str | None = None
    waits_for: WaitingFor | None = None
    aliases: tuple[str, ...] = ()
    confidence: Confidence = "C"
    attr_by_keyword: Mapping[str, AttrSpec] = field(init=False, repr=False, compare=False)
    attr_by_xml: Mapping[str, AttrSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Derived lookups, built once; the tuple above stays the single source.
        object.__setattr__(self, "attr_by_keyword", {a.keyword: a for a in self.attrs})
        object.__setattr__(self, "attr_by_xml", {a.xml: a for a in self.attrs})


#: Languages for ``playtext``: KooKoo's legacy codes and the BCP-47 codes used since 2019.
#: The values are those of the typed ``Literal`` in :mod:`kookoo.protocol.lang`, written there once.
PLAYTEXT_LANGUAGES: tuple[str, ...] = get_args(PlayTextLanguage)
#: Languages for ``say-as`` (PHP library's list, plus VoIP Drupal's ``ML``/``TN`` variants).
SAY_AS_LANGUAGES: tuple[str, ...] = get_args(SayAsLanguage)
#: Say-As format codes (see :class:`kookoo.protocol.lang.SayAsFormat` for their names).
SAY_AS_FORMATS: tuple[str, ...] = tuple(str(f.value) for f in SayAsFormat)
#: Languages for ``recognize``.
RECOGNIZE_LANGUAGES: tuple[str, ...] = get_args(RecognizeLanguage)
DIAL_MOH = ("default", "ring", "normal")

_PROMPTS = ("playtext", "playaudio")

ELEMENTS: tuple[ElementSpec, ...] = (
    ElementSpec(
        tag="response",
        method="Response",
        text="none",
        doc="The root of every KooKoo reply.",
        attrs=(
            AttrSpec("sid", "sid", "str", "Session id, usually the request's sid echoed back."),
            AttrSpec(
                "filler",
                "filler",
                "bool",
                "Play hold music while KooKoo waits for the app's next answer.",
                true_text="yes",
                false_text="no",
            ),
        ),
        children=(
            "playtext",
            "say-as",
            "playaudio",
            "collectdtmf",
            "record",
            "dial",
            "conference",
            "hangup",
            "gotourl",
            "sendsms",
            "playdtmf-i",
            "recognize",
            "stream",
            "start-record",
            "cctransfer",
            "context",
        ),
    ),
    ElementSpec(
        tag="playtext",
        method="play_text",
        text="text",
        doc="Speak text with text-to-speech (KooKoo's own demo sends an empty one: lint warns).",
        attrs=(
            AttrSpec("lang", "lang", "choice", "TTS language.", PLAYTEXT_LANGUAGES, default="EN"),
            AttrSpec(
                "speed",
                "speed",
                "int",
                "Voice rate, 1 slow to 9 fast.",
                minimum=1,
                maximum=9,
                default="2",
            ),
            AttrSpec(
                "quality", "quality", "choice", "TTS quality.", ("best", "normal"), default="best"
            ),
            AttrSpec(
                "engine",
                "type",
                "choice",
                "TTS engine or voice: 'ggl' (Google), 'polly' (AWS), or a voice name such as "
                "'Aditi' (Ozonetel's recognize sample).",
                ("ggl", "polly", "Aditi"),
                confidence="U",
                open=True,
            ),
        ),
    ),
    ElementSpec(
        tag="say-as",
        method="say_as",
        text="text",
        text_keyword="value",
        text_required=True,
        aliases=("sayas",),
        doc="Speak a value (number, date, amount, digits) in a format.",
        attrs=(
            AttrSpec(
                "format", "format", "choice", "Say-As format code.", SAY_AS_FORMATS, default="501"
            ),
            AttrSpec("lang", "lang", "choice", "Language of the spoken value.", SAY_AS_LANGUAGES),
        ),
    ),
    ElementSpec(
        tag="playaudio",
        method="play_audio",
        text="url",
        text_keyword="url",
        text_required=True,
        doc="Play an audio file from an absolute URL (WAV 8 kHz 16-bit mono PCM, or MP3).",
    ),
    ElementSpec(
        tag="collectdtmf",
        method="collect_dtmf",
        text="none",
        event="GotDTMF",
        waits_for="digits",
        children=_PROMPTS,
        doc="Collect digits from the caller; KooKoo then sends GotDTMF.",
        attrs=(
            AttrSpec("max_digits", "l", "int", "Stop after this many digits.", minimum=1),
            AttrSpec("terminator", "t", "choice", "Key that ends input.", ("#", "*")),
            AttrSpec(
                "timeout_ms",
                "o",
                "int",
                "Give up after this long without input.",
                minimum=0,
                unit="ms",
                default="4000",
            ),
        ),
    ),
    ElementSpec(
        tag="record",
        method="record",
        text="name",
        text_keyword="filename",
        text_required=True,
        event="Record",
        waits_for="recording",
        doc="Record the caller; KooKoo then sends Record with the file's URL.",
        attrs=(
            AttrSpec("format", "format", "choice", "File format.", ("wav", "mp3"), default="wav"),
            AttrSpec(
                "silence_seconds",
                "silence",
                "int",
                "Stop after this much silence.",
                minimum=1,
                unit="s",
                default="4",
            ),
            AttrSpec(
                "max_seconds",
                "maxduration",
                "int",
                "Longest recording.",
                minimum=1,
                unit="s",
                default="60",
            ),
            AttrSpec(
                "terminator",
                "termchar",
                "choice",
                "Key that stops recording.",
                ("#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
                default="#",
            ),
            AttrSpec(
                "option",
                "option",
                "choice",
                "'k' keeps recording after hangup (removed 2016).",
                ("k",),
            ),
        ),
    ),
    ElementSpec(
        tag="dial",
        method="dial",
        text="number",
        text_keyword="number",
        text_required=True,
        event="Dial",
        waits_for="dial",
        doc="Connect the caller to another number; KooKoo then sends Dial. Paid accounts only.",
        attrs=(
            AttrSpec("record", "record", "bool", "Record the bridged call.", default="false"),
            AttrSpec(
                "limit_seconds",
                "limittime",
                "int",
                "Longest talk time after answer.",
                minimum=1,
                unit="s",
                default="1000",
            ),
            AttrSpec(
                "timeout_seconds",
                "timeout",
                "int",
                "Ring timeout; seconds in Ozonetel's samples (30), ms in a PHP comment.",
                minimum=0,
                unit="s",
                confidence="U",
                deprecated=("timeout",),
            ),
            AttrSpec("moh", "moh", "choice", "What the caller hears while ringing.", DIAL_MOH),
            AttrSpec(
                "prompt_to_called_number",
                "promptToCalledNumber",
                "str",
                "Audio URL played to the called party before bridging, or 'no'.",
                default="no",
            ),
            AttrSpec("caller_id", "caller_id", "str", "Caller id shown; a DID of the account."),
            AttrSpec(
                "transfer_allowed_by_caller",
                "transfer_allowed_by_caller",
                "bool",
                "Let the caller transfer.",
                confidence="U",
            ),
            AttrSpec(
                "callback_on_answered",
                "callback_onanswered",
                "url",
                "URL KooKoo calls when the dialled party answers.",
                confidence="U",
            ),
        ),
    ),
    ElementSpec(
        tag="conference",
        method="conference",
        text="number",
        text_keyword="room",
        text_required=True,
        event="Conference",
        waits_for="conference",
        doc="Join the caller to a conference room; Conference is sent when they leave with #.",
        attrs=(
            AttrSpec("caller_id", "caller_id", "str", "Caller id shown.", default=""),
            AttrSpec("record", "record", "bool", "Record the conference.", default="true"),
            AttrSpec(
                "timeout_seconds",
                "timeout",
                "int",
                "Timeout, -1 for none (unit uncertain: the PHP comment copied from dial says ms).",
                minimum=-1,
                unit="s",
                default="-1",
                confidence="U",
                deprecated=("timeout",),
            ),
            AttrSpec("version", "version", "str", "Unknown; KooKoo's default is 1.", default="1"),
            AttrSpec(
                "caller_onhold_music",
                "caller_onhold_music",
                "str",
                "Hold music ('default').",
            ),
        ),
    ),
    ElementSpec(
        tag="hangup",
        method="hangup",
        text="none",
        event="Disconnect",
        doc="End the call; KooKoo then sends Disconnect (its reply is ignored).",
    ),
    ElementSpec(
        tag="gotourl",
        method="goto_url",
        text="url",
        text_keyword="url",
        text_required=True,
        doc="Send KooKoo's next request(s) to another absolute URL.",
        attrs=(
            AttrSpec(
                "clean_params",
                "clean_params",
                "bool",
                "Seen once in a 2026 voice bot.",
                confidence="U",
            ),
        ),
    ),
    ElementSpec(
        tag="sendsms",
        method="send_sms",
        text="text",
        text_required=True,
        doc="Send an SMS during the call (SMS-enabled accounts).",
        attrs=(
            AttrSpec("to", "to", "str", "Destination number (10 digits or 91 + 10 digits)."),
            AttrSpec(
                "unicode",
                "unicode",
                "bool",
                "Send as Unicode (value format uncertain).",
                confidence="U",
            ),
        ),
    ),
    ElementSpec(
        tag="playdtmf-i",
        method="play_dtmf",
        text="none",
        aliases=("playtdtmf-i",),
        doc="Emitted by KooKoo's PHP library's playdtmf(); semantics undocumented.",
        confidence="U",
    ),
    ElementSpec(
        tag="recognize",
        method="recognize",
        text="none",
        event="Recognize",
        waits_for="speech",
        doc="Speech recognition; KooKoo then sends Recognize with the text.",
        attrs=(
            AttrSpec("engine", "type", "choice", "Recogniser.", ("zena", "ggl-stream", "indybol")),
            AttrSpec(
                "timeout_seconds",
                "timeout",
                "int",
                "Timeout (its values look like seconds; a PHP comment says ms).",
                minimum=0,
                unit="s",
                default="5",
                confidence="U",
                deprecated=("timeout",),
            ),
            AttrSpec(
                "silence_seconds",
                "silence",
                "int",
                "Silence that ends speech.",
                minimum=0,
                unit="s",
                default="10",
                confidence="U",
                deprecated=("silence",),
            ),
            AttrSpec("lang", "lang", "choice", "Language.", RECOGNIZE_LANGUAGES, default="en"),
            AttrSpec("length", "length", "int", "Max digits for digit grammars.", minimum=1),
            AttrSpec(
                "grammar",
                "grammar",
                "str",
                "Grammar name.",
                (
                    "digits",
                    "yesno",
                    "qa",
                    "recogmo",
                    "-1",
                    "intuit",
                    "number",
                    "number1_to_99",
                    "time",
                    "currency",
                    "boolean",
                    "date",
                ),
                default="digits",
            ),
            AttrSpec("success_file", "success_file", "url", "Audio played once speech is heard."),
            AttrSpec(
                "complete_silence_seconds",
                "complete_silence",
                "int",
                "Silence after speech.",
                minimum=0,
                unit="s",
                default="2",
                confidence="U",
                deprecated=("complete_silence",),
            ),
            AttrSpec("moh", "moh", "str", "Music on hold while recognising."),
            AttrSpec("moh_url", "moh_url", "url", "URL of that music."),
        ),
    ),
    ElementSpec(
        tag="stream",
        method="stream",
        text="number",
        text_keyword="number",
        text_required=True,
        event="Stream",
        waits_for="stream",
        confidence="O",
        doc="Stream the call's audio over a WebSocket (voice bots); Stream is sent when it ends.",
        attrs=(
            AttrSpec("is_sip", "is_sip", "bool", "The text is a SIP number.", confidence="O"),
            AttrSpec("url", "url", "url", "ws:// or wss:// endpoint.", confidence="O"),
            AttrSpec(
                "uui", "x-uui", "str", "JSON passed to the socket as x_headers.", confidence="O"
            ),
            AttrSpec("moh", "moh", "str", "Hold audio ('silence').", ("silence",), confidence="O"),
            AttrSpec("record", "record", "bool", "Record the streamed call.", confidence="O"),
        ),
    ),
    ElementSpec(
        tag="start-record",
        method="start_record",
        text="none",
        confidence="O",
        doc="Start recording the whole call.",
    ),
    ElementSpec(
        tag="cctransfer",
        method="cc_transfer",
        text="name",
        text_keyword="queue",
        text_required=True,
        waits_for="transfer",
        confidence="O",
        doc="Transfer to a CloudAgent contact-centre campaign or queue.",
        attrs=(
            AttrSpec(
                "record",
                "record",
                "bool",
                "Record the transfer ('' as in the voice-bot samples: meaning unknown).",
                confidence="O",
                also=("",),
            ),
            AttrSpec("moh", "moh", "str", "Music on hold.", confidence="O"),
            AttrSpec(
                "caller_onhold_music", "caller_onhold_music", "str", "Hold music.", confidence="O"
            ),
            AttrSpec("uui", "uui", "str", "User-to-user information.", confidence="O"),
            AttrSpec(
                "timeout_seconds",
                "timeout",
                "int",
                "Ring timeout (seconds assumed).",
                minimum=0,
                unit="s",
                confidence="U",
            ),
            AttrSpec(
                "ring_type", "ringType", "str", "Ring type ('ring').", ("ring",), confidence="O"
            ),
        ),
    ),
    ElementSpec(
        tag="context",
        method="context",
        text="text",
        confidence="U",
        doc="Emitted by KooKoo's Java library's addContext(); semantics undocumented.",
    ),
)

#: Canonical tag -> spec.
BY_TAG: Mapping[str, ElementSpec] = {e.tag: e for e in ELEMENTS}
#: Lower-cased spelling (canonical or alias) -> spec; the parser's lookup.
BY_SPELLING: Mapping[str, ElementSpec] = {
    **{e.tag.lower(): e for e in ELEMENTS},
    **{a.lower(): e for e in ELEMENTS for a in e.aliases},
}
#: Tags after which KooKoo sends a new request with a result.
EVENT_TAGS: frozenset[str] = frozenset(e.tag for e in ELEMENTS if e.event is not None)
#: Tag -> what KooKoo waits for once it reaches it (from :attr:`ElementSpec.waits_for`).
WAITS_FOR: Mapping[str, WaitingFor] = MappingProxyType(
    {e.tag: e.waits_for for e in ELEMENTS if e.waits_for is not None}
)
#: What KooKoo was waiting for -> the ``process`` it reports on ``Hangup`` when the caller hangs
#: up then.  KooKoo names the element (``collectdtmf``, ``record``, ``dial``, ``stream`` are
#: observed, protocol.md §3.1); the same is assumed for the others.
HANGUP_PROCESS: Mapping[WaitingFor, str] = MappingProxyType(
    {waiting: tag for tag, waiting in WAITS_FOR.items()}
)


def default_of(tag: str, keyword: str) -> str | None:
    """KooKoo's own default for an attribute (by canonical tag and builder keyword), as written
    on the wire, or ``None`` when KooKoo documents none.

    >>> default_of("record", "max_seconds")
    '60'
    """
    return BY_TAG[tag].attr_by_keyword[keyword].default


#: How long ``<collectdtmf>`` waits for keys when ``o`` is not given (KooKoo's PHP library).
DEFAULT_DTMF_TIMEOUT_MS: int = int(default_of("collectdtmf", "timeout_ms") or 0)
#: The caller (``cid``) the simulator and ``kookoo call`` use unless told otherwise: a
#: 0-prefixed national mobile number, one of the shapes KooKoo sends.
DEFAULT_CALLER = "09876543210"
#: The DID (``called_number``) they use unless told otherwise: 91 and ten digits, as KooKoo
#: sends it.
DEFAULT_CALLED_NUMBER = "918065740671"


def lookup(tag: str) -> ElementSpec | None:
    """Find an element by any accepted spelling (case-insensitive), or ``None`` if unknown.

    >>> lookup("Say-As").tag
    'say-as'
    """
    return BY_SPELLING.get(tag.lower())
