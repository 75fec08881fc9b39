"""The XML to play after a bot hangs up its leg, kept in the call store by sid.

When a bot sends ``callDisconnect`` the call does not end: KooKoo sends an HTTP request
``event=Stream&sid=...`` and plays whatever XML the app answers [L]. The socket and the HTTP
request usually run in different processes, so the bot leaves its choice in the store, as a
value apart from the call (namespace :data:`REPLIES_NAMESPACE`, key: the sid), and the HTTP
side takes it out:

    # in the bot
    await session.hang_up_bot(next=Response().play_text("Transferring you").dial("0801..."))

    # in the app
    @app.on("Stream")
    def after_bot(event, call):
        xml = kookoo.stream.take_pending_reply(app.store, event.sid)
        return xml or Response().hangup()

An app with no ``Stream`` handler plays it without one. :func:`pending_reply` reads it
without taking it.

>>> from kookoo.state.stores import MemoryStore
>>> store = MemoryStore()
>>> set_pending_reply(store, "3341", "<response><hangup/></response>")
>>> take_pending_reply(store, "3341")
'<response><hangup/></response>'
>>> take_pending_reply(store, "3341") is None
True
"""

from __future__ import annotations

import contextlib

from kookoo.state.calls import Call
from kookoo.state.stores.base import DEFAULT_VALUE_ATTEMPTS, CallStore, ConflictError
from kookoo.xml.response import Response

__all__ = ["REPLIES_NAMESPACE", "pending_reply", "set_pending_reply", "take_pending_reply"]

REPLIES_NAMESPACE = "kookoo.stream-replies"
"""The store namespace of the replies bots leave, one value (an XML str) per call sid."""


def set_pending_reply(
    store: CallStore,
    sid: str,
    reply: Response | str,
    *,
    attempts: int = DEFAULT_VALUE_ATTEMPTS,
) -> None:
    """Leave ``reply`` (XML) as what call ``sid`` plays when KooKoo sends ``event=Stream``,
    replacing one left before.

    It lives as long as a live call does (the store's ``ttl_seconds``) unless taken. When
    the store has no record of the call (the app keeps no state, or a test ran the bot
    without the call's ``NewCall``), an empty one is created, so an app that keeps call
    state takes the ``Stream`` request as the call's; a record the app keeps is never
    changed.

    Raises:
        TypeError: ``reply`` is neither a :class:`~kookoo.xml.response.Response` nor a str.
        ConflictError: other writers kept changing the reply through ``attempts`` tries.
        StoreUnavailableError: the store cannot be reached or cannot write right now.
    """
    xml = str(reply) if isinstance(reply, Response) else reply
    if not isinstance(xml, str):
        raise TypeError(f"reply must be a Response or an XML str, got {type(xml).__name__}")
    store.update(
        REPLIES_NAMESPACE, sid, lambda _: xml, ttl_seconds=store.ttl_seconds, attempts=attempts
    )
    if store.load(sid) is None:
        # ConflictError: the app created it meanwhile, and the call is known either way.
        with contextlib.suppress(ConflictError):
            store.save(Call(sid))


def take_pending_reply(store: CallStore, sid: str) -> str | None:
    """Take out the XML the bot left for call ``sid`` and return it, or ``None`` when there is
    none: of two requests taking it, one gets it.

    Raises:
        StoreUnavailableError: the store cannot be reached or cannot write right now.
    """
    value = store.pop(REPLIES_NAMESPACE, sid)
    return value if isinstance(value, str) else None


def pending_reply(store: CallStore, sid: str) -> str | None:
    """The XML the bot left for call ``sid``, or ``None``; it stays where it is."""
    value = store.get(REPLIES_NAMESPACE, sid)
    return value if isinstance(value, str) else None
