"""Where the HTTP app meets the stream sockets: the signed ``x-uui`` of
``Response.stream(handler=...)`` and the reply a bot left for KooKoo's ``event=Stream``.

Used by :class:`kookoo.KooKoo` when it sends a reply; nothing here opens a socket.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kookoo.stream.replies import pending_reply, pop_pending_reply
from kookoo.xml.response import STREAM_HANDLER_KEY

if TYPE_CHECKING:
    from kookoo.web.app import KooKoo
    from kookoo.web.context import RequestContext
    from kookoo.web.security import SharedSecret

__all__ = ["pending_stream_reply", "sign_stream"]


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
        from kookoo.web.context import HandlerError

        raise HandlerError(
            f"stream(handler={handler!r}) signs a token with the app's secret: set "
            "KooKoo(secret=...) or KOOKOO_SECRET, the same secret the StreamBots use"
        )
    from kookoo.stream.tokens import stream_uui

    element.set("x-uui", stream_uui(secret.primary, sid=sid, handler=handler, data=values))


def pending_stream_reply(app: KooKoo, ctx: RequestContext) -> bytes | None:
    """What a voice bot left for this call (``hang_up_bot(next=...)``), for a ``Stream`` event
    no handler takes; taken out of the call when the app keeps call state, else only read."""
    if ctx.call is not None:
        xml = pop_pending_reply(ctx.call)
    elif app.store_if_created is not None or app.uses_default_store:
        store = app.store
        xml = pending_reply(store, ctx.event.sid) if store and ctx.event else None
    else:
        xml = None
    return xml.encode("utf-8") if xml else None
