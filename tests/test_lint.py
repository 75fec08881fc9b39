from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from kookoo.protocol import schema
from kookoo.xml.lint import RULES, Finding, has_errors, lint
from kookoo.xml.parser import parse_response
from kookoo.xml.response import Response

RESPONSES = Path(__file__).parent / "data" / "responses"
MALFORMED = RESPONSES / "malformed" / "php-demo-collectdtmf-doc-comment.txt"

# What every response vector gives: (code, line) in order.  Every file in the folder must be
# listed, so a new vector cannot slip in unchecked.
VECTORS: dict[str, list[tuple[str, int]]] = {
    "01-docs-hello-world.xml": [],
    "02-docs-hello-world-sid.xml": [],
    "03-docs-playtext-type-quality.xml": [],
    "04-docs-say-as-501.xml": [],
    "06-docs-playaudio.xml": [],
    "07-docs-collectdtmf-pin.xml": [],
    "09-php-demo-hangup.xml": [],
    "10-php-demo-dial.xml": [("KK112", 2)],  # <playtext></playtext> before the dial
    "11-php-click2call-extra-data.xml": [],
    "13-commcare-collect-input.xml": [],
    "14-commcare-hangup.xml": [],
    "15-commcare-play-and-hangup.xml": [],
    "17-motech-demo-goodbye.xml": [],
    "18-tw-phonebanking-welcome-play-only.xml": [],
    "20-tw-phonebanking-sayas-sms-hangup.xml": [],
    "22-motech-decisiontree-collect-gotourl.xml": [],  # gotourl after collectdtmf is allowed
    "23-kookoo-py-example-dial.xml": [],  # dial timeout="30": unit disputed, not judged
    "25-voicebot-stream.xml": [],
    "27-voicebot-playtext-hangup.xml": [],
    "28-makaan-collectdtmf.xml": [],
    "31-voicebot-dial-new-attrs.xml": [("KK002", 1)],  # a bare <dial> fragment
}


def codes(doc: Response | bytes | str) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in lint(doc)]


def only(doc: Response | bytes | str) -> Finding:
    findings = lint(doc)
    assert len(findings) == 1, findings
    return findings[0]


# -- the vectors ---------------------------------------------------------------------------------


def test_every_vector_is_in_the_table() -> None:
    assert sorted(p.name for p in RESPONSES.glob("*.xml")) == sorted(VECTORS)


@pytest.mark.parametrize(("name", "expected"), sorted(VECTORS.items()))
def test_vector(name: str, expected: list[tuple[str, int]]) -> None:
    data = (RESPONSES / name).read_bytes()
    parse_response(data)  # every vector parses
    assert codes(data) == expected
    # Only the fragment is an error; the empty playtext is a warning.
    assert has_errors(lint(data)) == (name.startswith("31-"))


def test_malformed_vector_gives_one_error_with_its_line() -> None:
    finding = only(MALFORMED.read_bytes())
    assert (finding.code, finding.severity, finding.line, finding.tag) == (
        "KK001",
        "error",
        4,
        None,
    )
    assert finding.message.startswith("The XML is not well-formed: ")
    assert "(column 35)" in finding.message


def test_vectors_read_as_str_give_the_same_findings() -> None:
    for name, expected in VECTORS.items():
        assert codes((RESPONSES / name).read_text("utf-8")) == expected


# -- document level ------------------------------------------------------------------------------


def test_entity_error_explains_ampersand() -> None:
    finding = only("<response>\n<gotourl>http://a/?b=1&c=2</gotourl></response>")
    assert (finding.code, finding.line) == ("KK001", 2)
    assert finding.message.endswith("An '&' in a URL or text must be written '&amp;'.")


def test_empty_document() -> None:
    assert codes(b"") == [("KK001", 1)]
    assert "document is empty" in only(b"  \n").message


def test_oversized_document_has_no_line() -> None:
    big = b"<response>" + b" " * 1_000_001 + b"</response>"
    finding = only(big)
    assert (finding.code, finding.line) == ("KK001", None)


def test_doctype_is_malformed() -> None:
    assert codes('<!DOCTYPE x [<!ENTITY a "b">]>\n<response/>') == [("KK001", 1)]


