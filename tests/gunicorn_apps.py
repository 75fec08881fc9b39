"""Small apps that the gunicorn integration tests serve (``--pythonpath tests``)."""

from __future__ import annotations

from kookoo import GotDTMF, KooKoo, NewCall, Response

broken = KooKoo("broken", store=False, fallback_prompt="Sorry, please call again.")


@broken.on_new_call
def welcome(event: NewCall) -> Response:
    return Response(sid=event.sid).collect_dtmf(max_digits=1).play_text("Press a key")  # type: ignore[return-value]


@broken.on_dtmf
def crash(event: GotDTMF) -> Response:
    raise RuntimeError(f"this handler always fails (digits {event.digits})")
