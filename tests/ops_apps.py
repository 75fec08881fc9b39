"""An app the production tests serve under gunicorn (``--pythonpath tests``): every setting
from ``KOOKOO_*`` variables; each reply names the worker that made it."""

from __future__ import annotations

import os

from kookoo import Call, KooKoo, NewCall, Response

app = KooKoo("ops")


@app.on_new_call
def hello(event: NewCall, call: Call) -> Response:
    call.state["worker"] = os.getpid()
    return Response(sid=event.sid).play_text(f"worker {os.getpid()}")
