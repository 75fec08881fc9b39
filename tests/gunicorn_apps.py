"""Small apps that the gunicorn integration tests serve (``--pythonpath tests``)."""

from __future__ import annotations

import os

from kookoo import Call, GotDTMF, KooKoo, NewCall, Response

broken = KooKoo("broken", store=False, fallback_prompt="Sorry, please call again.")


@broken.on_new_call
def welcome(event: NewCall) -> Response:
    return Response(sid=event.sid).collect_dtmf(max_digits=1).play_text("Press a key")  # type: ignore[return-value]


@broken.on_dtmf
def crash(event: GotDTMF) -> Response:
    raise RuntimeError(f"this handler always fails (digits {event.digits})")


counter = KooKoo("counter")  # the default SQLite store; KOOKOO_DB points it at a temp file


@counter.on_new_call
def start_counting(event: NewCall, call: Call) -> Response:
    call.state["presses"] = []
    return Response(sid=event.sid).play_text(f"hello {call.caller}")


@counter.on_dtmf
def count_press(event: GotDTMF, call: Call) -> Response:
    call.state["presses"].append(event.digits)
    presses = ",".join(call.state["presses"])
    return Response(sid=event.sid).play_text(f"{call.caller} {os.getpid()} {presses}")