def test_unknown_root_stops_there() -> None:
    finding = only("<html>\n<body><p>502 Bad Gateway</p></body></html>")
    assert (finding.code, finding.line, finding.tag) == ("KK002", 1, None)
    assert finding.message == (
        "The root element is <html>, so this is not a KooKoo reply (is the URL serving an error "
        "page or another format?). KooKoo replies start with <response> and hold its tags, "
        "e.g. <response><playtext>Hello</playtext></response>."
    )


def test_fragment_is_reported_and_still_linted() -> None:
    findings = lint("<collectdtmf l='x'>\n<playtext>Hi</playtext></collectdtmf>")
    assert [(f.code, f.line, f.tag) for f in findings] == [
        ("KK002", 1, "collectdtmf"),
        ("KK109", 1, "collectdtmf"),
    ]
    assert findings[0].message == (
        "The document is a bare <collectdtmf> without the <response> root. KooKoo reads only "
        "replies wrapped in <response>...</response>; put <collectdtmf> inside <response>."
    )


def test_tag_case_and_aliases_are_accepted() -> None:
    assert (
        lint("<Response><PlayText>Hi</PlayText><Say-As format='1'>5</Say-As><HangUp/></Response>")
        == []
    )


def test_clean_reply_has_no_findings() -> None:
    doc = """<?xml version="1.0" encoding="UTF-8"?>
<response sid="1" filler="yes">
  <playtext lang="hi-IN" speed="3">नमस्ते</playtext>
  <collectdtmf l="4" t="#" o="5000"><playaudio>https://x.in/a.wav</playaudio></collectdtmf>
  <gotourl>https://x.in/next?a=1&amp;b=2</gotourl>
</response>"""
    assert lint(doc) == []


# -- order of tags -------------------------------------------------------------------------------


def test_kk101_tag_after_event_tag() -> None:
    finding = only("<response>\n<record>f</record>\n<playtext>Processing.</playtext>\n</response>")
    assert (finding.code, finding.severity, finding.line, finding.tag) == (
        "KK101",
        "warning",
        3,
        "playtext",
    )
    assert finding.message == (
        "<playtext> comes after <record> (line 2), the tag that makes KooKoo send Record. "
        "KooKoo's guidance is to make the event tag the last tag of the reply, and what it does "
        "with tags after it is undocumented (some live apps do this). Move <playtext> before "
        "<record>, or send it in your reply to Record."
    )


def test_kk101_after_hangup() -> None:
    finding = only("<response><hangup/><playtext>Bye</playtext></response>")
    assert finding.code == "KK101"
    assert finding.message == (
        "<playtext> comes after <hangup> (line 1), which ends the call, so the caller will "
        "probably never hear it. Move <playtext> before <hangup>."
    )


@pytest.mark.parametrize(
    "event_tag", ["<collectdtmf l='1'/>", "<record>f</record>", "<recognize/>"]
)
def test_gotourl_after_input_tag_is_the_motech_pattern(event_tag: str) -> None:
    assert lint(f"<response>{event_tag}<gotourl>https://x.in/next</gotourl></response>") == []


def test_gotourl_after_dial_is_reported() -> None:
    assert codes("<response><dial>1</dial><gotourl>https://x.in/n</gotourl></response>") == [
        ("KK101", 1)
    ]


def test_gotourl_then_hangup_is_fine() -> None:
    # motech-whp's working reply (protocol.md vector 30).
    assert lint("<response><gotourl>https://x.in/n</gotourl><hangup/></response>") == []


def test_kk102_hangup_beside_dial() -> None:
    finding = only("<response>\n<dial>0987654321</dial>\n<hangup/>\n</response>")
    assert (finding.code, finding.severity, finding.line, finding.tag) == (
        "KK102",
        "error",
        3,
        "hangup",
    )
    assert finding.message == (
        "<hangup> is in the same reply as <dial> (line 2). KooKoo's own demo says not to send "
        "hangup with dial: the call is still ringing or connected when KooKoo reads it. Return "
        "<hangup> in your reply to the Dial event instead."
    )


