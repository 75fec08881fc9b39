"""Appointment reminders: place a call to each patient, ask "press 1 to confirm, 2 to cancel",
record the answer, confirm it by SMS, and call once more when nobody answered.

Serve it (the secret signs the URLs KooKoo calls back, so nobody can answer for a patient)::

    KOOKOO_SECRET=... gunicorn -w 2 -b 127.0.0.1:8000 examples.reminder:app

and place the calls from a script or a cron job::

    from kookoo.outbound import Client
    from examples.reminder import Patient, place_reminders, place_due_retries
    client = Client()                       # KOOKOO_API_KEY
    place_reminders(client, [Patient("p-17", "9876543210", "10:30 tomorrow")],
                    base_url="https://ivr.example.in")
    place_due_retries(client, base_url="https://ivr.example.in")   # every few minutes

Answers go to ``$REMINDER_RESULTS`` (default ``reminder-results.jsonl``); retries wait in
``$REMINDER_RETRIES`` (default ``reminder-retries.jsonl``): stand-ins for the clinic's database.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kookoo import Call, CallStatus, GotDTMF, KooKoo, NewCall, Response
from kookoo.outbound import Client, OutboundError, QueuedCall

app = KooKoo("reminder")  # its secret comes from KOOKOO_SECRET

#: How long after an unanswered call the one retry is due.
RETRY_AFTER_SECONDS = 30 * 60


@dataclass(frozen=True)
class Patient:
    """Who to remind, at which number, of what."""

    id: str
    phone: str
    when: str


def _append(variable: str, default: str, record: dict[str, Any]) -> None:
    with open(os.environ.get(variable, default), "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def _read(variable: str, default: str) -> list[dict[str, Any]]:
    try:
        with open(os.environ.get(variable, default), encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []


def place_call(client: Client, patient: Patient, *, base_url: str, attempt: int) -> QueuedCall:
    """Place one reminder call; KooKoo calls back on ``/remind`` and ``/ended``, signed."""
    return client.place_call(
        patient.phone,
        url=app.signed_url(f"{base_url}/remind", patient=patient.id, when=patient.when),
        callback_url=app.signed_url(
            f"{base_url}/ended",
            patient=patient.id,
            when=patient.when,
            phone=patient.phone,
            attempt=attempt,
        ),
    )


def place_reminders(
    client: Client, patients: Iterable[Patient], *, base_url: str
) -> list[QueuedCall | OutboundError]:
    """Place the first call to each patient; a refused one (DND, outside 9 am-9 pm, ...) is
    returned as its error, not raised, so one bad number does not stop the list."""
    placed: list[QueuedCall | OutboundError] = []
    for patient in patients:
        try:
            placed.append(place_call(client, patient, base_url=base_url, attempt=1))
        except OutboundError as exc:
            placed.append(exc)
    return placed


def place_due_retries(client: Client, *, base_url: str, now: float | None = None) -> int:
    """Place the retries that are due (run it every few minutes); return how many."""
    now = time.time() if now is None else now
    retries = _read("REMINDER_RETRIES", "reminder-retries.jsonl")
    done = {r["patient"] for r in _read("REMINDER_RESULTS", "reminder-results.jsonl")}
    done |= {r["patient"] for r in retries if r.get("placed")}
    placed = 0
    for retry in retries:
        if retry["due"] <= now and retry["patient"] not in done:
            patient = Patient(retry["patient"], retry["phone"], retry["when"])
            place_call(client, patient, base_url=base_url, attempt=2)
            _append("REMINDER_RETRIES", "reminder-retries.jsonl", {**retry, "placed": True})
            done.add(patient.id)
            placed += 1
    return placed


@app.on_new_call(route="/remind", signed=True)  # the patient comes from a signed URL
def ask(event: NewCall, call: Call) -> Response:
    """The patient answered: remind them and ask for a key."""
    call.state["patient"] = event.params["patient"]
    reply = Response(sid=event.sid)
    with reply.collect_dtmf(max_digits=1, timeout_ms=6000) as menu:
        menu.play_text(f"This is a reminder of your appointment at {event.params['when']}.")
        menu.play_text("Press 1 to confirm, or 2 to cancel.")
    return reply.next_step("answer")


@app.on_dtmf(route="/remind", step="answer")
def answer(event: GotDTMF, call: Call) -> Response:
    """Record the answer and confirm it by SMS; ask again for any other key."""
    choice = {"1": "confirmed", "2": "cancelled"}.get(event.digits or "")
    if choice is None:
        reply = Response(sid=event.sid)
        with reply.collect_dtmf(max_digits=1, timeout_ms=6000) as menu:
            menu.play_text("Sorry. Press 1 to confirm, or 2 to cancel.")
        return reply
    _append(
        "REMINDER_RESULTS",
        "reminder-results.jsonl",
        {"patient": call.state["patient"], "answer": choice, "sid": event.sid},
    )
    text = f"Your appointment at {event.params['when']} is {choice}."
    reply = Response(sid=event.sid).play_text(f"Thank you. {text}")
    if call.caller is not None:
        reply.send_sms(text, to=call.caller)
    return reply.hangup()


@app.on_call_status(route="/ended", signed=True)
def ended(event: CallStatus) -> None:
    """KooKoo's completion callback: nobody answered the first call, so try once more later."""
    if event.answered or event.params.get("attempt") != "1":
        return
    _append(
        "REMINDER_RETRIES",
        "reminder-retries.jsonl",
        {
            "patient": event.params["patient"],
            "phone": event.params["phone"],
            "when": event.params["when"],
            "due": time.time() + RETRY_AFTER_SECONDS,
            "reason": event.status_details or event.status,
        },
    )
