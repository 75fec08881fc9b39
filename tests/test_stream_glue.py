"""Response.stream(handler=...): the app signs the bot's token into x-uui."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from werkzeug.test import Client

from kookoo import KooKoo, NewCall, Response
from kookoo.stream.tokens import TOKEN_KEY, verify_stream_token

SECRET = "s3cret-for-stream-tests-0123456789"


def _app(secret: str | None) -> KooKoo:
    app = KooKoo(store=False, secret=secret if secret else False)

    @app.on_new_call
    def bot(event: NewCall) -> Response:
        return Response(sid=event.sid).stream(
            "520000", url="wss://bots.example.in/ws", handler="echo", data={"lang": "hi"}
        )

    return app


def test_the_app_signs_the_stream_token_for_the_call() -> None:
    resp = Client(_app(SECRET)).get(f"/?event=NewCall&sid=41&kk_token={SECRET}")
    element = etree.fromstring(resp.data).find("stream")
    assert element is not None
    assert (element.text, element.get("url")) == ("520000", "wss://bots.example.in/ws")
    uui = json.loads(element.get("x-uui") or "")
    assert (uui["lang"], uui["sid"]) == ("hi", "41")
    token = verify_stream_token(SECRET, uui[TOKEN_KEY], sid="41", handler="echo")
    assert token.handler == "echo"
    with pytest.raises(ValueError, match="signed for call 41, not 42"):
        verify_stream_token(SECRET, uui[TOKEN_KEY], sid="42", handler="echo")


def test_an_app_without_a_secret_cannot_sign_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resp = Client(_app(None)).get("/?event=NewCall&sid=43")
    assert b"Sorry, something went wrong" in resp.data
    assert "stream(handler='echo') signs a token with the app's secret" in caplog.text


def test_handler_and_uui_together_are_refused() -> None:
    with pytest.raises(TypeError, match="not both"):
        Response().stream("520000", uui="{}", handler="echo")


@pytest.mark.parametrize("keeps_state", [False, True])
def test_a_stream_event_gets_the_reply_the_bot_left(keeps_state: bool) -> None:
    from kookoo import Call
    from kookoo.state.stores import MemoryStore
    from kookoo.stream import pending_reply, set_pending_reply

    store = MemoryStore()
    app = KooKoo(store=store)
    if keeps_state:

        @app.on_new_call
        def bot(event: NewCall, call: Call) -> Response:
            return Response(sid=event.sid).stream("520000", url="wss://b.example.in/ws")

    else:

        @app.on_new_call
        def bot_stateless(event: NewCall) -> Response:
            return Response(sid=event.sid).stream("520000", url="wss://b.example.in/ws")

    client = Client(app)
    client.get("/?event=NewCall&sid=44")
    # the bot's socket side: hang_up_bot(next=...) leaves the reply in the store
    set_pending_reply(store, "44", Response(sid="44").play_text("Back to the menu").hangup())
    resp = client.get("/?event=Stream&sid=44&status=completed&callduration=12")
    assert resp.data == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<response sid="44"><playtext>Back to the menu</playtext><hangup/></response>'
    )
    # taken out of the store either way: the next Stream request does not play it again
    assert pending_reply(store, "44") is None
    again = client.get("/?event=Stream&sid=44&status=completed&callduration=13")
    assert b"Back to the menu" not in again.data