def test_kk102_hangup_before_dial_is_reported_at_the_dial() -> None:
    finding = only("<response>\n<hangup/>\n<dial>0987654321</dial>\n</response>")
    assert (finding.code, finding.line, finding.tag) == ("KK102", 3, "dial")
    assert finding.message.startswith("<hangup> (line 2) is in the same reply as <dial>. ")


def test_kk102_after_another_event_tag() -> None:
    doc = "<response>\n<collectdtmf/>\n<dial>1</dial>\n<hangup/>\n</response>"
    assert codes(doc) == [("KK104", 3), ("KK102", 4)]


def test_kk104_two_event_tags() -> None:
    finding = only("<response>\n<collectdtmf l='1'/>\n<hangup/>\n</response>")
    # A warning: what KooKoo does with a second event tag is undocumented (protocol.md §2.1).
    assert (finding.code, finding.severity, finding.line) == ("KK104", "warning", 3)
    assert finding.message == (
        "<hangup> is a second event-producing tag: <collectdtmf> (line 2) already makes KooKoo "
        "send GotDTMF. KooKoo's guidance is one event tag, the last of the reply; what it does "
        "with a second one is undocumented (it may never get there). Keep one, and send "
        "<hangup> in your reply to the GotDTMF request."
    )
    assert not has_errors([finding])


def test_kk104_every_extra_event_tag() -> None:
    doc = "<response><record>a</record><record>b</record><stream>1</stream></response>"
    assert codes(doc) == [("KK104", 1), ("KK104", 1)]


def test_event_tag_inside_collectdtmf_is_misplaced_not_second() -> None:
    assert codes("<response><collectdtmf><hangup/></collectdtmf></response>") == [("KK110", 1)]


# -- URLs ---------------------------------------------------------------------------------------


def test_kk103_relative_text_urls() -> None:
    doc = (
        "<response>\n<playaudio>audio/hi.wav</playaudio>\n<gotourl>/ivr/next</gotourl>\n</response>"
    )
    findings = lint(doc)
    assert [(f.code, f.severity, f.line, f.tag) for f in findings] == [
        ("KK103", "error", 2, "playaudio"),
        ("KK103", "error", 3, "gotourl"),
    ]
    assert findings[1].message == (
        "<gotourl> holds the relative URL '/ivr/next'. KooKoo fetches it itself and has no page "
        "to resolve it against; write the full URL with scheme and host, e.g. "
        "'https://example.com/ivr/next'."
    )


@pytest.mark.parametrize(
    "url", ["www.x.in/a.wav", "//x.in/a.wav", "file:///tmp/a.wav", "x.in:80/a", "a.wav"]
)
def test_kk103_not_absolute(url: str) -> None:
    assert codes(f"<response><playaudio>{url}</playaudio></response>") == [("KK103", 1)]


@pytest.mark.parametrize("url", ["http://x.in/a.wav", "HTTPS://x.in/a", " https://x.in/a \n"])
def test_absolute_urls_pass(url: str) -> None:
    assert lint(f"<response><playaudio>{url}</playaudio></response>") == []


def test_kk103_scheme_relative_url_example_keeps_its_host() -> None:
    finding = only("<response><playaudio>//cdn.example/a.wav</playaudio></response>")
    assert finding.code == "KK103"
    assert finding.message.endswith("e.g. 'https://cdn.example/a.wav'.")


def test_kk103_url_attributes() -> None:
    doc = '<response><stream url="/ws" is_sip="true">1</stream></response>'
    finding = only(doc)
    assert (finding.code, finding.tag) == ("KK103", "stream")
    assert finding.message == (
        "<stream> url='/ws' is not an absolute URL. KooKoo uses it itself and has no page to "
        "resolve it against; write the full URL with scheme and host, e.g. "
        "'https://example.com/ws'."
    )
    assert lint('<response><stream url="wss://x.in/ws">1</stream></response>') == []


# -- text ---------------------------------------------------------------------------------------


def test_kk112_empty_playtext_is_a_warning() -> None:
    finding = only("<response><playtext> </playtext></response>")
    assert (finding.code, finding.severity) == ("KK112", "warning")
    assert finding.message == (
        "<playtext> is empty, so KooKoo has nothing to speak. KooKoo's own demo sends one and it "
        "seems harmless, but remove it or put the words inside it."
    )


