"""The cap on live calls (``KooKoo(max_live_calls=...)``), as a ``before_dispatch`` hook.

A NewCall beyond the cap hears the busy prompt and is hung up, and nothing is stored for it;
the events that end a call stop counting it. The count lives in the app's store
(:class:`~kookoo.state.limits.LiveCallLimit`), shared by every worker and machine using it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kookoo.core.text import escape_for_log
from kookoo.protocol.events import CallStatus, Disconnect, Event, Hangup, NewCall
from kookoo.state.limits import LiveCallLimit
from kookoo.state.stores.base import CallStore
from kookoo.web.context import RequestContext
from kookoo.xml.response import Response

__all__ = ["LiveCallCap"]

logger = logging.getLogger("kookoo")

_ENDING = (Hangup, Disconnect, CallStatus)


class HasStore(Protocol):
    """The app, as the cap sees it: its store, looked up at each request."""

    @property
    def store(self) -> CallStore | None:
        """The call store in use."""


class LiveCallCap:
    """Admit a NewCall while fewer than ``limit`` calls are live, else answer the busy
    prompt; release a call at its end.

    Args:
        app: where the store is (the app; a test may swap its store).
        limit: most calls live at once.
        busy_prompt: what a caller beyond the cap hears before the hangup.
    """

    def __init__(self, app: HasStore, limit: int, busy_prompt: str) -> None:
        self.app = app
        self.limit = limit
        self.busy_prompt = busy_prompt
        self._counter: LiveCallLimit | None = None

    def counter(self, store: CallStore) -> LiveCallLimit:
        """The live-call count in ``store`` (a new one when the app's store changed)."""
        counter = self._counter
        if counter is None or counter.store is not store:
            counter = self._counter = LiveCallLimit(store, self.limit)
        return counter

    def __call__(self, event: Event, ctx: RequestContext) -> Response | None:
        """The busy reply for a NewCall beyond the cap, else ``None`` (the request goes on).

        Raises:
            StoreUnavailableError: the count cannot be read or written (the request is
                answered as a failing handler's).
        """
        store = self.app.store
        if store is None or (isinstance(event, NewCall) and event.is_test_ping):
            return None
        if isinstance(event, NewCall):
            if not self.counter(store).admit(event.sid):
                logger.warning(
                    "sid=%s busy: %d calls are live (max_live_calls)",
                    escape_for_log(event.sid),
                    self.limit,
                )
                return Response().play_text(self.busy_prompt).hangup()
        elif isinstance(event, _ENDING):
            self.counter(store).release(event.sid)
        return None
