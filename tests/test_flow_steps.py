"""A flow step is a Response: the builders' own typed methods, in one round trip."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest
from werkzeug.test import Client

from kookoo import KooKoo, Response
from kookoo.flow import FlowCall, Step
from kookoo.state.stores import MemoryStore

DECL = "<?xml version='1.0' encoding='UTF-8'?>\n"


def get(client: Client, **params: str) -> str:
    return client.get("/", query_string={"sid": "77", **params}).text


def test_a_step_carries_an_sms_and_two_prompts_before_a_question() -> None:
    app = KooKoo(store=MemoryStore())

    @app.flow()
    def order(call: FlowCall) -> Generator[Step, Any, None]:
        step = call.say("Welcome to Pizza Line", lang="EN").play_audio("http://x.in/jingle.wav")
        step.send_sms("Your order has started", to="9876543210")
        with step.collect_dtmf(max_digits=1, timeout_ms=3000) as menu:
            menu.play_text("Press 1 for veg, 2 for non-veg")
        kind = yield step
        yield call.say(f"You chose {kind}").hangup()

    client = Client(app)
    assert get(client, event="NewCall", cid="09876543210") == DECL + (
        '<response sid="77"><playtext lang="EN">Welcome to Pizza Line</playtext>'
        "<playaudio>http://x.in/jingle.wav</playaudio>"
        '<sendsms to="9876543210">Your order has started</sendsms>'
        '<collectdtmf l="1" o="3000"><playtext>Press 1 for veg, 2 for non-veg</playtext>'
        "</collectdtmf></response>"
    )
    assert get(client, event="GotDTMF", data="2") == DECL + (
        '<response sid="77"><playtext>You chose 2</playtext><hangup/></response>'
    )


def test_a_blank_step_takes_any_builder_and_names_its_answer() -> None:
    app = KooKoo(store=MemoryStore())
    answers: list[dict[str, Any]] = []

    @app.flow(on_hangup=lambda call, got: answers.append(got))
    def city(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.step("city").play_text("Say your city").recognize(lang="hi-IN")
        yield call.hangup("Thanks")

    client = Client(app)
    reply = get(client, event="NewCall")
    assert reply == DECL + (
        '<response sid="77"><playtext>Say your city</playtext><recognize lang="hi-IN"/></response>'
    )
    get(client, event="Recognize", data="Pune")
    get(client, event="Hangup")
    assert answers == [{"city": "Pune"}]


def test_elements_after_the_reported_element_are_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = KooKoo(store=MemoryStore())

    @app.flow()
    def broken(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.ask_digits("Press a key", max_digits=1).play_text("never heard")

    with caplog.at_level(logging.ERROR, logger="kookoo"):
        reply = get(Client(app), event="NewCall")
    assert "Sorry, something went wrong" in reply
    assert (
        "a step ends with the element KooKoo reports back (<collectdtmf>); start a new step "
        "for <playtext>"
    ) in caplog.text


def test_step_expects_follows_its_last_reported_element() -> None:
    assert Step().play_text("hi").expects.__name__ == "Continue"
    assert Step().play_text("hi").hangup().expects.__name__ == "Disconnect"
    assert Step().record("msg", max_seconds=5).expects.__name__ == "Record"
    assert Step().dial("08041169706").expects.__name__ == "Dial"
    assert Step().goto_url("http://x.in/ivr").jumps
    assert isinstance(Step(), Response)
