"""PIN check with three attempts per caller number, then the balance read out with Say-As
currency.

Serve it::

    KOOKOO_SECRET=<secret> gunicorn -w 2 -b 127.0.0.1:8000 examples.pin:app

Written as a linear flow: the loop over attempts is plain Python even though every attempt is a
separate HTTP request from KooKoo. Wrong PINs are counted per caller number across calls
(:class:`kookoo.state.limits.AttemptLimiter`, kept in the app's store so every worker sees them): a
new call does not reset them, and after three the number is locked for :data:`LOCK_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import Any

from kookoo import KooKoo
from kookoo.flow import FlowCall, Step
from kookoo.state.limits import AttemptLimiter

app = KooKoo("pin")

#: Stand-in for the bank's ledger: PIN -> balance in rupees.
ACCOUNTS = {"1234": "10523.50", "4321": "99.00"}
ATTEMPTS = 3
#: How long a caller number stays locked after :data:`ATTEMPTS` wrong PINs.
LOCK_SECONDS = 15 * 60.0


def balance_for(pin: str) -> str | None:
    """Look the PIN up (a real app would ask its core-banking API); JSON-friendly result."""
    return ACCOUNTS.get(pin)


def limiter() -> AttemptLimiter:
    """The wrong-PIN limit, in the app's store (built per use: tests may swap the store)."""
    store = app.store
    assert store is not None  # the flow keeps call state, so the app has a store
    return AttemptLimiter(store, max_attempts=ATTEMPTS, lock_seconds=LOCK_SECONDS, name="pin")


def attempts_left(caller: str | None) -> int:
    """Wrong PINs this number may still enter (0: it is locked)."""
    return limiter().status(caller).remaining


def wrong_pin(caller: str | None) -> int:
    """Count a wrong PIN; return the attempts left (0: the number is now locked)."""
    return limiter().failed(caller).remaining


def right_pin(caller: str | None) -> None:
    """A right PIN forgets the number's earlier mistakes."""
    limiter().succeeded(caller)


@app.flow("/")
def pin_check(call: FlowCall) -> Generator[Step, Any, None]:
    caller = call.caller.raw if call.caller is not None else None
    # call.once: a flow is replayed on every request, the count must move once per attempt.
    if call.once(attempts_left, caller) == 0:
        yield call.hangup(
            "Too many wrong PINs were entered from this number. Please call again later. Goodbye."
        )
        return
    prompt = "Welcome to Acme Bank. Please enter your four digit PIN."
    while True:
        pin = yield call.ask_digits(prompt, max_digits=4, terminator="#")
        balance = call.once(balance_for, pin) if pin else None
        if balance is not None:
            call.once(right_pin, caller)
            yield (
                call.say("Your balance is")
                .say_as(Decimal(balance), format="currency_decimal", lang="EN")
                .play_text("Thank you for banking with Acme.")
                .hangup()
            )
            return
        if call.once(wrong_pin, caller) == 0:
            yield call.hangup("Too many wrong attempts. Please call again later. Goodbye.")
            return
        prompt = "That PIN is not right. Please try again."
