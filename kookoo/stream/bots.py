"""A registry of voice-bot handlers that checks each socket's token before a bot runs.

The transports (:mod:`kookoo.stream.asgi`, :mod:`kookoo.stream.server`, the fake client's
in-process pipe) all call :meth:`StreamBots.serve` with a :class:`StreamTransport`. It reads
``start``, verifies the signed token from ``x-uui`` (:mod:`kookoo.stream.tokens`) against the
``ucid``, picks the handler the token names and runs it. Anything else is refused with a
:class:`StreamRefused` whose message says why; the transport closes the socket with code 1008
(policy violation) and that reason.

Example::

    bots = StreamBots(secret=app.secret.secrets, store=lambda: app.store)  # the app's secrets

    @bots.handler("echo")
    async def echo(session):
        async for message in session:
            ...

    # in the HTTP handler that answers NewCall:
    Response().stream("524431", url="wss://bot.example/ws", uui=bots.uui(event.sid, "echo"))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kookoo.core.errors import KooKooError
from kookoo.core.loading import load_object
from kookoo.state.stores.base import CallStore
from kookoo.stream.session import AsyncStreamSession, JsonlRecorder, StreamTransport
from kookoo.stream.tokens import (
    DEFAULT_TOKEN_SECONDS,
    TOKEN_KEY,
    Secrets,
    StreamToken,
    StreamTokenError,
    stream_uui,
    verify_stream_token,
)

__all__ = [
    "INTERNAL_ERROR",
    "POLICY_VIOLATION",
    "BotHandler",
    "StreamBots",
    "StreamRefused",
    "load_bots",
]

POLICY_VIOLATION = 1008
"""WebSocket close code for a refused socket (RFC 6455: policy violation)."""

INTERNAL_ERROR = 1011
"""WebSocket close code when the bot raised (RFC 6455: internal error)."""

logger = logging.getLogger("kookoo.stream")

BotHandler = Callable[[AsyncStreamSession], Awaitable[None]]
"""An async function that runs one call's bot, given its session."""

_H = TypeVar("_H", bound=BotHandler)


class StreamRefused(KooKooError):
    """A socket was refused before any bot ran; the message is the reason sent in the close.

    Attributes:
        reason: a short machine-readable reason: ``"no-start"``, a token reason from
            :class:`~kookoo.stream.tokens.StreamTokenError` (``"missing"``, ``"expired"``,
            ``"sid"``, ...), or ``"no-handler"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class StreamBots:
    """Bot handlers by name, behind signed stream tokens.

    Args:
        secret: the app's secret, or its active secrets (``app.secret.secrets``: the
            first signs, every one verifies, so rotating the secret keeps live tokens good).
        store: the app's call store, for ``session.hang_up_bot(next=...)``; or a function
            returning it, read per call (``store=lambda: app.store`` follows a store swapped
            in by tests).
        token_seconds: lifetime of tokens made by :meth:`uui`.
        record_dir: when set, every call's frames are saved to ``<record_dir>/<sid>.jsonl``.
        pace_ahead: passed to each :class:`~kookoo.stream.session.AsyncStreamSession`: keep
            at most this many seconds of bot audio queued at KooKoo (``None``: no pacing).
        clock: unix time (tests).
    """

    def __init__(
        self,
        *,
        secret: Secrets,
        store: CallStore | Callable[[], CallStore | None] | None = None,
        token_seconds: float = DEFAULT_TOKEN_SECONDS,
        record_dir: str | Path | None = None,
        pace_ahead: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret or (not isinstance(secret, str | bytes) and not all(secret)):
            raise ValueError("StreamBots needs a non-empty secret to verify stream tokens")
        self.secret = secret
        self.store = store
        self.token_seconds = token_seconds
        self.record_dir = None if record_dir is None else Path(record_dir)
        self.pace_ahead = pace_ahead
        self.clock = clock
        self.handlers: dict[str, BotHandler] = {}

    def add_handler(self, name: str, handler: BotHandler) -> None:
        """Register ``handler`` under ``name`` (the name tokens carry).

        Raises:
            ValueError: the name is empty or already taken.
        """
        if not name:
            raise ValueError("a bot handler needs a non-empty name")
        if name in self.handlers:
            raise ValueError(f"a bot handler named {name!r} is already registered")
        self.handlers[name] = handler

    def handler(self, name: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add_handler`; returns the function unchanged."""

        def register(function: _H) -> _H:
            self.add_handler(name, function)
            return function

        return register

    def uui(self, sid: str, handler: str, data: Mapping[str, Any] | None = None) -> str:
        """The ``x-uui`` JSON (``data`` + sid + a signed token) for ``<stream>`` of call ``sid``.

        Raises:
            ValueError: no handler named ``handler`` is registered.
        """
        if handler not in self.handlers:
            raise ValueError(f"no bot handler named {handler!r}; known: {sorted(self.handlers)}")
        return stream_uui(
            self.secret,
            sid=sid,
            handler=handler,
            data=data,
            expires_in=self.token_seconds,
            now=self.clock(),
        )

    def verify(self, session: AsyncStreamSession) -> tuple[StreamToken, BotHandler]:
        """Check the token in ``session.start``; return it and its handler.

        Raises:
            StreamRefused: no start, a bad token, or an unknown handler.
        """
        start = session.start
        if start is None:
            raise StreamRefused("no-start", "the socket closed or sent no start message")
        try:
            token = verify_stream_token(
                self.secret, start.uui.get(TOKEN_KEY), sid=start.sid, now=self.clock()
            )
        except StreamTokenError as exc:
            raise StreamRefused(exc.reason, str(exc)) from None
        found = self.handlers.get(token.handler)
        if found is None:
            raise StreamRefused("no-handler", f"no bot handler named {token.handler!r}")
        return token, found

    async def serve(self, transport: StreamTransport) -> AsyncStreamSession:
        """Run one socket: read ``start``, verify, run the bot; return the finished session.

        Raises:
            StreamRefused: the socket was refused (the transport closes it with the reason).
            Exception: whatever the bot raised, after logging it with the sid (the transports
                close the socket with code 1011, internal error).
        """
        recorder: JsonlRecorder | None = None
        store = self.store() if callable(self.store) else self.store
        session = AsyncStreamSession(transport, store=store, pace_ahead=self.pace_ahead)
        try:
            await session.receive_start()
            token, bot = self.verify(session)
            if self.record_dir is not None:
                safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in token.sid)
                recorder = JsonlRecorder(self.record_dir / f"{safe}.jsonl")
                session.core.recorder = recorder
                if session.core.start_frame is not None:
                    recorder.record("in", session.core.start_frame)
            try:
                await bot(session)
            except Exception:
                logger.exception("stream %s: bot %r failed", token.sid, token.handler)
                raise
        except StreamRefused as exc:
            logger.warning("stream refused (%s): %s", exc.reason, exc)
            raise
        finally:
            if recorder is not None:
                recorder.close()
        return session


def load_bots(spec: str) -> StreamBots:
    """The :class:`StreamBots` named by ``module:attribute`` or ``path/to/file.py[:attribute]``
    (attribute default ``bots``, may be dotted); the current directory is importable. Used by
    ``kookoo stream-serve`` and ``python -m kookoo.stream.server``.

    Raises:
        ValueError: it cannot be imported, or is not a ``StreamBots``.

    >>> load_bots("examples.echo_bot").handlers.keys()
    dict_keys(['echo'])
    """
    found = load_object(spec, "bots", "module:bots or path/to/file.py[:bots]")
    if not isinstance(found, StreamBots):
        raise ValueError(f"{spec} is a {type(found).__name__}, not a StreamBots")
    return found
