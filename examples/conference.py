"""A conference line: callers enter their room's PIN and join the room.

Serve it::

    gunicorn -w 2 -b 127.0.0.1:8000 examples.conference:app

A caller who presses ``#`` in the conference leaves it; KooKoo then sends ``Conference`` and the
app says goodbye.  A wrong PIN is asked for again, three times at most.
"""

from __future__ import annotations

from kookoo import Call, Conference, GotDTMF, KooKoo, NewCall, Response

app = KooKoo("conference")

#: PIN -> conference room; a real app reads these from its bookings.
ROOMS = {"1234": "4001", "5678": "4002"}
MAX_ATTEMPTS = 3


def ask_pin(
    sid: str, text: str = "Welcome to Acme conferencing. Enter your PIN, then hash."
) -> Response:
    reply = Response(sid=sid)
    reply.collect_dtmf(max_digits=4, terminator="#", timeout_ms=8000).play_text(text)
    return reply.next_step("pin")


@app.on_new_call
def welcome(event: NewCall) -> Response:
    return ask_pin(event.sid)


@app.on_dtmf(step="pin")
def check_pin(event: GotDTMF, call: Call) -> Response:
    room = ROOMS.get(event.digits or "")
    if room is not None:
        call.state["room"] = room
        reply = Response(sid=event.sid).play_text("You are joining the conference.")
        return reply.conference(room, record=False).next_step("in_room")
    call.state["attempts"] = attempts = call.state.get("attempts", 0) + 1
    if attempts >= MAX_ATTEMPTS:
        return Response(sid=event.sid).play_text("Sorry, that PIN is not valid. Goodbye.").hangup()
    return ask_pin(event.sid, "That PIN is not valid. Please enter it again, then hash.")


@app.on_conference(step="in_room")
def left_room(event: Conference) -> Response:
    return Response(sid=event.sid).play_text("You have left the conference. Goodbye.").hangup()
