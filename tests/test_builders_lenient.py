"""Builders that take what KooKoo's own samples send, one unit convention, and URLs that stay
on the app's host (issue 15 §3-§4, issue 10 §6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.test import Client

import kookoo.xml.response
from kookoo import KooKoo, NewCall
from kookoo.protocol.phone import PhoneNumber
from kookoo.xml.lint import has_errors, lint
from kookoo.xml.parser import parse_response
from kookoo.xml.response import Response, XMLValueError

DECL = b"<?xml version='1.0' encoding='UTF-8'?>\n"


def xml(body: bytes) -> bytes:
    return DECL + b"<response>" + body + b"</response>"


# --- values KooKoo's samples use ---------------------------------------------------------------


def test_play_text_takes_the_voice_name_from_ozonetels_sample() -> None:
    r = Response().play_text("Namaste", lang="hi-IN", engine="Aditi")
    assert r.to_xml() == xml(b'<playtext lang="hi-IN" type="Aditi">Namaste</playtext>')
    assert lint(r) == []


def test_play_text_takes_an_unknown_engine_with_a_warning() -> None:
    r = Response().play_text("Hi", engine="Raveena")
    assert r.to_xml() == xml(b'<playtext type="Raveena">Hi</playtext>')
    (finding,) = lint(r)
    assert (finding.code, finding.severity) == ("KK113", "warning")
    assert not has_errors([finding])


def test_an_engine_must_still_be_text() -> None:
    with pytest.raises(TypeError, match="playtext: engine must be a string; known values 'ggl'"):
        Response().play_text("Hi", engine=1)  # type: ignore[arg-type]


def test_cc_transfer_takes_an_empty_record_as_the_samples_send_it() -> None:
    r = Response().cc_transfer("general", record="")
    assert r.to_xml() == xml(b'<cctransfer record="">general</cctransfer>')
    (finding,) = lint(r)
    assert (finding.code, finding.severity) == ("KK113", "warning")
    assert Response().cc_transfer("general", record=True).to_xml() == xml(
        b'<cctransfer record="true">general</cctransfer>'
    )


@pytest.mark.parametrize("value", ["yes", "true", " "])
def test_cc_transfer_record_refuses_other_strings(value: str) -> None:
    with pytest.raises(TypeError, match="cctransfer: record must be True or False"):
        Response().cc_transfer("general", record=value)  # type: ignore[arg-type]


def test_an_empty_playtext_is_written_with_a_warning() -> None:
    r = Response().play_text("").dial("9xxxxxxxx")  # KooKoo's own demo (vector 10)
    assert r.to_xml() == xml(b"<playtext/><dial>9xxxxxxxx</dial>")
    assert [(f.code, f.severity) for f in lint(r)] == [("KK112", "warning")]
    assert parse_response(r.to_xml()) == r


def test_context_is_a_known_element() -> None:
    r = Response().context("billing").hangup()
    assert r.to_xml() == xml(b"<context>billing</context><hangup/>")
    assert r.children[0].spec is not None
    assert lint(r) == []


# --- units in keyword names --------------------------------------------------------------------

RENAMED: list[tuple[Callable[..., Response], str, str, int, bytes]] = [
    (lambda **kw: Response().dial("1", **kw), "timeout", "timeout_seconds", 30,
     b'<dial timeout="30">1</dial>'),
    (lambda **kw: Response().conference("7", **kw), "timeout", "timeout_seconds", -1,
     b'<conference timeout="-1">7</conference>'),
    (lambda **kw: Response().recognize(**kw), "timeout", "timeout_seconds", 5,
     b'<recognize timeout="5"/>'),
    (lambda **kw: Response().recognize(**kw), "silence", "silence_seconds", 3,
     b'<recognize silence="3"/>'),
    (lambda **kw: Response().recognize(**kw), "complete_silence", "complete_silence_seconds", 2,
     b'<recognize complete_silence="2"/>'),
]  # fmt: skip


@pytest.mark.parametrize(("build", "old", "new", "value", "body"), RENAMED)
def test_renamed_keywords(
    build: Callable[..., Response], old: str, new: str, value: int, body: bytes
) -> None:
    assert build(**{new: value}).to_xml() == xml(body)
    with pytest.warns(DeprecationWarning, match=f"\\({old}=...\\) is deprecated; use {new}="):
        deprecated = build(**{old: value})
    assert deprecated.to_xml() == xml(body)
    with (
        pytest.warns(DeprecationWarning, match="is deprecated"),
        pytest.raises(TypeError, match=f"got both {old}= and its new name {new}="),
    ):
        build(**{old: value, new: value})


def test_the_deprecation_points_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning, match="timeout_seconds") as caught:
        Response().dial("1", timeout=30)
    assert caught[0].filename == __file__


# --- send_sms(to=PhoneNumber) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "written"),
    [
        (PhoneNumber.parse("+919876543210"), b"9876543210"),
        (PhoneNumber.parse("09876543210"), b"9876543210"),
        (PhoneNumber.parse("0000"), b"0000"),
        ("919876543210", b"919876543210"),
    ],
)
def test_send_sms_to_a_phone_number(to: PhoneNumber | str, written: bytes) -> None:
    r = Response().send_sms("Booked", to=to)
    assert r.to_xml() == xml(b'<sendsms to="' + written + b'">Booked</sendsms>')


def test_send_sms_to_the_caller_from_a_handler() -> None:
    app = KooKoo("sms", store=False)

    @app.on_new_call
    def welcome(event: NewCall) -> Response:
        return Response().send_sms("Thanks for calling", to=event.caller).hangup()

    reply = Client(app).get("/?event=NewCall&sid=1&cid=919876543210")
    assert reply.status_code == 200
    assert reply.data == xml(b'<sendsms to="9876543210">Thanks for calling</sendsms><hangup/>')


# --- scheme-relative URLs are refused at build time --------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda r: r.goto_url("//evil.example/next"), "gotourl: url='//evil.example/next'"),
        (lambda r: r.play_audio("//evil.example/a.wav"), "playaudio: url='//evil.example/a.wav'"),
        (lambda r: r.play_audio("\\\\evil.example/a.wav"), "playaudio: url='\\\\\\\\evil"),
        (lambda r: r.play_audio("/\\evil.example/a.wav"), "playaudio: url='/\\\\evil"),
        (lambda r: r.goto_url("  //evil.example/"), "gotourl: url='  //evil.example/'"),
        (lambda r: r.dial("1", callback_on_answered="//evil.example/x"),
         "dial: callback_on_answered='//evil.example/x'"),
        (lambda r: r.stream("1", url="//evil.example/ws"), "stream: url='//evil.example/ws'"),
        (lambda r: r.recognize(success_file="//evil.example/ok.wav"),
         "recognize: success_file='//evil.example/ok.wav'"),
    ],
)  # fmt: skip
def test_scheme_relative_urls_are_refused_naming_the_field(
    build: Callable[[Response], object], message: str
) -> None:
    r = Response()
    with pytest.raises(XMLValueError) as info:
        build(r)
    assert str(info.value).startswith(message)
    assert "scheme-relative URL" in str(info.value)
    assert r.children == []  # nothing half-added


def test_scheme_relative_urls_in_prompts_inside_collectdtmf() -> None:
    menu = Response().collect_dtmf(max_digits=1)
    with pytest.raises(XMLValueError, match=r"playaudio: url='//cdn\.example/a\.wav'"):
        menu.play_audio("//cdn.example/a.wav")


@pytest.mark.parametrize("url", ["/next", "next?x=1", "https://app.example/next", "./a/b"])
def test_relative_and_absolute_urls_are_still_accepted(url: str) -> None:
    assert Response().goto_url(url).children[0].text == url


# --- the parser keeps text between elements ----------------------------------------------------


def test_parse_response_keeps_text_between_elements() -> None:
    doc = xml(b"Hello<playtext>Hi</playtext> there <hangup/>bye")
    r = parse_response(doc)
    assert r.to_xml() == doc
    assert r.text == "Hello"
    playtext, hangup = r.children
    assert (playtext.tail, hangup.tail) == (" there ", "bye")
    assert r != parse_response(xml(b"<playtext>Hi</playtext><hangup/>"))


def test_parse_response_keeps_text_inside_collectdtmf_and_after_a_comment() -> None:
    doc = b"<response><collectdtmf> press <playtext>x</playtext>now<!-- c -->!</collectdtmf>"
    doc += b"</response>"
    r = parse_response(doc)
    (menu,) = r.children
    assert menu.text == " press "
    assert menu.children[0].tail == "now!"


def test_layout_whitespace_is_still_dropped() -> None:
    r = parse_response(b"<response>\n  <playtext>Hi</playtext>\n  <hangup/>\n</response>")
    assert r == Response().play_text("Hi").hangup()


def test_lint_of_a_parsed_reply_object_sees_text_between_elements() -> None:
    r = parse_response(b"<response>\n<playtext>Hi</playtext>\nstray\n<hangup/>\n</response>")
    assert [(f.code, f.line, f.tag) for f in lint(r)] == [("KK111", 2, "response")]


# --- no pre-release shims ----------------------------------------------------------------------


def test_kookoo_response_has_no_module_getattr() -> None:
    assert not hasattr(kookoo.xml.response, "__getattr__")
    with pytest.raises(AttributeError):
        kookoo.xml.response.Respnse  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from kookoo.xml.response import parse_response  # type: ignore[attr-defined]  # noqa: F401