@pytest.mark.parametrize(
    ("element", "tag"),
    [
        ("<dial/>", "dial"),
        ("<gotourl></gotourl>", "gotourl"),
        ("<playaudio>  </playaudio>", "playaudio"),
        ("<record/>", "record"),
        ("<say-as format='1'/>", "say-as"),
    ],
)
def test_kk106_empty_required_text_is_an_error(element: str, tag: str) -> None:
    finding = only(f"<response>{element}</response>")
    assert (finding.code, finding.severity, finding.tag) == ("KK106", "error", tag)


def test_kk106_message() -> None:
    assert only("<response><dial></dial></response>").message == (
        "<dial> is empty, but KooKoo needs the number as its text. Write <dial>NUMBER</dial> "
        "with the real value, or leave the element out."
    )


def test_empty_elements_without_text_are_fine() -> None:
    assert lint("<response><collectdtmf l='1'></collectdtmf></response>") == []
    assert lint("<response><start-record/><hangup></hangup></response>") == []


def test_kk111_stray_text() -> None:
    doc = "<response>Hello\n<playtext>x</playtext> there\n<hangup>bye</hangup></response>"
    findings = lint(doc)
    assert [(f.code, f.severity, f.line, f.tag) for f in findings] == [
        ("KK111", "warning", 1, "response"),
        ("KK111", "warning", 2, "response"),
        ("KK111", "warning", 3, "hangup"),
    ]
    assert findings[0].message == (
        "<response> contains the text 'Hello' outside any element; KooKoo reads only elements "
        "there, so the text is ignored. To speak it, wrap it in <playtext>Hello</playtext>."
    )
    assert findings[2].message.endswith("<hangup> takes no text; remove it.")


def test_kk111_inside_collectdtmf() -> None:
    doc = "<response><collectdtmf l='1'>Press 1<playtext>x</playtext></collectdtmf></response>"
    assert [(f.code, f.tag) for f in lint(doc)] == [("KK111", "collectdtmf")]


def test_comments_and_indentation_are_not_stray_text() -> None:
    doc = "<response>\n  <!-- menu -->\n  <playtext>x</playtext>\n\t<hangup/>\n</response>"
    assert lint(doc) == []


# -- vocabulary ----------------------------------------------------------------------------------


def test_kk107_unknown_element() -> None:
    finding = only("<response>\n<widget/>\n</response>")
    assert (finding.code, finding.severity, finding.line, finding.tag) == (
        "KK107",
        "warning",
        2,
        "widget",
    )
    known = ", ".join(f"<{t}>" for t in schema.BY_TAG["response"].children)
    assert finding.message == (
        "<widget> is not an element KooKoo's libraries or docs know, so KooKoo probably "
        f"ignores it or rejects the reply. Check the spelling; KooKoo's tags are {known}."
    )
    assert "<context>" in known


def test_kk107_does_not_call_context_unknown() -> None:
    # KooKoo's Java library writes <context> (protocol.md §2.2): known, meaning undocumented.
    assert lint("<response><Context>billing</Context><hangup/></response>") == []
    assert lint(Response().context("billing").hangup()) == []


def test_kk107_twiml_hint() -> None:
    finding = only("<response><Say>Hi</Say></response>")
    assert finding.message.endswith("<Say> looks like TwiML; KooKoo's tag for that is <playtext>.")


def test_kk108_unknown_attribute() -> None:
    finding = only('<response><playtext voice="x">Hi</playtext></response>')
    assert (finding.code, finding.severity, finding.tag) == ("KK108", "warning", "playtext")
    assert finding.message == (
        "<playtext> has the attribute 'voice', which KooKoo does not document for <playtext>, so "
        "it is probably ignored. Check the spelling (attribute names are case-sensitive). Its "
        "known attributes are lang, speed, quality, type."
    )
    assert only('<response><hangup now="1"/></response>').message.endswith(
        "<hangup> takes no attributes."
    )


