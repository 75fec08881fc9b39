"""A two-level phone menu: choose a language, then a department; hear the address or be
transferred with ``dial``.

Serve it::

    gunicorn -w 2 -b 127.0.0.1:8000 examples.menu:app

Each menu is a *step*: the reply names the step that handles the caller's next key press, so
there is no if/else ladder over "where is this caller now".  Call state lives in the default
SQLite store (``kookoo-calls.sqlite3`` in the working directory, or ``$KOOKOO_DB``), so every
gunicorn worker sees it.
"""

from __future__ import annotations

from kookoo import Call, Dial, GotDTMF, Hangup, KooKoo, NewCall, Response
from kookoo.protocol.lang import PlayTextLanguage

app = KooKoo("menu")

#: Where the departments are; a real app reads these from its configuration.
DEPARTMENTS = {"1": ("sales", "08041169706"), "2": ("support", "08041169707")}
MAX_ATTEMPTS = 3

PROMPTS = {
    "en": {
        "department": "For sales press 1. For support press 2. To hear our address press 3.",
        "connecting": "Connecting you to {name}. Please hold.",
        "address": "We are at 42 MG Road, Bengaluru. Thank you for calling. Goodbye.",
        "invalid": "Sorry, that is not an option.",
        "busy": "Everyone on the {name} team is busy. Please call again later. Goodbye.",
        "thanks": "Thank you for calling Acme. Goodbye.",
        "no_input": "We did not get your choice. Goodbye.",
    },
    "hi": {
        "department": "बिक्री के लिए 1 दबाएँ। सहायता के लिए 2 दबाएँ। हमारा पता सुनने के लिए 3 दबाएँ।",
        "connecting": "आपको {name} से जोड़ा जा रहा है। कृपया प्रतीक्षा करें।",
        "address": "हमारा पता है 42 एम जी रोड, बेंगलुरु। कॉल करने के लिए धन्यवाद।",
        "invalid": "क्षमा करें, यह विकल्प नहीं है।",
        "busy": "{name} टीम के सभी लोग व्यस्त हैं। कृपया बाद में कॉल करें।",
        "thanks": "एक्मे को कॉल करने के लिए धन्यवाद।",
        "no_input": "हमें आपका विकल्प नहीं मिला। धन्यवाद।",
    },
}
LANG_CODES: dict[str, PlayTextLanguage] = {"en": "en-IN", "hi": "hi-IN"}


def say(call: Call, key: str, **values: str) -> tuple[str, PlayTextLanguage]:
    """The prompt ``key`` in the caller's language, and that language's TTS code."""
    lang = call.state.get("lang", "en")
    return PROMPTS[lang][key].format(**values), LANG_CODES[lang]


def language_menu(sid: str, prefix: str = "") -> Response:
    reply = Response(sid=sid)
    with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
        if prefix:
            menu.play_text(prefix)
        menu.play_text("Welcome to Acme. For English press 1.")
        menu.play_text("हिंदी के लिए 2 दबाएँ।", lang="hi-IN")
    return reply.next_step("language")


def department_menu(call: Call, prefix: str = "") -> Response:
    reply = Response(sid=call.sid)
    text, lang = say(call, "department")
    with reply.collect_dtmf(max_digits=1, timeout_ms=5000) as menu:
        if prefix:
            menu.play_text(prefix, lang=LANG_CODES[call.state.get("lang", "en")])
        menu.play_text(text, lang=lang)
    return reply.next_step("department")


def goodbye(call: Call, key: str, **values: str) -> Response:
    text, lang = say(call, key, **values)
    return Response(sid=call.sid).play_text(text, lang=lang).hangup()


def retry_or_give_up(call: Call, again: Response) -> Response:
    """Play ``again`` unless the caller has already had MAX_ATTEMPTS tries."""
    call.state["attempts"] = call.state.get("attempts", 0) + 1
    if call.state["attempts"] >= MAX_ATTEMPTS:
        return goodbye(call, "no_input")
    return again


@app.on_new_call
def welcome(event: NewCall, call: Call) -> Response:
    call.state["attempts"] = 0
    return language_menu(event.sid)


@app.on_dtmf(step="language")
def choose_language(event: GotDTMF, call: Call) -> Response:
    if event.digits in ("1", "2"):
        call.state.update(lang="en" if event.digits == "1" else "hi", attempts=0)
        return department_menu(call)
    prefix = "" if event.no_input else "Sorry, that is not an option."
    return retry_or_give_up(call, language_menu(event.sid, prefix))


@app.on_dtmf(step="department")
def choose_department(event: GotDTMF, call: Call) -> Response:
    if event.digits in DEPARTMENTS:
        name, number = DEPARTMENTS[event.digits]
        call.state["department"] = name
        text, lang = say(call, "connecting", name=name)
        reply = Response(sid=event.sid).play_text(text, lang=lang)
        return reply.dial(number, limit_seconds=3600, moh="ring").next_step("transfer")
    if event.digits == "3":
        return goodbye(call, "address")
    prefix = "" if event.no_input else say(call, "invalid")[0]
    return retry_or_give_up(call, department_menu(call, prefix))


@app.on_dial(step="transfer")
def after_transfer(event: Dial, call: Call) -> Response:
    if event.answered:
        return goodbye(call, "thanks")
    return goodbye(call, "busy", name=call.state.get("department", "Acme"))


@app.on_hangup
def caller_hung_up(event: Hangup, call: Call) -> None:
    # KooKoo ignores this reply; a real app would write a call record here.
    call.state["hung_up_in"] = event.process or "none"
