"""Where the HTTP app meets the stream sockets: the signed ``x-uui`` of
``Response.stream(handler=...)`` (:func:`sign_stream`, used when a reply is serialised) and
the reply a bot left for KooKoo's ``event=Stream`` (:class:`StreamReplies`, a
``before_dispatch`` hook every app has). Nothing here opens a socket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kookoo.protocol.events import Event, Stream
from kookoo.state.stores.base import CallStore
from kookoo.web.context import HandlerError, RequestContext
from kookoo.web.handlers import Handler
from kookoo.xml.response import STREAM_HANDLER_KEY

if TYPE_CHECKING:
    from kookoo.web.security import SharedSecret

__all__ = ["StreamReplies", "sign_stream"]


def sign_stream(element: Any, sid: str, secret: SharedSecret | None) -> None:
    """Replace a ``stream(handler=...)`` placeholder in ``element``'s ``x-uui`` with the call's
    sid and a token signed with the app's first secret (what
    :class:`~kookoo.stream.StreamBots` verify).

    Raises:
        HandlerError: the app has no secret to sign with.
    """
    placeholder = element.get("x-uui")
    if not placeholder or STREAM_HANDLER_KEY not in placeholder:
        return
    values = json.loads(placeholder)
    handler = values.pop(STREAM_HANDLER_KEY)
    if secret is None:
        raise HandlerError(
            f"stream(handler={handler!r}) signs a token with the app's secret: set "
            "KooKoo(secret=...) or KOOKOO_SECRET, the same secret the StreamBots use"
        )
    from kookoo.stream.tokens import stream_uui

    element.set("x-uui", stream_uui(secret.primary, sid=sid, handler=handler, data=values))


class StreamApp(Protocol):
    """The app, as :class:`StreamReplies` sees it."""

    @property
    def handlers(self) -> Sequence[Handler]:
        """The registered handlers."""

    @property
    def store_if_created(self) -> CallStore | None:
        """The store given or created (never creates the default one)."""

    @property
    def uses_default_store(self) -> bool:
        """Whether the app will create the default store on first use."""

    @property
    def store(self) -> CallStore | None:
        """The call store in use (created if need be)."""


class StreamReplies:
    """The ``before_dispatch`` hook that answers ``event=Stream`` with the XML a voice bot
    left for the call (``hang_up_bot(next=...)``, :mod:`kookoo.stream.replies`), on routes
    that have no ``Stream`` handler of their own; taken out of the store, so it plays once.
    An app without a store (``store=False``) has none to play."""

    def __init__(self, app: StreamApp) -> None:
        self.app = app
        self._handled: frozenset[str] | None = None

    def __call__(self, event: Event, ctx: RequestContext) -> str | None:
        """The bot's XML for a Stream event no handler takes, else ``None``."""
        if type(event) is not Stream:
            return None
        app = self.app
        handled = self._handled
        if handled is None:  # registration is over once requests are served
            handled = self._handled = frozenset(
                h.route for h in app.handlers if h.event_type is Stream
            )
        if ctx.route in handled or (app.store_if_created is None and not app.uses_default_store):
            return None
        store = app.store
        if store is None:
            return None
        # imported here: kookoo.stream (asyncio & co) loads only for apps that stream
        from kookoo.stream.replies import take_pending_reply

        return take_pending_reply(store, event.sid)
