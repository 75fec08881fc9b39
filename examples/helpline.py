"""A multilingual helpline that remembers each caller's language for their next call.

Serve it::

    HELPLINE_DB=helpline.sqlite3 gunicorn -w 2 -b 127.0.0.1:8000 examples.helpline:app

A first-time caller chooses English, Hindi or Tamil; the choice is stored against their number
(in SQLite at ``$HELPLINE_DB``, shared by every worker), so the next call starts in that
language at once, with "press 9 to change language".  Call state (the menu step) lives in
kookoo's own store as usual; the language memory outlives the call, so it has a table of its own.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

from kookoo import Call, Dial, GotDTMF, KooKoo, NewCall, Response
from kookoo.protocol.lang import PlayTextLanguage

app = KooKoo("helpline")

#: Key -> (language, its playtext code).
LANGUAGES: dict[str, tuple[str, PlayTextLanguage]] = {
    "1": ("en", "en-IN"),
    "2": ("hi", "hi-IN"),
    "3": ("ta", "ta-IN"),
}
CODES: dict[str, PlayTextLanguage] = dict(LANGUAGES.values())
PROMPTS = {
    "en": {
        "menu": "For our hours press 1. To speak to us press 2. For another language press 9.",
        "hours": "We are open from 9 am to 6 pm, Monday to Saturday. Goodbye.",
        "connecting": "Connecting you now.",
        "busy": "Everyone is busy. Please call again later. Goodbye.",
    },
    "hi": {
        "menu": "समय जानने के लिए 1 दबाएँ। बात करने के लिए 2 दबाएँ। भाषा बदलने के लिए 9 दबाएँ।",
        "hours": "हम सोमवार से शनिवार, सुबह 9 से शाम 6 बजे तक खुले हैं। धन्यवाद।",
        "connecting": "आपको जोड़ा जा रहा है।",
        "busy": "सभी लोग व्यस्त हैं। कृपया बाद में कॉल करें।",
    },
    "ta": {
        "menu": "நேரம் அறிய 1 அழுத்தவும். பேச 2 அழுத்தவும். மொழியை மாற்ற 9 அழுத்தவும்.",
        "hours": "திங்கள் முதல் சனி வரை காலை 9 முதல் மாலை 6 வரை திறந்திருக்கும். நன்றி.",
        "connecting": "இணைக்கிறோம்.",
        "busy": "அனைவரும் பிஸியாக உள்ளனர். பின்னர் அழைக்கவும்.",
    },
}
AGENTS = "08041169706"


class LanguageMemory:
    """Each caller's language, by their E.164 number, in a small SQLite table."""

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS language (caller TEXT PRIMARY KEY, lang TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def get(self, caller: str) -> str | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT lang FROM language WHERE caller = ?", (caller,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, caller: str, lang: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO language VALUES (?, ?)", (caller, lang))


def memory() -> LanguageMemory:
    """The language memory at ``$HELPLINE_DB`` (``helpline.sqlite3`` here by default)."""
    return LanguageMemory(os.environ.get("HELPLINE_DB", "helpline.sqlite3"))


def language_menu(sid: str) -> Response:
    reply = Response(sid=sid)
    with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
        menu.play_text("For English press 1.", lang="en-IN")
        menu.play_text("हिंदी के लिए 2 दबाएँ।", lang="hi-IN")
        menu.play_text("தமிழுக்கு 3 அழுத்தவும்.", lang="ta-IN")
    return reply.next_step("language")


def say(call: Call, key: str) -> Response:
    lang = call.state["lang"]
    return Response(sid=call.sid).play_text(PROMPTS[lang][key], lang=CODES[lang])


def main_menu(call: Call) -> Response:
    lang = call.state["lang"]
    reply = Response(sid=call.sid)
    reply.collect_dtmf(max_digits=1, timeout_ms=5000).play_text(
        PROMPTS[lang]["menu"], lang=CODES[lang]
    )
    return reply.next_step("menu")


@app.on_new_call
def welcome(event: NewCall, call: Call) -> Response:
    known = memory().get(str(event.caller)) if event.caller else None
    if known is None:
        return language_menu(event.sid)
    call.state["lang"] = known
    return main_menu(call)


@app.on_dtmf(step="language")
def choose_language(event: GotDTMF, call: Call) -> Response:
    if event.digits not in LANGUAGES:
        return language_menu(event.sid)
    call.state["lang"] = lang = LANGUAGES[event.digits][0]
    if call.caller is not None:
        memory().set(str(call.caller), lang)
    return main_menu(call)


@app.on_dtmf(step="menu")
def choose(event: GotDTMF, call: Call) -> Response:
    if event.digits == "1":
        return say(call, "hours").hangup()
    if event.digits == "2":
        return say(call, "connecting").dial(AGENTS, moh="ring").next_step("agent")
    if event.digits == "9":
        return language_menu(event.sid)
    return main_menu(call)


@app.on_dial(step="agent")
def after_agent(event: Dial, call: Call) -> Response:
    if event.answered:
        return Response(sid=event.sid).hangup()
    return say(call, "busy").hangup()
