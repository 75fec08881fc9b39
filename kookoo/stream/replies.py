"""The XML to play after a bot hangs up its leg, kept in the call store by sid.

When a bot sends ``callDisconnect`` the call does not end: KooKoo sends an HTTP request
``event=Stream&sid=...`` and plays whatever XML the app answers [L]. The socket and the HTTP
request usually run in different processes, so the bot stores its choice in the call's
``state`` (:data:`PENDING_KEY`) with the store's compare-and-set, and the HTTP handler reads it:

    # in the bot
    await session.hang_up_bot(next=Response().play_text("Transferring you").dial("0801..."))

    # in the app
    @app.on("Stream")
    def after_bot(event, call):
        xml = kookoo.stream.pop_pending_reply(call)   # the handler's own call; the app saves it
        return xml or Response().hangup()

:func:`pending_reply` reads it with one call when no :class:`~kookoo.state.calls.Call` is at hand.
"""

from __future__ import annotations

from kookoo.state.calls import Call
from kookoo.state.stores.base import CallStore, ConflictError
from kookoo.xml.response import Response

__all__ = ["PENDING_KEY", "pending_reply", "pop_pending_reply", "set_pending_reply"]

PENDING_KEY = "kookoo.stream.next"
"""The key in :attr:`Call.state` that holds the pending XML (a str)."""


def set_pending_reply(
    store: CallStore, sid: str, reply: Response | str, *, attempts: int = 5
) -> None:
    """Store ``reply`` (XML) as what call ``sid`` plays when KooKoo sends ``event=Stream``.

    Creates the call record if the app kept none. A concurrent save by the HTTP side is
    retried (reload, set, compare-and-set) up to ``attempts`` times.

    Raises:
        ConflictError: still losing the race after ``attempts`` tries.
    """
    xml = str(reply) if isinstance(reply, Response) else reply
    if not isinstance(xml, str):
        raise TypeError(f"reply must be a Response or an XML str, got {type(xml).__name__}")
    for attempt in range(attempts):
        call = store.load(sid) or Call(sid)
        call.state[PENDING_KEY] = xml
        try:
            store.save(call)
            return
        except ConflictError:
            if attempt == attempts - 1:
                raise
    raise ValueError(f"attempts must be at least 1, got {attempts}")


def pending_reply(store: CallStore, sid: str) -> str | None:
    """The XML the bot left for call ``sid``, or ``None``; the record is not changed."""
    call = store.load(sid)
    if call is None:
        return None
    value = call.state.get(PENDING_KEY)
    return value if isinstance(value, str) else None


def pop_pending_reply(call: Call) -> str | None:
    """Take the pending XML out of ``call.state`` (the caller saves the call), or ``None``."""
    value = call.state.pop(PENDING_KEY, None)
    return value if isinstance(value, str) else None
