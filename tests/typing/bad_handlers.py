"""Handlers that break the contract: mypy --strict must report every line marked `# error`.

Checked by tests/test_typing.py; never imported by the suite.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from kookoo import Call, GotDTMF, KooKoo, NewCall, Response
from kookoo.flow import FlowCall, Step

app = KooKoo(store=False)


@app.on_new_call  # error: a NewCall handler whose event is typed GotDTMF
def wrong_event(event: GotDTMF) -> Response:
    return Response().hangup()


@app.on_new_call  # error: returns int
def returns_int(event: NewCall) -> int:
    return 1


@app.on(NewCall, route="/x")  # error: wrong event type through on()
def wrong_event_on(event: GotDTMF, call: Call) -> Response:
    return Response().hangup()


@app.on_dtmf(step="menu")  # error: returns a list
def returns_list(event: GotDTMF) -> list[str]:
    return []


@app.flow("/survey")  # error: a flow that is not a generator
def not_a_generator(call: FlowCall) -> Response:
    return Response().hangup()


@app.errorhandler(KeyError)  # error: the error handler takes a ValueError
def wrong_error(error: ValueError, event: NewCall) -> Response:
    return Response().hangup()


@app.before_dispatch  # error: a hook takes the event and the request's context
def hook_without_context(event: NewCall) -> None:
    return None


@app.after_response  # error: an after_response hook takes the context and the reply
def after_wrong(reply: Response) -> None:
    return None


@app.flow("/ok")
def fine_flow(call: FlowCall) -> Generator[Step, Any, None]:
    yield call.say("fine").hangup()
