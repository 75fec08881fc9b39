"""The schema table, and the builders checked against it so the two cannot drift apart."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import pytest

from kookoo.protocol import schema
from kookoo.protocol.phone import PhoneNumber
from kookoo.protocol.schema import ELEMENTS, AttrSpec, ElementSpec, lookup
from kookoo.xml.response import CollectDtmf, Response

ELEMENT_IDS = [e.tag for e in ELEMENTS]


BY_TAG = schema.BY_TAG


def _builder(spec: ElementSpec) -> Callable[..., Any]:
    if spec.tag == "response":
        return Response.__init__
    if spec.tag in BY_TAG["collectdtmf"].children:
        # Prompts are defined once and shared by Response and CollectDtmf.
        assert getattr(CollectDtmf, spec.method) is getattr(Response, spec.method)
    method: Callable[..., Any] = getattr(Response, spec.method)
    return method


@pytest.mark.parametrize("spec", ELEMENTS, ids=ELEMENT_IDS)
def test_builder_keywords_are_the_schema_attributes_in_order(spec: ElementSpec) -> None:
    params = list(inspect.signature(_builder(spec)).parameters.values())
    keyword_only = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    # The deprecated names of renamed keywords come last, in the same order.
    deprecated = [old for a in spec.attrs for old in a.deprecated]
    # Keywords that are no XML attribute of their own (stream(handler=...) fills x-uui).
    extra = {"stream": ["handler", "data"]}.get(spec.tag, [])
    assert keyword_only == [a.keyword for a in spec.attrs] + deprecated + extra
    assert not [p for p in params if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


@pytest.mark.parametrize("spec", ELEMENTS, ids=ELEMENT_IDS)
def test_builder_positional_parameter_is_the_text(spec: ElementSpec) -> None:
    params = list(inspect.signature(_builder(spec)).parameters.values())
    positional = [p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional[0] == "self"
    if spec.text == "none":
        assert positional == ["self"]
    else:
        assert positional == ["self", spec.text_keyword]


@pytest.mark.parametrize("spec", ELEMENTS, ids=ELEMENT_IDS)
def test_builder_keywords_are_optional(spec: ElementSpec) -> None:
    params = inspect.signature(_builder(spec)).parameters
    for attr in spec.attrs:
        if spec.tag == "say-as" and attr.keyword == "format":
            assert params["format"].default is inspect.Parameter.empty  # say-as needs a format
        else:
            assert params[attr.keyword].default is None, attr.keyword


def _annotation_parts(annotation: object) -> set[object]:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        parts: set[object] = set()
        for arg in get_args(annotation):
            parts |= _annotation_parts(arg)
        return parts
    return {annotation}


@pytest.mark.parametrize("spec", ELEMENTS, ids=ELEMENT_IDS)
def test_builder_annotations_follow_the_attribute_kinds(spec: ElementSpec) -> None:
    hints = typing.get_type_hints(_builder(spec))
    for attr in spec.attrs:
        parts = _annotation_parts(hints[attr.keyword])
        if spec.tag == "say-as" and attr.keyword == "format":
            continue  # takes SayAsFormat, its code or its name; checked in test_response
        parts.discard(type(None))
        if attr.kind == "choice" and not attr.open:
            # A closed set is typed as a Literal of exactly the schema's choices.
            (literal,) = parts
            assert get_origin(literal) is Literal, attr.keyword
            assert set(get_args(literal)) == set(attr.choices), attr.keyword
        elif attr.also:
            assert parts == {bool, Literal[attr.also]}, attr.keyword
        elif spec.tag == "sendsms" and attr.keyword == "to":
            assert parts == {str, PhoneNumber}
        else:
            expected = {"int": int, "bool": bool, "str": str, "url": str, "choice": str}
            assert parts == {expected[attr.kind]}, attr.keyword


def test_response_has_a_method_for_every_child_and_collect_dtmf_only_prompts() -> None:
    root = BY_TAG["response"]
    assert set(root.children) == {e.tag for e in ELEMENTS} - {"response"}
    for tag in root.children:
        assert callable(getattr(Response, BY_TAG[tag].method))
    prompts = BY_TAG["collectdtmf"].children
    assert prompts == ("playtext", "playaudio")
    for spec in ELEMENTS:
        # Wrong nesting cannot be expressed: a CollectDtmf has no method for anything else.
        assert hasattr(CollectDtmf, spec.method) == (spec.tag in prompts), spec.tag


def test_only_collectdtmf_and_response_have_children() -> None:
    assert {e.tag for e in ELEMENTS if e.children} == {"response", "collectdtmf"}


def test_events_as_protocol_section_2_3_says() -> None:
    events = {e.tag: e.event for e in ELEMENTS}
    assert events == {
        "response": None,
        "playtext": None,
        "say-as": None,
        "playaudio": None,
        "collectdtmf": "GotDTMF",
        "record": "Record",
        "dial": "Dial",
        "conference": "Conference",
        "hangup": "Disconnect",
        "gotourl": None,
        "sendsms": None,
        "playdtmf-i": None,
        "recognize": "Recognize",
        "stream": "Stream",
        "start-record": None,
        "cctransfer": None,
        "context": None,
    }
    assert (
        frozenset({"collectdtmf", "record", "dial", "conference", "hangup", "recognize", "stream"})
        == schema.EVENT_TAGS
    )


def test_canonical_tags_are_lower_case_and_unique() -> None:
    tags = [e.tag for e in ELEMENTS]
    assert len(set(tags)) == len(tags)
    assert all(tag == tag.lower() for tag in tags)
    assert len({e.method for e in ELEMENTS}) == len(ELEMENTS)


@pytest.mark.parametrize("spec", ELEMENTS, ids=ELEMENT_IDS)
def test_attribute_table_is_consistent(spec: ElementSpec) -> None:
    keywords = [a.keyword for a in spec.attrs]
    xml_names = [a.xml for a in spec.attrs]
    assert len(set(keywords)) == len(keywords)
    assert len(set(xml_names)) == len(xml_names)
    assert list(spec.attr_by_keyword) == keywords
    assert list(spec.attr_by_xml) == xml_names
    for attr in spec.attrs:
        assert attr.keyword.isidentifier()
        assert attr.doc
        if attr.kind == "choice":
            assert attr.choices, attr.keyword
        if attr.kind != "int":
            assert attr.minimum is None, attr.keyword
            assert attr.maximum is None, attr.keyword
            assert attr.unit is None, attr.keyword
        if attr.minimum is not None and attr.maximum is not None:
            assert attr.minimum <= attr.maximum
    if spec.text == "none":
        assert not spec.text_required


@pytest.mark.parametrize(
    ("tag", "keyword", "xml"),
    [
        ("collectdtmf", "max_digits", "l"),
        ("collectdtmf", "terminator", "t"),
        ("collectdtmf", "timeout_ms", "o"),
        ("playtext", "engine", "type"),
        ("record", "silence_seconds", "silence"),
        ("record", "max_seconds", "maxduration"),
        ("record", "terminator", "termchar"),
        ("dial", "limit_seconds", "limittime"),
        ("dial", "prompt_to_called_number", "promptToCalledNumber"),
        ("dial", "callback_on_answered", "callback_onanswered"),
        ("stream", "uui", "x-uui"),
        ("cctransfer", "timeout_seconds", "timeout"),
        ("dial", "timeout_seconds", "timeout"),
        ("conference", "timeout_seconds", "timeout"),
        ("recognize", "timeout_seconds", "timeout"),
        ("recognize", "silence_seconds", "silence"),
        ("recognize", "complete_silence_seconds", "complete_silence"),
        ("cctransfer", "ring_type", "ringType"),
    ],
)
def test_readable_keywords_map_to_kookoo_names(tag: str, keyword: str, xml: str) -> None:
    assert BY_TAG[tag].attr_by_keyword[keyword].xml == xml


def test_units_are_declared_on_numbers_with_units_in_their_keyword() -> None:
    for spec in ELEMENTS:
        for attr in spec.attrs:
            if attr.keyword.endswith("_ms"):
                assert attr.unit == "ms", attr.keyword
            if attr.keyword.endswith("_seconds"):
                assert attr.unit == "s", attr.keyword


def test_every_duration_keyword_names_its_unit() -> None:
    # One convention across builders: timeout_ms for ms, *_seconds for seconds.
    for spec in ELEMENTS:
        for attr in spec.attrs:
            if attr.unit == "ms":
                assert attr.keyword.endswith("_ms"), (spec.tag, attr.keyword)
            elif attr.unit == "s":
                assert attr.keyword.endswith("_seconds"), (spec.tag, attr.keyword)
            else:
                # No unit declared: nothing that reads as a duration.
                assert not {"timeout", "silence", "duration"} & set(attr.keyword.split("_")), (
                    spec.tag,
                    attr.keyword,
                )


def test_waits_for_and_hangup_process() -> None:
    assert dict(schema.WAITS_FOR) == {
        "collectdtmf": "digits",
        "record": "recording",
        "dial": "dial",
        "recognize": "speech",
        "conference": "conference",
        "stream": "stream",
        "cctransfer": "transfer",
    }
    assert set(get_args(schema.WaitingFor)) == set(schema.WAITS_FOR.values())
    assert schema.HANGUP_PROCESS["digits"] == "collectdtmf"
    assert schema.HANGUP_PROCESS["recording"] == "record"
    # Everything KooKoo sends an event for, except hangup (Disconnect), makes it wait.
    assert set(schema.WAITS_FOR) - {"cctransfer"} == schema.EVENT_TAGS - {"hangup"}
    with pytest.raises(TypeError):
        schema.WAITS_FOR["playtext"] = "digits"  # type: ignore[index]


def test_kookoo_defaults() -> None:
    assert schema.DEFAULT_DTMF_TIMEOUT_MS == 4000
    assert schema.default_of("collectdtmf", "timeout_ms") == "4000"
    assert schema.default_of("record", "silence_seconds") == "4"
    assert schema.default_of("dial", "limit_seconds") == "1000"
    assert schema.default_of("collectdtmf", "max_digits") is None
    assert schema.DEFAULT_CALLER == "09876543210"
    assert schema.DEFAULT_CALLED_NUMBER == "918065740671"


@pytest.mark.parametrize(
    ("spelling", "tag"),
    [
        ("response", "response"),
        ("Response", "response"),
        ("RESPONSE", "response"),
        ("playText", "playtext"),
        ("PlayText", "playtext"),
        ("PlayAudio", "playaudio"),
        ("CollectDtmf", "collectdtmf"),
        ("collectDTMF", "collectdtmf"),
        ("Gotourl", "gotourl"),
        ("GoToUrl", "gotourl"),
        ("Recognize", "recognize"),
        ("Conference", "conference"),
        ("Hangup", "hangup"),
        ("Record", "record"),
        ("Dial", "dial"),
        ("sendsms", "sendsms"),
        ("SendSms", "sendsms"),
        ("Say-As", "say-as"),
        ("say-as", "say-as"),
        ("SAY-AS", "say-as"),
        ("sayas", "say-as"),
        ("SayAs", "say-as"),
        ("playdtmf-i", "playdtmf-i"),
        ("playtdtmf-i", "playdtmf-i"),
        ("PlayTDtmf-I", "playdtmf-i"),
        ("Start-Record", "start-record"),
        ("CCTransfer", "cctransfer"),
        ("Stream", "stream"),
        ("Context", "context"),
    ],
)
def test_lookup_is_case_insensitive_and_knows_aliases(spelling: str, tag: str) -> None:
    spec = lookup(spelling)
    assert spec is not None
    assert spec.tag == tag
    assert spec is BY_TAG[tag]


@pytest.mark.parametrize("spelling", ["Say", "Gather", "Play", "Redirect", "Sms", ""])
def test_lookup_of_tags_kookoo_does_not_have(spelling: str) -> None:
    assert lookup(spelling) is None


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        (
            AttrSpec("x", "x", "choice", "d", ("a", "b")),
            "one of 'a', 'b'",
        ),
        (
            AttrSpec("x", "x", "bool", "d", true_text="yes", false_text="no"),
            "True or False (written 'yes'/'no')",
        ),
        (
            AttrSpec("x", "x", "bool", "d", also=("",)),
            "True or False (written 'true'/'false') or ''",
        ),
        (
            AttrSpec("x", "x", "choice", "d", ("a", "b"), open=True),
            "a string; known values 'a', 'b'",
        ),
        (AttrSpec("x", "x", "int", "d", minimum=1, maximum=9), "a whole number from 1 to 9"),
        (AttrSpec("x", "x", "int", "d", minimum=0, unit="ms"), "a whole number >= 0 ms"),
        (AttrSpec("x", "x", "int", "d"), "a whole number"),
        (AttrSpec("x", "x", "url", "d"), "an absolute URL"),
        (AttrSpec("x", "x", "str", "d"), "a string"),
    ],
)
def test_describe_allowed(attr: AttrSpec, expected: str) -> None:
    assert attr.describe_allowed() == expected


def test_the_simulator_and_cli_read_waits_and_defaults_from_the_schema() -> None:
    from kookoo.testing import simulator as testing

    # One table: the simulator's view of what KooKoo waits for is the schema's, not a copy.
    assert testing._WAITS is schema.WAITS_FOR
    assert testing._PROCESS is schema.HANGUP_PROCESS
    assert testing.WaitingFor is schema.WaitingFor
    assert testing.DEFAULT_CALLER is schema.DEFAULT_CALLER
    assert testing.DEFAULT_CALLED_NUMBER is schema.DEFAULT_CALLED_NUMBER


def test_collect_dtmf_attributes_have_the_shape_its_inline_checks_assume() -> None:
    # Response.collect_dtmf checks its attributes inline (the hottest builder): it accepts an
    # int at or above the minimum without _encode, and a terminator from the closed choices.
    spec = BY_TAG["collectdtmf"]
    by_keyword = spec.attr_by_keyword
    assert [a.keyword for a in spec.attrs] == ["max_digits", "terminator", "timeout_ms"]
    for keyword in ("max_digits", "timeout_ms"):
        assert by_keyword[keyword].kind == "int"
        assert by_keyword[keyword].minimum is not None
        assert by_keyword[keyword].maximum is None
    assert by_keyword["terminator"].kind == "choice"
    assert not by_keyword["terminator"].open