@pytest.mark.parametrize(
    ("attrs", "detail"),
    [
        ('l="four"', "<collectdtmf> l='four' is not a whole number."),
        ('l=" 4"', "<collectdtmf> l=' 4' is not a whole number."),
        ('l="4.0"', "<collectdtmf> l='4.0' is not a whole number."),
        ('l="0"', "<collectdtmf> l='0' is out of range."),
        ('o="-1"', "<collectdtmf> o='-1' is out of range."),
    ],
)
def test_kk109_whole_numbers(attrs: str, detail: str) -> None:
    finding = only(f"<response><collectdtmf {attrs}/></response>")
    assert (finding.code, finding.severity) == ("KK109", "error")
    assert finding.message.startswith(detail)


def test_kk109_message() -> None:
    assert only("<response><playtext speed='12'>x</playtext></response>").message == (
        "<playtext> speed='12' is out of range. KooKoo expects a whole number from 1 to 9 "
        "(Voice rate, 1 slow to 9 fast)."
    )


def test_kk105_milliseconds_that_look_like_seconds() -> None:
    finding = only("<response>\n<collectdtmf l='1' o='5'/>\n</response>")
    assert (finding.code, finding.severity, finding.line) == ("KK105", "warning", 2)
    assert finding.message == (
        "<collectdtmf> o='5' is in milliseconds, so KooKoo would wait only 5 ms (its default is "
        '4000). If you meant 5 seconds, write o="5000".'
    )
    assert lint("<response><collectdtmf o='100'/></response>") == []
    assert lint("<response><collectdtmf o='0'/></response>") == []


def test_dial_timeout_is_not_judged() -> None:
    for value in ("10", "30", "1000", "10000"):
        assert lint(f"<response><dial timeout='{value}'>1</dial></response>") == []


def test_kk113_choices() -> None:
    finding = only("<response><collectdtmf t='x'/></response>")
    assert (finding.code, finding.severity) == ("KK113", "warning")
    assert finding.message == (
        "<collectdtmf> t='x' is not one of the values KooKoo is known to accept: one of '#', '*' "
        "(Key that ends input). KooKoo's vocabulary is not fully documented, so it may still "
        "work; try it on a live call."
    )


def test_kk113_booleans() -> None:
    finding = only('<response filler="1"/>')
    assert (finding.code, finding.tag) == ("KK113", "response")
    assert finding.message == (
        "<response> filler='1' is not one of the values KooKoo is known to accept: 'yes' or "
        "'no' (Play hold music while KooKoo waits for the app's next answer). What KooKoo makes "
        "of other values is unknown; write 'yes' or 'no'."
    )
    assert codes('<response><dial record="TRUE">1</dial></response>') == [("KK113", 1)]


def test_free_strings_are_not_judged() -> None:
    # recognize grammar lists the values seen, but is not a closed set.
    assert lint('<response><recognize grammar="pincode"/></response>') == []


def test_kk110_wrong_nesting() -> None:
    finding = only("<response><collectdtmf>\n<hangup/></collectdtmf></response>")
    assert (finding.code, finding.severity, finding.line, finding.tag) == (
        "KK110",
        "warning",
        2,
        "hangup",
    )
    assert finding.message == (
        "<hangup> is inside <collectdtmf>, where KooKoo's libraries never put it: <collectdtmf> "
        "may contain only <playtext>, <playaudio>. What KooKoo does with it is undocumented. "
        "Move <hangup> to the top level, directly inside <response>."
    )


def test_kk110_say_as_inside_collectdtmf_is_a_warning() -> None:
    finding = only("<response><collectdtmf><say-as format='1'>5</say-as></collectdtmf></response>")
    assert (finding.code, finding.severity, finding.tag) == ("KK110", "warning", "say-as")
    assert not has_errors([finding])


def test_kk110_inside_an_element_without_children() -> None:
    finding = only(
        "<response><playtext>Hi <playaudio>https://x.in/a</playaudio></playtext></response>"
    )
    assert finding.message.startswith(
        "<playaudio> is inside <playtext>, where KooKoo's libraries never put it: <playtext> "
        "cannot contain other elements."
    )


def test_kk110_nested_response() -> None:
    finding = only("<response><response/></response>")
    assert finding.code == "KK110"
    assert finding.message.endswith(
        "<response> is the root element; use it only once, around the whole reply."
    )


def test_inside_unknown_elements_only_known_ones_are_checked() -> None:
    doc = "<response><menu><playtext speed='0'>x</playtext><x/></menu></response>"
    assert [(f.code, f.tag) for f in lint(doc)] == [
        ("KK107", "menu"),
        ("KK109", "playtext"),
        ("KK107", "x"),
    ]


