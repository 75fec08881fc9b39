"""Voicemail: the caller leaves a message, hears it back, and keeps it or records again.

Serve it::

    VOICEMAIL_OUTBOX=voicemail.jsonl gunicorn -w 2 -b 127.0.0.1:8000 examples.voicemail:app

Every kept message (and what a caller left before hanging up mid-recording) becomes one line
of JSON in ``$VOICEMAIL_OUTBOX``: an e-mail-ready record with a subject, a body and the
recording's URL, for a mailer or a queue to pick up.  :func:`email_for` turns one into a
standard-library :class:`~email.message.EmailMessage`.
"""

from __future__ import annotations

import json
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from kookoo import Call, GotDTMF, Hangup, KooKoo, NewCall, Record, Response

app = KooKoo("voicemail")

GREETING = "You have reached Acme. Please leave a message after the beep, then press hash."
KEEP_OR_REDO = "To keep this message press 1. To record it again press 2."


def outbox() -> Path:
    """Where messages go (``$VOICEMAIL_OUTBOX``, else ``voicemail.jsonl`` here)."""
    return Path(os.environ.get("VOICEMAIL_OUTBOX", "voicemail.jsonl"))


def message_record(call: Call, url: str, seconds: int | None, *, partial: bool) -> dict[str, Any]:
    """The e-mail-ready metadata of one message."""
    caller = str(call.caller) if call.caller else "an unknown number"
    length = f"{seconds} s" if seconds is not None else "unknown length"
    return {
        "sid": call.sid,
        "caller": caller,
        "url": url,
        "seconds": seconds,
        "partial": partial,
        "subject": f"Voicemail from {caller} ({length})",
        "body": f"Listen: {url}" + ("\n(The caller hung up while recording.)" if partial else ""),
    }


def save(record: dict[str, Any]) -> None:
    with outbox().open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def email_for(record: dict[str, Any], *, to: str) -> EmailMessage:
    """An e-mail for one message of the outbox, ready for :mod:`smtplib`."""
    mail = EmailMessage()
    mail["To"] = to
    mail["Subject"] = record["subject"]
    mail.set_content(record["body"])
    return mail


def record_prompt(sid: str, prefix: str = GREETING) -> Response:
    reply = Response(sid=sid).play_text(prefix)
    reply.record(f"voicemail-{sid}", format="mp3", silence_seconds=5, max_seconds=120)
    return reply.next_step("recording")


@app.on_new_call
def greet(event: NewCall) -> Response:
    return record_prompt(event.sid)


@app.on_record(step="recording")
def recorded(event: Record, call: Call) -> Response:
    if event.url is None:
        return record_prompt(
            event.sid, "We did not get a message. Please try again after the beep."
        )
    call.state.update(url=event.url, seconds=event.duration_seconds)
    reply = Response(sid=event.sid).play_text("You said:").play_audio(event.url)
    reply.collect_dtmf(max_digits=1, timeout_ms=5000).play_text(KEEP_OR_REDO)
    return reply.next_step("review")


@app.on_dtmf(step="review")
def review(event: GotDTMF, call: Call) -> Response:
    if event.digits == "2":
        return record_prompt(event.sid, "Please record your message after the beep.")
    # 1, or no answer: a message left is a message kept.
    save(message_record(call, call.state["url"], call.state["seconds"], partial=False))
    call.state["saved"] = True
    return Response(sid=event.sid).play_text("Your message is saved. Goodbye.").hangup()


@app.on_hangup
def hung_up(event: Hangup, call: Call) -> None:
    if call.state.get("saved"):
        return
    if event.recording_url is not None:  # hung up while recording: keep what we got
        save(message_record(call, event.recording_url, event.record_duration_seconds, partial=True))
    elif "url" in call.state:  # hung up while reviewing: the message is kept
        save(message_record(call, call.state["url"], call.state["seconds"], partial=False))
