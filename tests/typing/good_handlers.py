"""Handlers that keep the contract: mypy --strict must report nothing here.

Checked by tests/test_typing.py; never imported by the suite.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from werkzeug.wrappers import Request

from kookoo import Call, CollectDtmf, Event, GotDTMF, Hangup, KooKoo, NewCall, Response
from kookoo.flow import FlowCall, Step
from kookoo.web import Reply, RequestContext

app = KooKoo()


@app.on_new_call
def welcome(event: NewCall, call: Call) -> Response:
    return Response().play_text("hi").next_step("menu")


@app.on_dtmf(step="menu")
def menu(event: GotDTMF, call: Call, request: Request) -> CollectDtmf:
    return Response().collect_dtmf(max_digits=1).play_text("again")


@app.on(GotDTMF, route="/lang/<lang>")
def by_lang(event: Event, lang: str) -> str:
    return "<response><hangup/></response>"


@app.on_hangup
def bye(event: Hangup, call: Call) -> None:
    return None


@app.errorhandler(KeyError)
def missing(error: KeyError, event: Event, call: Call) -> Response:
    return Response().hangup()


@app.flow("/survey")
def survey(call: FlowCall) -> Generator[Step, Any, None]:
    age = yield call.ask_digits("age", max_digits=2)
    yield call.say(f"{age}").hangup()


@app.before_dispatch
def closed(event: Event, ctx: RequestContext) -> Response | None:
    return None if ctx.route else Response().hangup()


@app.after_response
def audit(ctx: RequestContext, reply: Reply) -> None:
    return None


@app.on_new_call(route="/signed", signed=True)
def signed_start(event: NewCall) -> Response:
    return Response().hangup()


# The decorators give the function back unchanged, with its own type.
reveal_welcome: Response = welcome(NewCall(sid="1"), Call("1"))