# -- built replies -------------------------------------------------------------------------------


def test_built_reply_findings_have_no_lines() -> None:
    r = Response().dial("0987654321").hangup()
    assert [(f.code, f.line, f.tag) for f in lint(r)] == [("KK102", None, "hangup")]
    assert lint(r)[0].message.startswith("<hangup> is in the same reply as <dial>. ")


def test_built_reply_in_document_order() -> None:
    r = Response()
    r.collect_dtmf(max_digits=1, timeout_ms=5)
    r.play_text("after").add_raw("foo", "bar", zz="1")
    assert [(f.code, f.tag) for f in lint(r)] == [
        ("KK105", "collectdtmf"),
        ("KK101", "playtext"),
        ("KK101", "foo"),
        ("KK107", "foo"),
    ]


def test_built_reply_relative_url() -> None:
    # The builder accepts it (an app resolves it against the request); the wire must not have it.
    assert [f.code for f in lint(Response().goto_url("next"))] == ["KK103"]


def test_parsed_reply_as_object_reports_stray_text_inside_elements() -> None:
    r = parse_response("<response><hangup>bye</hangup></response>")
    assert [(f.code, f.line, f.tag) for f in lint(r)] == [("KK111", 1, "hangup")]


def test_lint_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="lint\\(\\) takes a Response, bytes or str, not int"):
        lint(5)  # type: ignore[arg-type]


# -- findings and rules --------------------------------------------------------------------------


def test_finding_str() -> None:
    finding = Finding("KK112", "warning", "Empty.", 3, "playtext")
    assert str(finding) == "KK112 warning: Empty."


def test_has_errors() -> None:
    warning = Finding("KK112", "warning", "w")
    error = Finding("KK001", "error", "e")
    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning], strict=True)
    assert has_errors([warning, error])


def test_rules_registry() -> None:
    assert list(RULES) == sorted(RULES)
    assert all(severity in ("error", "warning") for severity, _ in RULES.values())
    # The module docstring documents every rule with its severity.  (import_module, since
    # kookoo/__init__ may re-export the function under the module's name.)
    lint_module = importlib.import_module("kookoo.xml.lint")
    assert lint_module.__doc__ is not None
    for code, (severity, _) in RULES.items():
        assert f"\n{code}  {severity} " in lint_module.__doc__


def test_each_finding_uses_its_registered_severity() -> None:
    doc = """<response filler="maybe">stray
<collectdtmf l="x" o="5" zz="1"><hangup/></collectdtmf>
<playtext></playtext><dial></dial><hangup/><gotourl>rel</gotourl><widget/><record>f</record>
</response>"""
    findings = lint(doc)
    assert {f.code for f in findings} == {
        "KK101",
        "KK102",
        "KK103",
        "KK104",
        "KK105",
        "KK106",
        "KK107",
        "KK108",
        "KK109",
        "KK110",
        "KK111",
        "KK112",
        "KK113",
    }
    for finding in findings:
        assert finding.severity == RULES[finding.code][0]
        assert finding.message.endswith(".")
    assert [f.line for f in findings] == sorted(f.line or 0 for f in findings)


@pytest.mark.parametrize(
    "prefix",
    [b"", b"\n\n", b'<?xml version="1.0" encoding="UTF-8"?>\n', b'\n<?xml version="1.0"?>'],
)
def test_lines_are_those_of_the_input(prefix: bytes) -> None:
    lines = prefix.count(b"\n")
    doc = prefix + b"<response>\n<playtext></playtext>\n</response>"
    assert codes(doc) == [("KK112", lines + 2)]
    assert codes(doc.decode()) == [("KK112", lines + 2)]
    assert codes(prefix + b"<response>\n<x></response>") == [("KK001", lines + 2)]


def test_a_number_too_long_for_int_is_out_of_range_not_a_crash() -> None:
    findings = lint(f'<response><collectdtmf l="{"1" * 5000}"/></response>'.encode())
    assert [(f.code, f.severity) for f in findings] == [("KK109", "error")]
    assert "is out of range" in findings[0].message
