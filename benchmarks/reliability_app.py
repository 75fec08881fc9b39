"""The app the crash-durability run serves: a two-question flow whose answer triggers a slow
side effect, once in each mode (``/least``: ``call.once``; ``/most``: ``call.at_most_once``).

Each run of the side effect appends ``<key> <mode> <pid>`` to ``$KOOKOO_EFFECTS``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from typing import Any

from kookoo import KooKoo
from kookoo.flow import FlowCall, Skipped, Step
from kookoo.state.stores.sqlite import SQLiteStore

SLOW_SECONDS = float(os.environ.get("KOOKOO_EFFECT_SECONDS", "0.2"))

app = KooKoo("reliability", store=SQLiteStore(os.environ["KOOKOO_DB"]))


def effect(mode: str, *, idempotency_key: str) -> str:
    """A slow side effect (an SMS gateway, a payment): the worker may die in the middle."""
    time.sleep(SLOW_SECONDS / 2)
    with open(os.environ["KOOKOO_EFFECTS"], "a", encoding="utf-8") as out:
        out.write(f"{idempotency_key} {mode} {os.getpid()}\n")
    time.sleep(SLOW_SECONDS / 2)
    return "done"


def _flow(mode: str) -> Any:
    def flow(call: FlowCall) -> Generator[Step, Any, None]:
        yield call.ask_digits("Press 1 to confirm", max_digits=1)
        run = call.once if mode == "least" else call.at_most_once
        result = run(effect, mode, key_param="idempotency_key")
        said = "skipped" if isinstance(result, Skipped) else result
        yield call.say(f"Effect {said}").hangup()

    flow.__qualname__ = f"flow_{mode}"
    return flow


app.flow("/least")(_flow("least"))
app.flow("/most")(_flow("most"))
