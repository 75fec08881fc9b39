"""Click-to-call: a "call me" button rings your agent first, then connects the customer.

:func:`connect` asks KooKoo (``outbound.php``) to call the agent; when the agent answers,
KooKoo requests this app with ``NewCall`` and the ``customer`` query parameter it was given,
and the app dials the customer.  When everything is over KooKoo POSTs the outcome to
``/ended`` (a :class:`~kookoo.CallStatus`), which is written as one JSON line to
``$CLICK_TO_CALL_LOG``.

Serve it (and place calls with ``pip install 'kookoo[outbound]'`` and ``$KOOKOO_API_KEY``)::

    CLICK_TO_CALL_LOG=calls.jsonl gunicorn -w 2 -b 127.0.0.1:8000 examples.click_to_call:app
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from kookoo import Call, CallStatus, Dial, KooKoo, NewCall, PhoneNumber, Response

if TYPE_CHECKING:
    from kookoo.outbound import Client, QueuedCall

app = KooKoo("click-to-call")


def connect(client: Client, agent: str, customer: str, *, base_url: str) -> QueuedCall:
    """Ring ``agent``; once they answer, the app dials ``customer``."""
    number = PhoneNumber.parse(customer)
    if number.national is None:
        raise ValueError(f"customer: {customer!r} is not an Indian phone number")
    query = urlencode({"customer": number.national})
    return client.place_call(agent, url=f"{base_url}/?{query}", callback_url=f"{base_url}/ended")


@app.on_new_call
def agent_answered(event: NewCall, call: Call) -> Response:
    customer = event.params.get("customer", "")
    if not (customer.isdigit() and len(customer) == 10):
        return Response(sid=event.sid).play_text("This call has no customer to connect.").hangup()
    call.state["customer"] = customer
    reply = Response(sid=event.sid).play_text("Connecting you to the customer.")
    return reply.dial("0" + customer, record=True, moh="ring").next_step("bridged")


@app.on_dial(step="bridged")
def customer_done(event: Dial, call: Call) -> Response:
    call.state.update(answered=event.answered, talk_seconds=event.talk_seconds)
    if event.answered:
        return Response(sid=event.sid).hangup()
    return Response(sid=event.sid).play_text("The customer did not answer. Goodbye.").hangup()


@app.on_call_status(route="/ended")
def call_ended(event: CallStatus) -> None:
    record = {
        "sid": event.sid,
        "status": event.status,
        "details": event.status_details,
        "agent": str(event.phone_no) if event.phone_no else None,
        "seconds": event.duration_seconds,
    }
    path = Path(os.environ.get("CLICK_TO_CALL_LOG", "click-to-call.jsonl"))
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")  # kookoo answers KooKoo with a plain OK
