"""Linear call flows: a whole call written as one straight-line generator function.

The API a flow is written against (:class:`FlowCall`, :class:`Step` and what steps return)
is :mod:`kookoo.flow.api`; how a flow is run between KooKoo's requests (replay of the
call's journal, kept generators) is :mod:`kookoo.flow.runner`.

::

    @app.flow("/survey")
    def survey(call):
        age = yield call.ask_digits("Please enter your age", max_digits=2)
        yield call.say(f"You are {age}").hangup()
"""

from __future__ import annotations

from kookoo.flow.api import (
    DialOutcome,
    FlowCall,
    FlowFunction,
    FlowMismatchError,
    Recording,
    Skipped,
    Step,
)
from kookoo.flow.runner import FlowRunner, Registrar, add_flow

__all__ = [
    "DialOutcome",
    "FlowCall",
    "FlowFunction",
    "FlowMismatchError",
    "FlowRunner",
    "Recording",
    "Registrar",
    "Skipped",
    "Step",
    "add_flow",
]
