"""Builders, serialisation and the safe parser of :mod:`kookoo.xml.response`."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

import kookoo
from kookoo.protocol.lang import SayAsFormat
from kookoo.protocol.schema import BY_TAG, ELEMENTS, AttrSpec, ElementSpec, lookup
from kookoo.xml.parser import MAX_RESPONSE_BYTES, parse_response, parse_tree
from kookoo.xml.response import (
    CollectDtmf,
    Node,
    Response,
    ResponseParseError,
    XMLValueError,
)

VECTORS = Path(__file__).parent / "data" / "responses"
DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"

# -- golden XML -------------------------------------------------------------------------------

Build = Callable[[], Response]

GOLDEN: list[tuple[str, Build, bytes]] = [
    # response
    ("response-empty", lambda: Response(), b"<response/>"),
    ("response-sid", lambda: Response(sid="12345"), b'<response sid="12345"/>'),
    ("response-filler-yes", lambda: Response(filler=True), b'<response filler="yes"/>'),
    ("response-filler-no", lambda: Response(filler=False), b'<response filler="no"/>'),
    (
        "response-all-reversed",
        lambda: Response(filler=True, sid="abc"),
        b'<response sid="abc" filler="yes"/>',
    ),
    # playtext
    (
        "playtext",
        lambda: Response().play_text("Hello World"),
        b"<response><playtext>Hello World</playtext></response>",
    ),
    (
        "playtext-lang",
        lambda: Response().play_text("Hi", lang="EN"),
        b'<response><playtext lang="EN">Hi</playtext></response>',
    ),
    (
        "playtext-lang-bcp47",
        lambda: Response().play_text("Hi", lang="ta-IN"),
        b'<response><playtext lang="ta-IN">Hi</playtext></response>',
    ),
    (
        "playtext-speed",
        lambda: Response().play_text("Hi", speed=9),
        b'<response><playtext speed="9">Hi</playtext></response>',
    ),
    (
        "playtext-quality",
        lambda: Response().play_text("Hi", quality="normal"),
        b'<response><playtext quality="normal">Hi</playtext></response>',
    ),
    (
        "playtext-engine",
        lambda: Response().play_text("Hi", engine="ggl"),
        b'<response><playtext type="ggl">Hi</playtext></response>',
    ),
    (
        "playtext-all-reversed",
        lambda: Response().play_text("Hi", engine="polly", quality="best", speed=1, lang="hi-IN"),
        b'<response><playtext lang="hi-IN" speed="1" quality="best" type="polly">Hi</playtext>'
        b"</response>",
    ),
    # say-as
    (
        "say-as-format",
        lambda: Response().say_as("123ABC", format=SayAsFormat.DIGITS),
        b'<response><say-as format="501">123ABC</say-as></response>',
    ),
    (
        "say-as-all-reversed",
        lambda: Response().say_as(5000, lang="EN", format="currency"),
        b'<response><say-as format="401" lang="EN">5000</say-as></response>',
    ),
    (
        "say-as-code",
        lambda: Response().say_as(1234, format=1, lang="HI"),
        b'<response><say-as format="1" lang="HI">1234</say-as></response>',
    ),
    (
        "say-as-date",
        lambda: Response().say_as(dt.date(2011, 7, 21), format="date_full"),
        b'<response><say-as format="201">20110721</say-as></response>',
    ),
    (
        "say-as-decimal",
        lambda: Response().say_as(Decimal("10000"), format=402, lang="TA"),
        b'<response><say-as format="402" lang="TA">10000.00</say-as></response>',
    ),
    # playaudio
    (
        "playaudio",
        lambda: Response().play_audio("http://www.ozonetel.com/test.wav"),
        b"<response><playaudio>http://www.ozonetel.com/test.wav</playaudio></response>",
    ),
    # collectdtmf
    (
        "collectdtmf-empty",
        lambda: _collect(Response()),
        b"<response><collectdtmf/></response>",
    ),
    (
        "collectdtmf-max-digits",
        lambda: _collect(Response(), max_digits=4),
        b'<response><collectdtmf l="4"/></response>',
    ),
    (
        "collectdtmf-terminator",
        lambda: _collect(Response(), terminator="*"),
        b'<response><collectdtmf t="*"/></response>',
    ),
    (
        "collectdtmf-timeout",
        lambda: _collect(Response(), timeout_ms=5000),
        b'<response><collectdtmf o="5000"/></response>',
    ),
    (
        "collectdtmf-all-reversed-with-prompts",
        lambda: _pin_menu(),
        b'<response sid="12345"><collectdtmf l="4" t="#" o="5000">'
        b"<playtext>Please enter your pin number</playtext>"
        b"<playaudio>http://example.com/beep.wav</playaudio>"
        b"</collectdtmf></response>",
    ),
    # record
    (
        "record",
        lambda: Response().record("msg-1"),
        b"<response><record>msg-1</record></response>",
    ),
    (
        "record-format",
        lambda: Response().record("msg-1", format="mp3"),
        b'<response><record format="mp3">msg-1</record></response>',
    ),
    (
        "record-silence",
        lambda: Response().record("msg-1", silence_seconds=4),
        b'<response><record silence="4">msg-1</record></response>',
    ),
    (
        "record-maxduration",
        lambda: Response().record("msg-1", max_seconds=60),
        b'<response><record maxduration="60">msg-1</record></response>',
    ),
    (
        "record-termchar",
        lambda: Response().record("msg-1", terminator="9"),
        b'<response><record termchar="9">msg-1</record></response>',
    ),
    (
        "record-option",
        lambda: Response().record("msg-1", option="k"),
        b'<response><record option="k">msg-1</record></response>',
    ),
    (
        "record-all-reversed",
        lambda: Response().record(
            "msg-1", option="k", terminator="#", max_seconds=120, silence_seconds=2, format="wav"
        ),
        b'<response><record format="wav" silence="2" maxduration="120" termchar="#" option="k">'
        b"msg-1</record></response>",
    ),
    # dial
    (
        "dial",
        lambda: Response().dial("09876543210"),
        b"<response><dial>09876543210</dial></response>",
    ),
    (
        "dial-record",
        lambda: Response().dial("1", record=True),
        b'<response><dial record="true">1</dial></response>',
    ),
    (
        "dial-record-false",
        lambda: Response().dial("1", record=False),
        b'<response><dial record="false">1</dial></response>',
    ),
    (
        "dial-limittime",
        lambda: Response().dial("1", limit_seconds=3600),
        b'<response><dial limittime="3600">1</dial></response>',
    ),
    (
        "dial-timeout",
        lambda: Response().dial("1", timeout_seconds=30),
        b'<response><dial timeout="30">1</dial></response>',
    ),
    (
        "dial-moh",
        lambda: Response().dial("1", moh="ring"),
        b'<response><dial moh="ring">1</dial></response>',
    ),
    (
        "dial-prompt",
        lambda: Response().dial("1", prompt_to_called_number="http://x.in/a.wav"),
        b'<response><dial promptToCalledNumber="http://x.in/a.wav">1</dial></response>',
    ),
    (
        "dial-caller-id",
        lambda: Response().dial("1", caller_id="918040000000"),
        b'<response><dial caller_id="918040000000">1</dial></response>',
    ),
    (
        "dial-transfer",
        lambda: Response().dial("1", transfer_allowed_by_caller=True),
        b'<response><dial transfer_allowed_by_caller="true">1</dial></response>',
    ),
    (
        "dial-callback",
        lambda: Response().dial("1", callback_on_answered="https://x.in/cb"),
        b'<response><dial callback_onanswered="https://x.in/cb">1</dial></response>',
    ),
    (
        "dial-all-reversed",
        lambda: Response().dial(
            "9XXXXXX",
            callback_on_answered="https://x.in/cb",
            transfer_allowed_by_caller=False,
            caller_id="9180XXXXXX",
            prompt_to_called_number="no",
            moh="default",
            timeout_seconds=30,
            limit_seconds=1000,
            record=True,
        ),
        b'<response><dial record="true" limittime="1000" timeout="30" moh="default" '
        b'promptToCalledNumber="no" caller_id="9180XXXXXX" transfer_allowed_by_caller="false" '
        b'callback_onanswered="https://x.in/cb">9XXXXXX</dial></response>',
    ),
    # conference
    (
        "conference",
        lambda: Response().conference("1234"),
        b"<response><conference>1234</conference></response>",
    ),
    (
        "conference-caller-id",
        lambda: Response().conference("7", caller_id="918040000000"),
        b'<response><conference caller_id="918040000000">7</conference></response>',
    ),
    (
        "conference-record",
        lambda: Response().conference("7", record=False),
        b'<response><conference record="false">7</conference></response>',
    ),
    (
        "conference-timeout",
        lambda: Response().conference("7", timeout_seconds=-1),
        b'<response><conference timeout="-1">7</conference></response>',
    ),
    (
        "conference-version",
        lambda: Response().conference("7", version="1"),
        b'<response><conference version="1">7</conference></response>',
    ),
    (
        "conference-hold-music",
        lambda: Response().conference("7", caller_onhold_music="default"),
        b'<response><conference caller_onhold_music="default">7</conference></response>',
    ),
    (
        "conference-all-reversed",
        lambda: Response().conference(
            "7",
            caller_onhold_music="default",
            version="2",
            timeout_seconds=60,
            record=True,
            caller_id="1",
        ),
        b'<response><conference caller_id="1" record="true" timeout="60" version="2" '
        b'caller_onhold_music="default">7</conference></response>',
    ),
    # hangup
    ("hangup", lambda: Response().hangup(), b"<response><hangup/></response>"),
    # gotourl
    (
        "gotourl",
        lambda: Response().goto_url("http://example.com/ivr?a=1&b=2"),
        b"<response><gotourl>http://example.com/ivr?a=1&amp;b=2</gotourl></response>",
    ),
    (
        "gotourl-clean-params",
        lambda: Response().goto_url("http://example.com/", clean_params=False),
        b'<response><gotourl clean_params="false">http://example.com/</gotourl></response>',
    ),
    # sendsms
    (
        "sendsms",
        lambda: Response().send_sms("Your OTP is 1234"),
        b"<response><sendsms>Your OTP is 1234</sendsms></response>",
    ),
    (
        "sendsms-to",
        lambda: Response().send_sms("Hi", to="919999999999"),
        b'<response><sendsms to="919999999999">Hi</sendsms></response>',
    ),
    (
        "sendsms-unicode",
        lambda: Response().send_sms("Hi", unicode=True),
        b'<response><sendsms unicode="true">Hi</sendsms></response>',
    ),
    (
        "sendsms-all-reversed",
        lambda: Response().send_sms("Hi", unicode=False, to="9490607378"),
        b'<response><sendsms to="9490607378" unicode="false">Hi</sendsms></response>',
    ),
    # playdtmf-i
    ("playdtmf-i", lambda: Response().play_dtmf(), b"<response><playdtmf-i/></response>"),
    # recognize
    ("recognize", lambda: Response().recognize(), b"<response><recognize/></response>"),
    (
        "recognize-type",
        lambda: Response().recognize(engine="ggl-stream"),
        b'<response><recognize type="ggl-stream"/></response>',
    ),
    (
        "recognize-timeout",
        lambda: Response().recognize(timeout_seconds=5),
        b'<response><recognize timeout="5"/></response>',
    ),
    (
        "recognize-silence",
        lambda: Response().recognize(silence_seconds=3),
        b'<response><recognize silence="3"/></response>',
    ),
    (
        "recognize-lang",
        lambda: Response().recognize(lang="hi-IN"),
        b'<response><recognize lang="hi-IN"/></response>',
    ),
    (
        "recognize-length",
        lambda: Response().recognize(length=1),
        b'<response><recognize length="1"/></response>',
    ),
    (
        "recognize-grammar",
        lambda: Response().recognize(grammar="yesno"),
        b'<response><recognize grammar="yesno"/></response>',
    ),
    (
        "recognize-success-file",
        lambda: Response().recognize(success_file="http://x.in/wait.wav"),
        b'<response><recognize success_file="http://x.in/wait.wav"/></response>',
    ),
    (
        "recognize-complete-silence",
        lambda: Response().recognize(complete_silence_seconds=2),
        b'<response><recognize complete_silence="2"/></response>',
    ),
    (
        "recognize-moh",
        lambda: Response().recognize(moh="default"),
        b'<response><recognize moh="default"/></response>',
    ),
    (
        "recognize-moh-url",
        lambda: Response().recognize(moh_url="http://x.in/moh.wav"),
        b'<response><recognize moh_url="http://x.in/moh.wav"/></response>',
    ),
    (
        "recognize-all-reversed",
        lambda: Response().recognize(
            moh_url="http://x.in/m.wav",
            moh="yes",
            complete_silence_seconds=2,
            success_file="http://x.in/s.wav",
            grammar="digits",
            length=1,
            lang="en",
            silence_seconds=10,
            timeout_seconds=5,
            engine="zena",
        ),
        b'<response><recognize type="zena" timeout="5" silence="10" lang="en" length="1" '
        b'grammar="digits" success_file="http://x.in/s.wav" complete_silence="2" moh="yes" '
        b'moh_url="http://x.in/m.wav"/></response>',
    ),
    # stream
    (
        "stream",
        lambda: Response().stream("SIP_NUMBER"),
        b"<response><stream>SIP_NUMBER</stream></response>",
    ),
    (
        "stream-is-sip",
        lambda: Response().stream("1", is_sip=True),
        b'<response><stream is_sip="true">1</stream></response>',
    ),
    (
        "stream-url",
        lambda: Response().stream("1", url="wss://bot.example.com/ws"),
        b'<response><stream url="wss://bot.example.com/ws">1</stream></response>',
    ),
    (
        "stream-uui",
        lambda: Response().stream("1", uui='{"lang": "hi"}'),
        b'<response><stream x-uui="{&quot;lang&quot;: &quot;hi&quot;}">1</stream></response>',
    ),
    (
        "stream-moh",
        lambda: Response().stream("1", moh="silence"),
        b'<response><stream moh="silence">1</stream></response>',
    ),
    (
        "stream-record",
        lambda: Response().stream("1", record=False),
        b'<response><stream record="false">1</stream></response>',
    ),
    (
        "stream-all-reversed",
        lambda: Response().stream(
            "SIP", record=True, moh="silence", uui="{}", url="wss://b/ws", is_sip=True
        ),
        b'<response><stream is_sip="true" url="wss://b/ws" x-uui="{}" moh="silence" '
        b'record="true">SIP</stream></response>',
    ),
    # start-record
    ("start-record", lambda: Response().start_record(), b"<response><start-record/></response>"),
    # cctransfer
    (
        "cctransfer",
        lambda: Response().cc_transfer("general"),
        b"<response><cctransfer>general</cctransfer></response>",
    ),
    (
        "cctransfer-record",
        lambda: Response().cc_transfer("q", record=True),
        b'<response><cctransfer record="true">q</cctransfer></response>',
    ),
    (
        "cctransfer-moh",
        lambda: Response().cc_transfer("q", moh="default"),
        b'<response><cctransfer moh="default">q</cctransfer></response>',
    ),
    (
        "cctransfer-hold-music",
        lambda: Response().cc_transfer("q", caller_onhold_music="default"),
        b'<response><cctransfer caller_onhold_music="default">q</cctransfer></response>',
    ),
    (
        "cctransfer-uui",
        lambda: Response().cc_transfer("q", uui="abc"),
        b'<response><cctransfer uui="abc">q</cctransfer></response>',
    ),
    (
        "cctransfer-timeout",
        lambda: Response().cc_transfer("q", timeout_seconds=30),
        b'<response><cctransfer timeout="30">q</cctransfer></response>',
    ),
    (
        "cctransfer-ring-type",
        lambda: Response().cc_transfer("q", ring_type="ring"),
        b'<response><cctransfer ringType="ring">q</cctransfer></response>',
    ),
    (
        "cctransfer-all-reversed",
        lambda: Response().cc_transfer(
            "general",
            ring_type="ring",
            timeout_seconds=30,
            uui="u",
            caller_onhold_music="default",
            moh="m",
            record=False,
        ),
        b'<response><cctransfer record="false" moh="m" caller_onhold_music="default" uui="u" '
        b'timeout="30" ringType="ring">general</cctransfer></response>',
    ),
    # the escape hatch
    (
        "raw",
        lambda: Response().add_raw("context", "billing"),
        b"<response><context>billing</context></response>",
    ),
    (
        "raw-empty",
        lambda: Response().add_raw("start-stream"),
        b"<response><start-stream/></response>",
    ),
    (
        "raw-attrs",
        lambda: Response().add_raw("future", "x", {"data-id": "7"}, mode="fast", level="2"),
        b'<response><future data-id="7" mode="fast" level="2">x</future></response>',
    ),
    # a whole reply
    (
        "sequence",
        lambda: (
            Response(sid="SID")
            .play_text("You have entered ")
            .say_as(5000, format=SayAsFormat.CURRENCY, lang="EN")
            .send_sms("Your DD will be delivered", to="919999999999")
            .hangup()
        ),
        b'<response sid="SID"><playtext>You have entered </playtext>'
        b'<say-as format="401" lang="EN">5000</say-as>'
        b'<sendsms to="919999999999">Your DD will be delivered</sendsms><hangup/></response>',
    ),
]


def _collect(r: Response, **kwargs: Any) -> Response:
    r.collect_dtmf(**kwargs)
    return r


def _pin_menu() -> Response:
    r = Response(sid="12345")
    with r.collect_dtmf(timeout_ms=5000, terminator="#", max_digits=4) as menu:
        menu.play_text("Please enter your pin number")
        menu.play_audio("http://example.com/beep.wav")
    return r


@pytest.mark.parametrize(("build", "expected"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden_xml(build: Build, expected: bytes) -> None:
    r = build()
    assert r.to_xml() == DECL + expected
    assert str(r) == (DECL + expected).decode("utf-8")
    # The golden documents read back into equal builders, too.
    assert parse_response(r.to_xml()) == r


def test_golden_covers_every_element_and_attribute() -> None:
    written = b"".join(g[2] for g in GOLDEN)
    for spec in ELEMENTS:
        assert b"<" + spec.tag.encode() in written, spec.tag
        for attr in spec.attrs:
            pattern = rf'<{re.escape(spec.tag)}( [\w.-]+="[^"]*")* {re.escape(attr.xml)}="'
            assert re.search(pattern.encode(), written), (spec.tag, attr.xml)


def test_declaration_and_str() -> None:
    r = Response(sid="42").play_text("Hello").hangup()
    xml = r.to_xml()
    assert isinstance(xml, bytes)
    assert xml == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<response sid="42"><playtext>Hello</playtext><hangup/></response>'
    )
    assert str(r) == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<response sid="42"><playtext>Hello</playtext><hangup/></response>'
    )
    assert r.to_xml() == xml  # serialising twice changes nothing


def test_package_exports_the_builders() -> None:
    assert kookoo.Response is Response
    assert kookoo.CollectDtmf is CollectDtmf
    assert kookoo.parse_response is parse_response
    assert kookoo.ResponseParseError is ResponseParseError
    assert kookoo.XMLValueError is XMLValueError
    assert issubclass(XMLValueError, ValueError)
    assert issubclass(ResponseParseError, ValueError)


# -- falsy values, order, escaping, unicode -------------------------------------------------


def test_falsy_values_are_kept() -> None:
    r = Response(sid="", filler=False)
    r.collect_dtmf(timeout_ms=0)
    r.dial("1", caller_id="", timeout_seconds=0, record=False)
    r.conference("2", caller_id="", version="")
    r.recognize(timeout_seconds=0, silence_seconds=0, complete_silence_seconds=0, grammar="")
    assert r.to_xml() == DECL + (
        b'<response sid="" filler="no"><collectdtmf o="0"/>'
        b'<dial record="false" timeout="0" caller_id="">1</dial>'
        b'<conference caller_id="" version="">2</conference>'
        b'<recognize timeout="0" silence="0" grammar="" complete_silence="0"/></response>'
    )


def test_attribute_order_is_the_schema_order_whatever_the_keyword_order() -> None:
    a = Response().play_text("x", lang="EN", speed=2, quality="best", engine="ggl")
    b = Response().play_text("x", engine="ggl", quality="best", speed=2, lang="EN")
    c = Response().play_text("x", speed=2, engine="ggl", lang="EN", quality="best")
    expected = (
        DECL + b'<response><playtext lang="EN" speed="2" quality="best" type="ggl">x</playtext>'
        b"</response>"
    )
    assert a.to_xml() == b.to_xml() == c.to_xml() == expected


def test_text_escaping() -> None:
    r = Response().play_text("a & b < c > d \" e ' f")
    assert r.to_xml() == DECL + (
        b"<response><playtext>a &amp; b &lt; c &gt; d \" e ' f</playtext></response>"
    )


def test_attribute_escaping() -> None:
    r = Response(sid="<&>").dial("1", caller_id="\"x\" & <y> 'z'")
    assert r.to_xml() == DECL + (
        b'<response sid="&lt;&amp;&gt;">'
        b"<dial caller_id=\"&quot;x&quot; &amp; &lt;y&gt; 'z'\">1</dial></response>"
    )


def test_whitespace_in_attributes_survives_as_character_references() -> None:
    r = Response().dial("1", caller_id="a\tb\nc\rd")
    assert (
        r.to_xml() == DECL + b'<response><dial caller_id="a&#9;b&#10;c&#13;d">1</dial></response>'
    )
    assert parse_response(r.to_xml()).children[0].get("caller_id") == "a\tb\nc\rd"


def test_hindi_and_tamil_are_written_as_utf8() -> None:
    r = Response().play_text("नमस्ते", lang="hi-IN").play_text("வணக்கம்", lang="ta-IN")
    xml = r.to_xml()
    assert xml == DECL + (
        b'<response><playtext lang="hi-IN">'
        b"\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87"
        b'</playtext><playtext lang="ta-IN">'
        b"\xe0\xae\xb5\xe0\xae\xa3\xe0\xae\x95\xe0\xaf\x8d\xe0\xae\x95\xe0\xae\xae\xe0\xaf\x8d"
        b"</playtext></response>"
    )
    assert b"&#" not in xml  # real UTF-8, not character references
    assert str(r) == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<response><playtext lang="hi-IN">नमस्ते</playtext>'
        '<playtext lang="ta-IN">வணக்கம்</playtext></response>'
    )
    assert parse_response(xml) == r


def test_non_ascii_in_attributes_and_sms() -> None:
    r = Response(sid="सत्र").send_sms("आपका ओटीपी 1234 है", to="919999999999", unicode=True)
    assert (
        r.to_xml()
        == DECL
        + (
            '<response sid="सत्र"><sendsms to="919999999999" unicode="true">'
            "आपका ओटीपी 1234 है</sendsms></response>"
        ).encode()
    )


# -- values checked when set ------------------------------------------------------------------

CONTROL_CHARS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ufffe", "\uffff"]


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_control_characters_in_text_are_refused_naming_element_and_field(char: str) -> None:
    cases: list[tuple[Callable[[str], object], str]] = [
        (lambda v: Response().play_text(v), "playtext: text"),
        (lambda v: Response().play_audio(v), "playaudio: url"),
        (lambda v: Response().say_as(v, format="digits"), "say-as: value"),
        (lambda v: Response().record(v), "record: filename"),
        (lambda v: Response().dial(v), "dial: number"),
        (lambda v: Response().conference(v), "conference: room"),
        (lambda v: Response().goto_url(v), "gotourl: url"),
        (lambda v: Response().send_sms(v), "sendsms: text"),
        (lambda v: Response().stream(v), "stream: number"),
        (lambda v: Response().cc_transfer(v), "cctransfer: queue"),
        (lambda v: Response().collect_dtmf().play_text(v), "playtext: text"),
        (lambda v: Response().add_raw("context", v), "context: text"),
    ]
    for add, where in cases:
        with pytest.raises(XMLValueError) as info:
            add(f"ab{char}c")
        assert str(info.value) == (
            f"{where} contains U+{ord(char):04X} at index 2, a control character XML cannot carry"
        )


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_control_characters_in_attributes_are_refused_naming_element_and_attribute(
    char: str,
) -> None:
    cases: list[tuple[Callable[[str], object], str]] = [
        (lambda v: Response(sid=v), "response: attribute sid"),
        (lambda v: Response().dial("1", caller_id=v), "dial: attribute caller_id"),
        (lambda v: Response().send_sms("x", to=v), "sendsms: attribute to"),
        (lambda v: Response().stream("1", uui=v), "stream: attribute x-uui"),
        (lambda v: Response().recognize(success_file=v), "recognize: attribute success_file"),
        (lambda v: Response().add_raw("x", foo=v), "x: attribute foo"),
        (lambda v: Response().add_raw("x", attrs={"data-v": v}), "x: attribute data-v"),
    ]
    for add, where in cases:
        with pytest.raises(XMLValueError) as info:
            add(f"{char}")
        assert str(info.value) == (
            f"{where} contains U+{ord(char):04X} at index 0, a control character XML cannot carry"
        )


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(XMLValueError, match=r"playtext: text contains U\+D800 at index 1"):
        Response().play_text("a\ud800")


def test_tab_newline_and_carriage_return_are_allowed() -> None:
    r = Response().play_text("a\tb\nc\rd")
    assert r.to_xml() == DECL + b"<response><playtext>a\tb\nc&#13;d</playtext></response>"
    assert parse_response(r.to_xml()) == r


def test_a_refused_value_leaves_the_reply_unchanged() -> None:
    r = Response().play_text("ok")
    before = r.to_xml()
    with pytest.raises(XMLValueError):
        r.play_text("bad\x00")
    with pytest.raises(XMLValueError):
        r.dial("1", caller_id="\x00")
    with pytest.raises(XMLValueError):
        r.play_text("x", speed=10)
    with pytest.raises(TypeError):
        r.play_text(42)  # type: ignore[arg-type]
    with pytest.raises(XMLValueError):
        r.record("")
    with pytest.raises(XMLValueError):
        r.add_raw("x", "\x00")
    assert r.to_xml() == before
    assert len(r.children) == 1


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (
            lambda: Response().play_text("x", speed=0),
            "playtext: speed=0 is out of range; expected a whole number from 1 to 9",
        ),
        (
            lambda: Response().play_text("x", speed=10),
            "playtext: speed=10 is out of range; expected a whole number from 1 to 9",
        ),
        (
            lambda: Response().collect_dtmf(max_digits=0),
            "collectdtmf: max_digits=0 is out of range; expected a whole number >= 1",
        ),
        (
            lambda: Response().collect_dtmf(timeout_ms=-1),
            "collectdtmf: timeout_ms=-1 is out of range; expected a whole number >= 0 ms",
        ),
        (
            lambda: Response().record("f", silence_seconds=0),
            "record: silence_seconds=0 is out of range; expected a whole number >= 1 s",
        ),
        (
            lambda: Response().conference("1", timeout_seconds=-2),
            "conference: timeout_seconds=-2 is out of range; expected a whole number >= -1 s",
        ),
        (
            lambda: Response().play_text("x", lang="fr-FR"),  # type: ignore[arg-type]
            "playtext: lang='fr-FR' is not allowed; expected one of 'EN', 'HI', 'TE', 'KA', "
            "'en-IN', 'hi-IN', 'te-IN', 'ta-IN', 'ml-IN', 'kn-IN', 'mr-IN', 'gu-IN', 'bn-IN'",
        ),
        (
            lambda: Response().collect_dtmf(terminator="0"),  # type: ignore[arg-type]
            "collectdtmf: terminator='0' is not allowed; expected one of '#', '*'",
        ),
        (
            lambda: Response().dial("1", moh="jazz"),  # type: ignore[arg-type]
            "dial: moh='jazz' is not allowed; expected one of 'default', 'ring', 'normal'",
        ),
        (
            lambda: Response().say_as(1, format=1, lang="en"),  # type: ignore[arg-type]
            "say-as: lang='en' is not allowed; expected one of 'EN', 'HI', 'KA', 'MA', 'TE', "
            "'TA', 'GUJ', 'BN', 'MR', 'ORI', 'ML', 'TN'",
        ),
        (
            lambda: Response().say_as(1, format=999),
            "say-as: format must be one of 1 (number), 201 (date_full), 202 (date_medium), "
            "204 (date_short), 222 (date_222), 401 (currency), 402 (currency_decimal), "
            "501 (digits); got 999",
        ),
        (
            lambda: Response().say_as(dt.date(2024, 1, 2), format="currency"),
            "say-as: a date needs a date format, not currency",
        ),
        (lambda: Response().dial(""), "dial: number must not be empty"),
    ],
)
def test_bad_values_raise_naming_element_attribute_value_and_allowed(
    add: Callable[[], object], message: str
) -> None:
    with pytest.raises(XMLValueError) as info:
        add()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (
            lambda: Response().play_text("x", speed="3"),  # type: ignore[arg-type]
            "playtext: speed must be a whole number from 1 to 9; got str '3'",
        ),
        (
            lambda: Response().play_text("x", speed=2.0),  # type: ignore[arg-type]
            "playtext: speed must be a whole number from 1 to 9; got float 2.0",
        ),
        (
            lambda: Response().play_text("x", speed=True),
            "playtext: speed must be a whole number from 1 to 9; got bool True",
        ),
        (
            lambda: Response().collect_dtmf(timeout_ms="5000"),  # type: ignore[arg-type]
            "collectdtmf: timeout_ms must be a whole number >= 0 ms; got str '5000'",
        ),
        (
            lambda: Response().dial("1", record="true"),  # type: ignore[arg-type]
            "dial: record must be True or False (written 'true'/'false'); got str 'true'",
        ),
        (
            lambda: Response(filler=1),  # type: ignore[arg-type]
            "response: filler must be True or False (written 'yes'/'no'); got int 1",
        ),
        (
            lambda: Response().play_text("x", quality=1),  # type: ignore[arg-type]
            "playtext: quality must be one of 'best', 'normal'; got int 1",
        ),
        (lambda: Response(sid=12345), "response: sid must be a string; got int 12345"),  # type: ignore[arg-type]
        (
            lambda: Response().dial("1", callback_on_answered=b"http://x"),  # type: ignore[arg-type]
            "dial: callback_on_answered must be an absolute URL; got bytes b'http://x'",
        ),
        (lambda: Response().play_text(42), "playtext: text must be a str; got int"),  # type: ignore[arg-type]
        (lambda: Response().dial(9876543210), "dial: number must be a str; got int"),  # type: ignore[arg-type]
        (
            lambda: Response().say_as(1.5, format="number"),  # type: ignore[arg-type]
            "say-as: value must be str, int, Decimal or date; got float",
        ),
        (lambda: Response().add_raw("x", 5), "x: text must be a str; got int"),  # type: ignore[arg-type]
        (lambda: Response().add_raw("x", a=5), "x: attribute a must be a str; got 5"),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_raise_type_error(add: Callable[[], object], message: str) -> None:
    with pytest.raises(TypeError) as info:
        add()
    assert str(info.value) == message


def test_unknown_keywords_are_type_errors() -> None:
    r = Response()
    with pytest.raises(TypeError, match="unexpected keyword argument 'volume'"):
        r.play_text("x", volume=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'l'"):
        r.collect_dtmf(l=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'limittime'"):
        r.dial("1", limittime=30)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'session'"):
        Response(session="1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Response("1")  # type: ignore[call-arg]  # sid is keyword-only
    with pytest.raises(TypeError):
        r.play_text("x", "EN")  # type: ignore[call-arg]  # attributes are keyword-only
    with pytest.raises(TypeError):
        r.hangup("now")  # type: ignore[call-arg]
    assert r.children == []


def test_wrong_nesting_cannot_be_expressed() -> None:
    menu = Response().collect_dtmf()
    for method in ("collect_dtmf", "hangup", "dial", "record", "say_as", "add_raw", "goto_url"):
        assert not hasattr(menu, method), method
    with pytest.raises(AttributeError):
        menu.hangup()  # type: ignore[attr-defined]


# -- chaining, collect_dtmf, say_as, add_raw ------------------------------------------------


def test_methods_chain_on_the_container() -> None:
    r = Response()
    assert r.play_text("a") is r
    assert r.play_audio("http://x/a.wav") is r
    assert r.say_as(1, format=1) is r
    assert r.record("f") is r
    assert r.dial("1") is r
    assert r.conference("1") is r
    assert r.hangup() is r
    assert r.goto_url("http://x/") is r
    assert r.send_sms("x") is r
    assert r.play_dtmf() is r
    assert r.recognize() is r
    assert r.stream("1") is r
    assert r.start_record() is r
    assert r.cc_transfer("q") is r
    assert r.add_raw("x") is r
    menu = r.collect_dtmf()
    assert isinstance(menu, CollectDtmf)
    assert menu.play_text("a") is menu
    assert menu.play_audio("http://x/a.wav") is menu
    # Nodes are views on one tree: the menu is the reply's last child, and stays in step.
    assert r.children[-1] == menu
    menu.play_text("b")
    assert r.children[-1].children[-1].text == "b"
    assert len(r.children) == 16


def test_collect_dtmf_with_and_without_with() -> None:
    a = Response(sid="1")
    with a.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
        assert isinstance(menu, CollectDtmf)
        menu.play_text("Press 1 for English").play_text("हिंदी के लिए 2 दबाएं", lang="hi-IN")
    a.hangup()

    b = Response(sid="1")
    b.collect_dtmf(max_digits=1, timeout_ms=5000).play_text("Press 1 for English").play_text(
        "हिंदी के लिए 2 दबाएं", lang="hi-IN"
    )
    b.hangup()

    assert a == b
    assert (
        a.to_xml()
        == b.to_xml()
        == DECL
        + (
            '<response sid="1"><collectdtmf l="1" o="5000"><playtext>Press 1 for English</playtext>'
            '<playtext lang="hi-IN">हिंदी के लिए 2 दबाएं</playtext></collectdtmf><hangup/></response>'
        ).encode()
    )
    assert [c.tag for c in a.children] == ["collectdtmf", "hangup"]
    assert [c.tag for c in a.children[0].children] == ["playtext", "playtext"]


def test_collect_dtmf_block_does_not_swallow_exceptions() -> None:
    r = Response()

    def fill_menu() -> None:
        with r.collect_dtmf() as menu:
            menu.play_text("x")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fill_menu()
    assert len(r.children[0].children) == 1


def test_prompts_can_be_added_to_a_menu_after_later_elements() -> None:
    r = Response()
    menu = r.collect_dtmf(max_digits=1)
    r.play_text("after")
    menu.play_text("inside")
    assert r.to_xml() == DECL + (
        b'<response><collectdtmf l="1"><playtext>inside</playtext></collectdtmf>'
        b"<playtext>after</playtext></response>"
    )


@pytest.mark.parametrize(
    ("value", "fmt", "wire_value", "wire_format"),
    [
        (5000, SayAsFormat.CURRENCY, "5000", "401"),
        (5000, 401, "5000", "401"),
        (5000, "currency", "5000", "401"),
        (5000, "CURRENCY", "5000", "401"),
        ("123ABC", "digits", "123ABC", "501"),
        ("123ABC", SayAsFormat.DIGITS, "123ABC", "501"),
        (1234, "number", "1234", "1"),
        (dt.date(2011, 7, 21), SayAsFormat.DATE_FULL, "20110721", "201"),
        (dt.date(2011, 7, 21), "date_medium", "20110721", "202"),
        (dt.date(2011, 7, 21), 204, "20110721", "204"),
        (dt.date(2012, 12, 27), SayAsFormat.DATE_222, "20121227", "222"),
        (Decimal("10000"), SayAsFormat.CURRENCY_DECIMAL, "10000.00", "402"),
        (Decimal("99.5"), "currency_decimal", "99.50", "402"),
        (Decimal("53.75"), "currency", "53.75", "401"),
    ],
)
def test_say_as_values_and_formats(
    value: str | int | Decimal | dt.date, fmt: Any, wire_value: str, wire_format: str
) -> None:
    r = Response().say_as(value, format=fmt)
    node = r.children[0]
    assert node.tag == "say-as"
    assert node.text == wire_value
    assert node.attrs == {"format": wire_format}
    assert r.to_xml() == DECL + (
        f'<response><say-as format="{wire_format}">{wire_value}</say-as></response>'.encode()
    )


def test_say_as_needs_a_format() -> None:
    with pytest.raises(TypeError, match="format"):
        Response().say_as(5000)  # type: ignore[call-arg]


@pytest.mark.parametrize("fmt", [True, 4.0, None])
def test_say_as_format_of_the_wrong_type(fmt: object) -> None:
    with pytest.raises((TypeError, XMLValueError), match="say-as: format must be one of"):
        Response().say_as(1, format=fmt)  # type: ignore[arg-type]


def test_add_raw_escapes_and_keeps_attribute_order() -> None:
    r = Response().add_raw("survey", "a&b<c>", {"data-x": 'q"uote', "b": "2"}, a="'1'", z="&")
    assert r.to_xml() == DECL + (
        b'<response><survey data-x="q&quot;uote" b="2" a="\'1\'" z="&amp;">a&amp;b&lt;c&gt;'
        b"</survey></response>"
    )
    node = r.children[0]
    assert node.spec is None
    assert node.event is None
    assert node.attrs == {"data-x": 'q"uote', "b": "2", "a": "'1'", "z": "&"}
    assert node.text == "a&b<c>"
    assert parse_response(r.to_xml()) == r


@pytest.mark.parametrize(
    "tag", ["", "1abc", "a b", "a:b", "<x>", "x>", "play text", "tag\n", "-x", "ä", "a/b"]
)
def test_add_raw_refuses_invalid_tag_names(tag: str) -> None:
    r = Response()
    with pytest.raises(XMLValueError) as info:
        r.add_raw(tag)
    assert str(info.value) == f"add_raw: {tag!r} is not a valid XML tag name"
    assert r.children == []
    assert r.to_xml() == DECL + b"<response/>"


@pytest.mark.parametrize("name", ["", "1a", "a b", "a:b", "a\n", "a=b"])
def test_add_raw_refuses_invalid_attribute_names(name: str) -> None:
    with pytest.raises(XMLValueError) as info:
        Response().add_raw("x", attrs={name: "v"})
    assert str(info.value) == f"x: {name!r} is not a valid XML attribute name"


def test_add_raw_refuses_xmlns() -> None:
    # lxml would write it as a namespace declaration and the element would change its name.
    with pytest.raises(XMLValueError, match="x: 'xmlns' is reserved for namespaces"):
        Response().add_raw("x", xmlns="urn:x")


def test_add_raw_of_a_known_tag_reads_back_as_that_element() -> None:
    r = Response().add_raw("hangup")
    assert r.children[0].spec is BY_TAG["hangup"]  # a known tag is that element, however added
    parsed = parse_response(r.to_xml())
    assert parsed == r == Response().hangup()
    assert parsed.children[0].spec is BY_TAG["hangup"]


# -- nodes and equality -----------------------------------------------------------------------


def test_node_accessors() -> None:
    r = Response(sid="7")
    r.collect_dtmf(max_digits=4, terminator="#", timeout_ms=0).play_text("pin")
    r.dial("1", limit_seconds=60)
    menu, dial = r.children
    assert isinstance(menu, CollectDtmf)
    assert type(dial) is Node
    assert r.tag == "response"
    assert r.sid == "7"
    assert r.get("sid") == "7"
    assert r.spec is BY_TAG["response"]
    assert menu.get("max_digits") == menu.get("l") == "4"
    assert menu.get_int("timeout_ms") == 0
    assert menu.get("terminator") == "#"
    assert menu.get_int("terminator") is None
    assert menu.get("nope") is None
    assert menu.get_int("nope") is None
    assert menu.attrs == {"l": "4", "t": "#", "o": "0"}
    assert menu.text == ""
    assert menu.event == "GotDTMF"
    assert dial.event == "Dial"
    assert dial.get_int("limit_seconds") == 60
    assert r.event is None
    assert r.event_nodes == [menu, dial]
    assert [n.tag for n in r.iter()] == ["response", "collectdtmf", "playtext", "dial"]
    assert menu.sourceline is None
    assert Response().sid is None
    # attrs is a copy: changing it does not change the element
    menu.attrs["l"] = "9"
    assert menu.get("l") == "4"


def test_repr() -> None:
    r = Response(sid="1").play_text("Hi", lang="EN").hangup()
    assert repr(r) == (
        "Response('response', sid='1', children=[Node('playtext', text='Hi', lang='EN'), "
        "Node('hangup')])"
    )


def test_equality() -> None:
    def build() -> Response:
        r = Response(sid="1")
        r.collect_dtmf(max_digits=4).play_text("pin")
        return r.hangup()

    assert build() == build()
    assert Response() == Response()
    assert Response(sid="1") != Response(sid="2")
    assert Response(sid="") != Response()
    assert Response().play_text("a") != Response().play_text("b")
    assert Response().play_text("a") != Response().play_text("a", lang="EN")
    assert Response().play_text("a").hangup() != Response().hangup().play_text("a")
    assert Response().collect_dtmf(max_digits=1).play_text("a") != Response().collect_dtmf(
        max_digits=1
    ).play_audio("a")
    other = build()
    other.children[0].children[0]  # same structure...
    other.play_text("more")  # ...until something is added
    assert build() != other
    # Attribute order is not part of equality; only names and values are.
    parsed = parse_response(b'<response><dial moh="ring" record="true">1</dial></response>')
    assert parsed == Response().dial("1", record=True, moh="ring")
    # Not equal to things that are not nodes, and not hashable (they are mutable).
    assert Response() != "<response/>"
    assert Response().__eq__(object()) is NotImplemented
    assert Response() != Response().collect_dtmf()
    with pytest.raises(TypeError):
        hash(Response())


# -- parsing: the vectors ---------------------------------------------------------------------


def _vector_files() -> list[Path]:
    return sorted(VECTORS.glob("*.xml"))


def test_the_vectors_are_there() -> None:
    assert len(_vector_files()) == 21


# What each vector means, written with the builders: an expectation independent of the parser.
# (Vectors 01, 02, 07, 10, 20, 22, 23, 25 and 31 have tests of their own below.)
def _menu(sid: str, max_digits: int, timeout_ms: int, prompt: str, **opts: Any) -> Response:
    reply = Response(sid=sid)
    reply.collect_dtmf(max_digits=max_digits, timeout_ms=timeout_ms, **opts).play_text(prompt)
    return reply


_VECTOR_MEANINGS: dict[str, Callable[[], Response]] = {
    "03": lambda: Response().play_text("Hello World", quality="best", engine="ggl"),
    "04": lambda: Response().say_as("123ABC", format=501, lang="EN"),
    "06": lambda: Response().play_audio("http://www.ozonetel.com/test.wav"),
    "09": lambda: Response().hangup(),
    "11": lambda: Response().dial("04034653456"),
    "13": lambda: _menu("xyz", 1, 3000, "How do you feel today? Press 1 for good, 2 for bad."),
    "14": lambda: Response(sid="xyz").hangup(),
    "15": lambda: (
        Response(sid="xyz").play_text("This is just a reminder to take your meds.").hangup()
    ),
    "17": lambda: Response().play_text("Thank you").hangup(),
    "18": lambda: Response().play_text("Welcome to Thought Works phone banking services!"),
    "27": lambda: (
        Response()
        .play_text(
            "Thank you for calling. Goodbye.", lang="en-IN", speed=3, quality="best", engine="ggl"
        )
        .hangup()
    ),
    "28": lambda: _menu(
        "123",
        4,
        5000,
        "Welcome to Makaan. INDIA's number 1 real estate platform. Press 1 for Buy , "
        "Press 2 for rent",
        terminator="#",
    ),
}


@pytest.mark.parametrize("number", sorted(_VECTOR_MEANINGS))
def test_vector_reads_as_the_reply_it_is(number: str) -> None:
    (path,) = VECTORS.glob(f"{number}-*.xml")
    assert parse_response(path.read_bytes()) == _VECTOR_MEANINGS[number]()


@pytest.mark.parametrize("path", _vector_files(), ids=lambda p: p.name)
def test_every_vector_parses_and_round_trips(path: Path) -> None:
    data = path.read_bytes()
    r = parse_response(data)
    assert isinstance(r, Response)
    assert r.children, "every vector has at least one element"
    for node in r.iter():
        if node is not r:
            assert node.spec is not None, f"{path.name}: <{node.tag}> is not a known element"
    again = parse_response(r.to_xml())
    assert again == r
    assert again.to_xml() == r.to_xml()
    assert parse_response(str(r)) == r
    assert parse_response(data.decode("utf-8")) == r


def _vector(name: str) -> Response:
    (path,) = VECTORS.glob(f"{name}-*.xml")
    return parse_response(path.read_bytes())


def test_vector_01_capital_response_root() -> None:
    r = _vector("01")
    assert r == Response().play_text("Hello World")
    assert r.tag == "response"
    assert r.to_xml() == DECL + b"<response><playtext>Hello World</playtext></response>"


def test_vector_02_sid() -> None:
    assert _vector("02") == Response(sid="12345").play_text("Hello World")


def test_vector_07_nested_prompt_keeps_its_text() -> None:
    expected = Response(sid="12345")
    expected.collect_dtmf(max_digits=4, terminator="#", timeout_ms=5000).play_text(
        "Please enter your pin number\n"
    )
    r = _vector("07")
    assert r == expected
    assert isinstance(r.children[0], CollectDtmf)
    assert r.children[0].sourceline == 3


def test_vector_10_empty_playtext_is_kept() -> None:
    r = _vector("10")
    assert [(c.tag, c.text) for c in r.children] == [("playtext", ""), ("dial", "9xxxxxxxx")]


def test_vector_20_say_as_sms_and_hangup() -> None:
    r = _vector("20")
    assert r.sid == "SID"
    assert [c.tag for c in r.children] == ["playtext", "say-as", "playtext", "sendsms", "hangup"]
    say_as = r.children[1]
    assert say_as.attrs == {"format": "401", "lang": "EN"}
    assert say_as.text == "5000"
    sms = r.children[3]
    assert sms.get("to") == "919999999999"
    assert sms.text.startswith("Your DD will be delivered in three working days.")
    assert sms.text.endswith("Thank you\n  ")
    assert r.children[-1].tag == "hangup"
    assert r.children[-1].text == ""
    assert r.event_nodes == [r.children[-1]]
    assert r.children[0].text == "You have entered "


def test_vector_22_gotourl_ampersands_are_unescaped() -> None:
    r = _vector("22")
    assert [c.tag for c in r.children] == ["playtext", "collectdtmf", "gotourl"]
    menu = r.children[1]
    assert menu.attrs == {"l": "1", "t": "*", "o": "5000"}
    assert menu.children == []
    assert menu.text == ""
    assert r.children[2].text == (
        "http://localhost:7080/motech/kookoo/ivr?provider=kookoo&ln=en&tree=someTree&trP=Lw"
    )
    assert b"provider=kookoo&amp;ln=en&amp;tree=someTree&amp;trP=Lw" in r.to_xml()


def test_vector_23_dial_attributes() -> None:
    r = _vector("23")
    assert r == Response().dial(
        "9XXXXXX",
        record=True,
        limit_seconds=1000,
        timeout_seconds=30,
        moh="default",
        prompt_to_called_number="no",
        caller_id="9180XXXXXX",
    )


def test_vector_25_stream() -> None:
    r = _vector("25")
    assert r == Response().start_record().stream(
        "SIP_NUMBER", is_sip=True, url="wss://yourserver.com/ws", uui="{call_params_json}"
    )


def test_vector_31_fragment_is_read_as_if_inside_response() -> None:
    r = _vector("31")
    assert r.attrs == {}
    assert r == Response().dial(
        "9123456789",
        transfer_allowed_by_caller=True,
        callback_on_answered="https://...",
        moh="default",
        record=True,
    )


def test_malformed_vector_reports_line_and_column() -> None:
    data = (VECTORS / "malformed" / "php-demo-collectdtmf-doc-comment.txt").read_bytes()
    with pytest.raises(ResponseParseError) as info:
        parse_response(data)
    error = info.value
    assert error.line == 4
    assert error.column is not None
    assert error.column > 0
    assert str(error).startswith(f"line 4, column {error.column}: ")
    assert "line 4" not in str(error)[len("line 4") :]  # lxml's own position is not repeated


def test_error_lines_are_those_of_the_input() -> None:
    # The declaration is dropped from str input and whitespace before it is tolerated; neither
    # may shift the line and column an error points at.
    data = (VECTORS / "malformed" / "php-demo-collectdtmf-doc-comment.txt").read_bytes()
    with pytest.raises(ResponseParseError) as from_bytes:
        parse_response(data)
    position = (from_bytes.value.line, from_bytes.value.column)
    assert position[0] is not None
    for variant in (data.decode(), "\ufeff" + data.decode()):
        with pytest.raises(ResponseParseError) as from_str:
            parse_response(variant)
        assert (from_str.value.line, from_str.value.column) == position
    for prefixed in (b"\n\n" + data, "\n\n" + data.decode()):
        with pytest.raises(ResponseParseError) as shifted:
            parse_response(prefixed)
        assert (shifted.value.line, shifted.value.column) == (position[0] + 2, position[1])
    with pytest.raises(ResponseParseError) as info:
        parse_response("\n\n<response>\n<playtext>")
    assert info.value.line == 4
    with pytest.raises(ResponseParseError) as info:
        parse_response("  <?xml version='1.0'?><response><a></response>")
    assert (info.value.line, info.value.column) == (1, 48)
    r = parse_response("\n<?xml version='1.0' encoding='UTF-8'?>\n<response>\n<hangup/></response>")
    assert r.sourceline == 3
    assert r.children[0].sourceline == 4


def test_whitespace_before_a_foreign_encoding_declaration() -> None:
    xml = (
        '\n <?xml version="1.0" encoding="ISO-8859-1"?>'
        "<response><playtext>café</playtext></response>"
    )
    assert parse_response(xml.encode("latin-1")) == Response().play_text("café")


# -- parsing: the spellings real apps write ---------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<Response><PlayText>Hi</PlayText></Response>", lambda: Response().play_text("Hi")),
        ("<RESPONSE><playText>Hi</playText></RESPONSE>", lambda: Response().play_text("Hi")),
        (
            '<Response><CollectDtmf l="1"><PlayText>x</PlayText><PlayAudio>u</PlayAudio>'
            "</CollectDtmf></Response>",
            lambda: _with_menu(),
        ),
        (
            '<response><Say-As format="401" lang="EN">5</Say-As></response>',
            lambda: Response().say_as(5, format=401, lang="EN"),
        ),
        (
            '<response><say-as format="401">5</say-as></response>',
            lambda: Response().say_as(5, format=401),
        ),
        (
            '<response><SayAs format="1">5</SayAs></response>',
            lambda: Response().say_as(5, format=1),
        ),
        (
            "<response><GoToUrl>http://x/</GoToUrl></response>",
            lambda: Response().goto_url("http://x/"),
        ),
        (
            "<response><Gotourl>http://x/</Gotourl></response>",
            lambda: Response().goto_url("http://x/"),
        ),
        (
            '<Response><Recognize type="zena"/></Response>',
            lambda: Response().recognize(engine="zena"),
        ),
        ("<Response><Hangup/></Response>", lambda: Response().hangup()),
        ("<response><hangup></hangup></response>", lambda: Response().hangup()),
        ("<response><hangup /></response>", lambda: Response().hangup()),
        ("<response><hangup>\n  </hangup></response>", lambda: Response().hangup()),
        ("<response><playtdtmf-i/></response>", lambda: Response().play_dtmf()),
        ("<response><Start-Record/></response>", lambda: Response().start_record()),
        (
            "<response><SendSms to='1'>m</SendSms></response>",
            lambda: Response().send_sms("m", to="1"),
        ),
        (
            "<response sid='a' filler='yes'><playtext lang='EN'>x</playtext></response>",
            lambda: Response(sid="a", filler=True).play_text("x", lang="EN"),
        ),
        (
            "<response>\n  <playtext>x</playtext>\n  <hangup/>\n</response>\n",
            lambda: Response().play_text("x").hangup(),
        ),
        ("<response/>", lambda: Response()),
        ("<response></response>", lambda: Response()),
    ],
)
def test_spelling_variants(xml: str, expected: Build) -> None:
    parsed = parse_response(xml.encode())
    assert parsed == expected()
    assert parse_response(xml) == expected()
    # Re-serialised in the canonical spelling.
    assert parsed.to_xml() == expected().to_xml()


def _with_menu() -> Response:
    r = Response()
    r.collect_dtmf(max_digits=1).play_text("x").play_audio("u")
    return r


def test_canonical_tags_after_parsing() -> None:
    r = parse_response(
        b"<Response><Say-As format='1'>1</Say-As><CollectDtmf><PlayText>a</PlayText>"
        b"</CollectDtmf></Response>"
    )
    assert [n.tag for n in r.iter()] == ["response", "say-as", "collectdtmf", "playtext"]
    assert r.to_xml() == DECL + (
        b'<response><say-as format="1">1</say-as><collectdtmf><playtext>a</playtext>'
        b"</collectdtmf></response>"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"<response><hangup/></response>",
        b'<?xml version="1.0" encoding="UTF-8"?><response><hangup/></response>',
        b"<?xml version='1.0'?>\n<response><hangup/></response>",
        b'\n   <?xml version="1.0" encoding="UTF-8"?>\n<response><hangup/></response>',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?><response><hangup/></response>',
        b"\xef\xbb\xbf<response><hangup/></response>",
        b"\r\n\t<response>\r\n<hangup/>\r\n</response>\r\n",
        b"<!-- generated --><response><!-- bye --><hangup/></response><!-- end -->",
        b"<?php-ish pi?><response><?pi x?><hangup/></response>",
        '<?xml version="1.0" encoding="UTF-16"?><response><hangup/></response>'.encode("utf-16"),
    ],
)
def test_declarations_whitespace_bom_and_comments(data: bytes) -> None:
    assert parse_response(data) == Response().hangup()


def test_comment_inside_text_is_dropped_and_the_text_joined() -> None:
    r = parse_response(b"<response><playtext>Hello <!-- name -->World</playtext></response>")
    assert r == Response().play_text("Hello World")


def test_cdata_is_text() -> None:
    r = parse_response(b"<response><sendsms><![CDATA[a & b <c>]]></sendsms></response>")
    assert r == Response().send_sms("a & b <c>")


def test_character_references_and_unicode_text() -> None:
    r = parse_response(
        "<response><playtext>&#2344;&#x92E;स्ते &amp; &lt;&gt;&quot;&apos;</playtext></response>"
    )
    assert r.children[0].text == "नमस्ते & <>\"'"


def test_str_input_with_a_foreign_encoding_declaration() -> None:
    xml = (
        "<?xml version='1.0' encoding='ISO-8859-1'?>\n"
        "<response><playtext>नमस्ते café</playtext></response>"
    )
    assert parse_response(xml) == Response().play_text("नमस्ते café")
    assert parse_response("  " + xml) == Response().play_text("नमस्ते café")


def test_bytes_in_a_declared_foreign_encoding() -> None:
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><response><playtext>café</playtext></response>'
    )
    assert parse_response(xml.encode("latin-1")) == Response().play_text("café")


@pytest.mark.parametrize("data", [bytearray(b"<response/>"), memoryview(b"<response/>"), None, 5])
def test_input_must_be_bytes_or_str(data: object) -> None:
    with pytest.raises(TypeError, match="parse_response\\(\\) takes bytes or str, not "):
        parse_response(data)  # type: ignore[arg-type]


def test_unknown_elements_are_kept_with_attributes_and_children() -> None:
    r = parse_response(
        b'<response><survey id="7" mode="x">billing</survey>'
        b'<future a="1"><part b="2">inner</part><playtext>known</playtext></future>'
        b"<Say>not kookoo</Say><hangup/></response>"
    )
    assert [c.tag for c in r.children] == ["survey", "future", "Say", "hangup"]
    context, future, say, hangup = r.children
    assert context.spec is None
    assert context.attrs == {"id": "7", "mode": "x"}
    assert context.text == "billing"
    assert future.attrs == {"a": "1"}
    assert [(c.tag, c.attrs, c.text) for c in future.children] == [
        ("part", {"b": "2"}, "inner"),
        ("playtext", {}, "known"),
    ]
    assert future.children[1].spec is BY_TAG["playtext"]
    assert say.spec is None
    assert say.text == "not kookoo"
    assert hangup.spec is BY_TAG["hangup"]
    assert r.to_xml() == DECL + (
        b'<response><survey id="7" mode="x">billing</survey>'
        b'<future a="1"><part b="2">inner</part><playtext>known</playtext></future>'
        b"<Say>not kookoo</Say><hangup/></response>"
    )
    assert parse_response(r.to_xml()) == r


def test_unknown_attributes_on_known_elements_are_kept() -> None:
    r = parse_response(b'<response><playtext voice="Aditi" speed="x">Hi</playtext></response>')
    node = r.children[0]
    assert node.attrs == {"voice": "Aditi", "speed": "x"}
    assert node.get_int("speed") is None
    assert parse_response(r.to_xml()) == r


def test_parsed_nodes_know_their_source_lines() -> None:
    r = parse_response(b"<response>\n<playtext>a</playtext>\n\n<hangup/>\n</response>")
    assert r.sourceline == 1
    assert [c.sourceline for c in r.children] == [2, 4]


def test_a_root_kookoo_does_not_know_is_refused() -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_response(b"<html>\n<body/></html>")
    assert str(info.value) == (
        "line 1, column 1: the root element is <html>; KooKoo XML starts with <response>"
    )


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"<response>\n<playtext>x</playtext>\n<hangup>\n</response>", 4),
        (b"<response>\n<playtext>x</PlayText>\n</response>", 2),
        (b'<response sid="1>\n</response>', 2),
        (b"<response>\n<playtext>a & b</playtext>\n</response>", 2),
        (b"<response>\n\n<dial l=8>1</dial></response>", 3),
        (b"<response/>\n<response/>", 2),
        (b"<response><playtext>&lol;</playtext></response>", 1),
        (b"<response>\n<x>\x00</x></response>", 2),
        (b"<response><playtext>\xff\xfe</playtext></response>", 1),
        (b"<response>", 1),
    ],
)
def test_malformed_xml_gives_line_and_column(data: bytes, line: int) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_response(data)
    assert info.value.line == line
    assert isinstance(info.value.column, int)
    assert str(info.value).startswith(f"line {line}, column {info.value.column}: ")


@pytest.mark.parametrize("data", [b"", b"   \n  ", "", "\ufeff", b"\xef\xbb\xbf"])
def test_an_empty_document_is_an_error(data: bytes | str) -> None:
    with pytest.raises(ResponseParseError, match="line 1, column 1: document is empty"):
        parse_response(data)


# -- parsing: hostile input -------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<response><playtext>&lol9;</playtext></response>"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_response(BILLION_LAUGHS)
    assert str(info.value) == "line 2, column 1: DOCTYPE declarations are not allowed in KooKoo XML"
    with pytest.raises(ResponseParseError, match="DOCTYPE declarations are not allowed"):
        parse_response(BILLION_LAUGHS.encode())


def test_billion_laughs_in_utf16_is_refused_without_expansion() -> None:
    # UTF-16 hides "<!DOCTYPE" from a byte search; the parser itself must still refuse it
    # (libxml2's amplification guard or kookoo's DOCTYPE check, whichever comes first).
    data = BILLION_LAUGHS.replace('"1.0"', '"1.0" encoding="UTF-16"').encode("utf-16")
    with pytest.raises(ResponseParseError, match=r"DOCTYPE|entity"):
        parse_response(data)
    small = data.replace("&lol9;".encode("utf-16-le"), "&lol1;".encode("utf-16-le"))
    with pytest.raises(ResponseParseError, match="DOCTYPE declarations are not allowed"):
        parse_response(small)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    # Not well-formed as a DTD or as text: if the parser ever read it, parsing would fail with
    # an error about the external subset instead of refusing the DOCTYPE.
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET <<< not a dtd &&&\n")
    return path


def _external_entity_documents(target: str) -> Iterator[str]:
    yield (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]>\n'
        "<response><playtext>&x;</playtext></response>"
    )
    yield f'<?xml version="1.0"?>\n<!DOCTYPE response SYSTEM "{target}">\n<response/>'
    yield (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM "{target}"> %p;]>\n<response/>'
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-32"])
def test_external_entities_are_not_read(secret_file: Path, encoding: str) -> None:
    for target in (secret_file.as_uri(), "file:///etc/passwd"):
        for document in _external_entity_documents(target):
            if encoding != "utf-8":
                document = document.replace('"1.0"', f'"1.0" encoding="{encoding.upper()}"')
            with pytest.raises(ResponseParseError) as info:
                parse_response(document.encode(encoding))
            message = str(info.value)
            assert "DOCTYPE declarations are not allowed in KooKoo XML" in message
            assert "SECRET" not in message
            assert "root:" not in message


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock
    sock.close()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_no_network_access(listener: socket.socket, encoding: str) -> None:
    port = listener.getsockname()[1]
    for document in _external_entity_documents(f"http://127.0.0.1:{port}/evil.dtd"):
        if encoding != "utf-8":
            document = document.replace('"1.0"', f'"1.0" encoding="{encoding.upper()}"')
        with pytest.raises(ResponseParseError, match="DOCTYPE"):
            parse_response(document.encode(encoding))
    xinclude = (
        '<response xmlns:xi="http://www.w3.org/2001/XInclude">'
        f'<xi:include href="http://127.0.0.1:{port}/x.xml" parse="text"/></response>'
    )
    r = parse_response(xinclude)
    assert r.children[0].tag == "{http://www.w3.org/2001/XInclude}include"  # kept, not run
    with pytest.raises(TimeoutError):
        listener.accept()


def test_size_limit() -> None:
    doc = b"<response><playtext>" + b"a" * 100 + b"</playtext></response>"
    assert parse_response(doc, max_bytes=len(doc)) == Response().play_text("a" * 100)
    with pytest.raises(ResponseParseError) as info:
        parse_response(doc, max_bytes=len(doc) - 1)
    assert str(info.value) == f"document is {len(doc)} bytes; the limit is {len(doc) - 1}"
    with pytest.raises(ResponseParseError, match="the limit is 10"):
        parse_response("<response>नमस्ते</response>", max_bytes=10)  # counted in UTF-8 bytes


def test_default_size_limit() -> None:
    assert MAX_RESPONSE_BYTES == 1_000_000
    big = b"<response><playtext>" + b"a" * MAX_RESPONSE_BYTES + b"</playtext></response>"
    with pytest.raises(ResponseParseError, match=f"the limit is {MAX_RESPONSE_BYTES}"):
        parse_response(big)


def test_parse_tree_returns_the_lxml_root() -> None:
    root = parse_tree(b"<Response><PlayText>x</PlayText></Response>")
    assert isinstance(root, etree._Element)
    assert root.tag == "Response"
    with pytest.raises(ResponseParseError):
        parse_tree(b"<a>")


# -- round trip property ----------------------------------------------------------------------

_XML_TEXT = st.characters(
    codec="utf-8",  # no lone surrogates
    exclude_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff",
)
_SPECIAL = st.sampled_from(["&", "<", ">", '"', "'", "&amp;", "]]>", " ", "\n", "नमस्ते", "வணக்கம்"])
_TEXT = st.lists(st.one_of(_XML_TEXT, _SPECIAL), max_size=8).map("".join)
_NONEMPTY_TEXT = st.lists(st.one_of(_XML_TEXT, _SPECIAL), min_size=1, max_size=8).map("".join)
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9._\-]{0,8}", fullmatch=True)


def _value(attr: AttrSpec) -> st.SearchStrategy[object]:
    if attr.kind == "int":
        low = attr.minimum if attr.minimum is not None else -(10**6)
        high = attr.maximum if attr.maximum is not None else 10**9
        return st.integers(low, high)
    if attr.kind == "bool":
        return st.booleans()
    if attr.kind == "choice":
        return st.sampled_from(attr.choices)
    return _TEXT


def _kwargs(spec: ElementSpec) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {}, optional={a.keyword: _value(a) for a in spec.attrs if a.keyword != "format"}
    )


Step = Callable[[Response], object]


@st.composite
def _steps(draw: st.DrawFn) -> Step:
    options = [e for e in ELEMENTS if e.tag != "response"] + [None]
    spec = draw(st.sampled_from(options))
    if spec is None:  # the escape hatch
        tag = draw(_NAME.filter(lambda t: lookup(t) is None))
        attrs = draw(st.dictionaries(_NAME.filter(lambda n: n != "xmlns"), _TEXT, max_size=3))
        text = draw(_TEXT)
        return lambda r: r.add_raw(tag, text, attrs)
    kwargs = draw(_kwargs(spec))
    if spec.tag == "say-as":
        kwargs["format"] = draw(
            st.one_of(
                st.sampled_from(list(SayAsFormat)),
                st.sampled_from([int(f) for f in SayAsFormat]),
                st.sampled_from([f.name.lower() for f in SayAsFormat]),
            )
        )
        value = draw(
            st.one_of(
                _NONEMPTY_TEXT, st.integers(), st.decimals(allow_nan=False, allow_infinity=False)
            )
        )
        return lambda r: r.say_as(value, **kwargs)  # type: ignore[arg-type]
    if spec.tag == "collectdtmf":
        prompts = draw(
            st.lists(
                st.one_of(
                    st.tuples(st.just("play_text"), _NONEMPTY_TEXT, _kwargs(BY_TAG["playtext"])),
                    st.tuples(st.just("play_audio"), _NONEMPTY_TEXT, st.just({})),
                ),
                max_size=3,
            )
        )

        def collect(r: Response) -> None:
            with r.collect_dtmf(**kwargs) as menu:  # type: ignore[arg-type]
                for method, text, more in prompts:
                    getattr(menu, method)(text, **more)

        return collect
    method = getattr(Response, spec.method)
    if spec.text == "none":
        return lambda r: method(r, **kwargs)
    text = draw(_NONEMPTY_TEXT if spec.text_required else _TEXT)
    return lambda r: method(r, text, **kwargs)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    root = draw(_kwargs(BY_TAG["response"]))
    r = Response(**root)  # type: ignore[arg-type]
    for step in draw(st.lists(_steps(), max_size=6)):
        step(r)
    return r


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(responses())
def test_round_trip(r: Response) -> None:
    xml = r.to_xml()
    parsed = parse_response(xml)
    assert parsed == r
    assert parse_response(str(r)) == r
    assert parsed.to_xml() == xml


def test_a_lone_surrogate_in_a_str_is_a_parse_error() -> None:
    with pytest.raises(ResponseParseError, match="holds U\\+D800 at index 20"):
        parse_response("<response><playtext>\ud800</playtext></response>")


class _Key(str):
    """A str subclass: refused like every other non-str value, on the fast path too."""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_digits": 1, "terminator": "#", "timeout_ms": 5000},
        {"max_digits": 10**30, "timeout_ms": 0},
        {"terminator": "*"},
        {},
    ],
)
def test_collect_dtmf_writes_what_the_general_builder_writes(kwargs: dict[str, Any]) -> None:
    # collect_dtmf checks its attributes inline; the general path (_add) is the reference.
    fast = Response()
    fast.collect_dtmf(**kwargs)
    general = Response()
    values = tuple(kwargs.get(a.keyword) for a in BY_TAG["collectdtmf"].attrs)
    general._add(BY_TAG["collectdtmf"], None, values)
    assert fast.to_xml() == general.to_xml()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_digits": True}, TypeError, "collectdtmf: max_digits must be a whole number >= 1"),
        ({"max_digits": "4"}, TypeError, "collectdtmf: max_digits must be a whole number >= 1"),
        ({"timeout_ms": 1.5}, TypeError, "collectdtmf: timeout_ms must be a whole number >= 0"),
        ({"terminator": 3}, TypeError, "collectdtmf: terminator must be one of '#', '*'"),
        ({"terminator": _Key("#")}, TypeError, "terminator must be one of '#', '*'; got _Key"),
        ({"terminator": "##"}, XMLValueError, "collectdtmf: terminator='##' is not allowed"),
    ],
)
def test_collect_dtmf_refuses_a_wrong_value_and_adds_nothing(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    r = Response(sid="1")
    with pytest.raises(error, match=re.escape(message)):
        r.collect_dtmf(**kwargs)
    assert r.children == []
