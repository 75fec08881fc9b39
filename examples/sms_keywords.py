"""An SMS keyword responder: KooKoo forwards texts sent with the app's keyword as ``NewSms``.

Serve it::

    gunicorn -w 2 -b 127.0.0.1:8000 examples.sms_keywords:app

The first word after the app's keyword picks the answer (``ACME HOURS``, ``ACME STATUS 42``);
the reply is a ``<sendsms>`` to the sender.  SMS requests keep no call state (``store=False``).
"""

from __future__ import annotations

from kookoo import KooKoo, NewSms, Response

app = KooKoo("sms-keywords", store=False)

#: The keyword registered for this app on KooKoo's shared number.
KEYWORD = "ACME"
#: Order number -> status; a real app asks its order system.
ORDERS = {"42": "shipped", "43": "being packed"}
HELP = "Send ACME HOURS for opening hours or ACME STATUS <order> for an order."


def answer(words: list[str]) -> str:
    """The text to send back for the words after the keyword."""
    command = words[0].upper() if words else "HELP"
    if command == "HOURS":
        return "Acme is open 9 am to 6 pm, Monday to Saturday."
    if command == "STATUS" and len(words) > 1:
        status = ORDERS.get(words[1])
        return f"Order {words[1]} is {status}." if status else f"We found no order {words[1]}."
    return HELP


@app.on_sms
def reply(event: NewSms) -> Response:
    words = (event.message or "").split()
    if words and words[0].upper() == KEYWORD:
        words = words[1:]
    return Response(sid=event.sid).send_sms(answer(words), to=event.sender)
