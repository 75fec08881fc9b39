"""PIN check with three attempts, then the balance read out with Say-As currency.

Serve it::

    gunicorn -w 2 -b 127.0.0.1:8000 examples.pin:app

Written as a linear flow: the loop over attempts is plain Python even though every attempt is a
separate HTTP request from KooKoo.
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import Any

from kookoo import KooKoo
from kookoo.flow import FlowCall, Step

app = KooKoo("pin")

#: Stand-in for the bank's ledger: PIN -> balance in rupees.
ACCOUNTS = {"1234": "10523.50", "4321": "99.00"}
ATTEMPTS = 3


def balance_for(pin: str) -> str | None:
    """Look the PIN up (a real app would ask its core-banking API); JSON-friendly result."""
    return ACCOUNTS.get(pin)


@app.flow("/")
def pin_check(call: FlowCall) -> Generator[Step, Any, None]:
    prompt = "Welcome to Acme Bank. Please enter your four digit PIN."
    for _ in range(ATTEMPTS):
        pin = yield call.ask_digits(prompt, max_digits=4, terminator="#")
        balance = call.once(balance_for, pin) if pin else None
        if balance is not None:
            yield (
                call.say("Your balance is")
                .say_as(Decimal(balance), format="currency_decimal", lang="EN")
                .play_text("Thank you for banking with Acme.")
                .hangup()
            )
            return
        prompt = "That PIN is not right. Please try again."
    yield call.hangup("Too many wrong attempts. Please call again later. Goodbye.")
