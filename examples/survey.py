"""A caller survey written as one straight-line flow: age, then a recorded story.

Serve it::

    gunicorn -w 2 -b 127.0.0.1:8000 examples.survey:app

Each ``yield`` sends one KooKoo reply; the next request replays the function against the call's
journal (kept in the SQLite store, so any gunicorn worker can continue the call).  Saving the
answer goes through ``call.once`` so it happens exactly once per call, however often the
function replays.  Answers go to ``$SURVEY_RESULTS`` (default ``survey-results.jsonl``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import Any

from kookoo import KooKoo
from kookoo.flow import FlowCall, Step

app = KooKoo("survey")


def results_path() -> str:
    return os.environ.get("SURVEY_RESULTS", "survey-results.jsonl")


def save(kind: str, sid: str, **fields: Any) -> None:
    """Append one JSON line: stands in for the app's database."""
    with open(results_path(), "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "sid": sid, **fields}) + "\n")


def valid_age(digits: str) -> bool:
    """An age from 1 to 120; ``*`` or any other key that is not a digit is no age."""
    return digits.isdecimal() and digits.isascii() and 1 <= int(digits) <= 120


def on_hangup(call: FlowCall, answers: dict[str, Any]) -> None:
    """The caller hung up before the end: keep what they told us."""
    call.once(save, "partial", call.sid, answers={k: str(v) for k, v in answers.items()})


@app.flow("/", on_hangup=on_hangup)
def survey(call: FlowCall) -> Generator[Step, Any, None]:
    try:
        age = yield from call.ask(
            "Please enter your age, then press hash.",
            max_digits=3,
            terminator="#",
            valid=valid_age,
            name="age",
        )
        if age is None:
            yield call.hangup("We could not get your age. Goodbye.")
            return
        story = yield call.record(
            "Tell us about your day after the beep. Press hash when you are done.",
            max_seconds=30,
            name="story",
        )
        call.once(save, "story", call.sid, age=int(age), url=story.url)
        yield call.say("Thank you. Your story is saved. Goodbye.").hangup()
    finally:
        # Runs once, when the flow really ends (completed or hung up).
        call.once(save, "ended", call.sid)
