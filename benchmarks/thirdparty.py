"""The comparison apps and builders that need ``kookoo[bench]``: twilio-python, plivo, Flask.

Each builds the same menu as :mod:`benchmarks.apps` in its own dialect: TwiML
(``<Say>``, ``<Play>``, ``<Gather numDigits finishOnKey timeout>``) and Plivo XML
(``<Speak>``, ``<Play>``, ``<GetDigits>``).  Import it only after checking that the libraries
are installed (:func:`benchmarks.cases.missing_comparisons`); gunicorn serves
``benchmarks.thirdparty:flask_twilio_app``.
"""

from __future__ import annotations

from flask import Flask, request
from flask import Response as FlaskResponse
from plivo import plivoxml  # type: ignore[import-untyped]
from twilio.twiml.voice_response import Gather, VoiceResponse  # type: ignore[import-untyped]

from benchmarks.apps import (
    MAX_DIGITS,
    MENU,
    MENU_AUDIO,
    ROUTE,
    TERMINATOR,
    TIMEOUT_MS,
    WELCOME,
    WELCOME_AUDIO,
)

__all__ = [
    "build_plivo",
    "build_twilio",
    "flask_plivo_app",
    "flask_twilio_app",
]


def build_twilio() -> bytes:
    """The menu as TwiML with twilio-python's ``VoiceResponse``."""
    r = VoiceResponse()
    r.say(WELCOME)
    r.play(WELCOME_AUDIO)
    gather = Gather(num_digits=MAX_DIGITS, finish_on_key=TERMINATOR, timeout=TIMEOUT_MS // 1000)
    gather.say(MENU)
    gather.play(MENU_AUDIO)
    r.append(gather)
    return str(r.to_xml()).encode("utf-8")


def build_plivo() -> bytes:
    """The menu as Plivo XML with ``plivoxml``."""
    r = plivoxml.ResponseElement()
    r.add_speak(WELCOME)
    r.add_play(WELCOME_AUDIO)
    digits = plivoxml.GetDigitsElement(
        num_digits=MAX_DIGITS, finish_on_key=TERMINATOR, timeout=TIMEOUT_MS // 1000
    )
    digits.add_speak(MENU)
    digits.add_play(MENU_AUDIO)
    r.add(digits)
    return str(r.to_string(pretty=False)).encode("utf-8")


def _unsupported(status: int, message: str) -> FlaskResponse:
    return FlaskResponse(message + "\n", status=status, mimetype="text/plain")


flask_twilio_app = Flask("bench_flask_twilio")
"""Flask + twilio-python: the menu as TwiML."""


@flask_twilio_app.get(ROUTE)
def _twilio_ivr() -> FlaskResponse:
    if request.args.get("event") != "NewCall":
        return _unsupported(400, "Unsupported event")
    return FlaskResponse(build_twilio(), mimetype="text/xml")


flask_plivo_app = Flask("bench_flask_plivo")
"""Flask + plivo: the menu as Plivo XML."""


@flask_plivo_app.get(ROUTE)
def _plivo_ivr() -> FlaskResponse:
    if request.args.get("event") != "NewCall":
        return _unsupported(400, "Unsupported event")
    return FlaskResponse(build_plivo(), mimetype="text/xml")
