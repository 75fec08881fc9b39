"""Signed, expiring tokens that let a stream socket trust its ``start`` message.

KooKoo signs no WebSocket handshake and sends no authentication header [G], so anyone who finds
the socket's URL could open a "call". The app therefore puts a token into ``<stream x-uui=...>``
when it answers the HTTP request; KooKoo hands ``x-uui`` back in ``start`` (as ``x_headers``)
and the socket checks it before any bot code runs:

- HMAC-SHA256 with a key of its own derived from the app's secret (kookoo's one signing
  primitive, :class:`kookoo.core.signing.Signer`, purpose ``stream token``), so a token can
  never pass as another kind of kookoo signature made with the same secret;
- bound to the call's sid and to the bot handler's name;
- with an expiry (default 5 minutes: the time between the XML reply and the socket opening,
  which includes any prompt played before ``<stream>``).

Format: ``v2.<base64url payload>.<base64url mac>``; the payload is JSON ``{"s": sid, "h":
handler, "e": expires_at}``. (``v1`` tokens, keyed before the one signing primitive, are
refused as malformed; they lived five minutes.) Tokens are opaque to KooKoo and short (about
120 characters for a 17-digit sid).

>>> token = sign_stream_token("s3cret", sid="123", handler="echo", now=1000.0)
>>> verify_stream_token("s3cret", token, sid="123", now=1001.0)
StreamToken(sid='123', handler='echo', expires_at=1300.0)
>>> verify_stream_token("s3cret", token, sid="999", now=1001.0)
Traceback (most recent call last):
...
kookoo.stream.tokens.StreamTokenError: stream token was signed for call 123, not 999
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kookoo.core.errors import KooKooError
from kookoo.core.signing import Signer, b64decode, b64encode

__all__ = [
    "DEFAULT_TOKEN_SECONDS",
    "TOKEN_KEY",
    "Secrets",
    "StreamToken",
    "StreamTokenError",
    "sign_stream_token",
    "stream_uui",
    "verify_stream_token",
]

TOKEN_KEY = "kookoo_token"
"""The key under which :func:`stream_uui` puts the token in the ``x-uui`` JSON."""

DEFAULT_TOKEN_SECONDS = 300.0
"""How long a stream token stays valid by default (5 minutes)."""

_VERSION = "v2"
_PURPOSE = "stream token v2"


class StreamTokenError(KooKooError, ValueError):
    """A stream token is missing, malformed, forged, expired, or for another call or handler.

    Attributes:
        reason: a short machine-readable reason: ``"missing"``, ``"malformed"``, ``"signature"``,
            ``"expired"``, ``"sid"`` or ``"handler"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class StreamToken:
    """What a valid token says: the call, the bot handler, and when it expires (unix time)."""

    sid: str
    handler: str
    expires_at: float


#: One secret, or several active at once (rotation: the first signs, every one verifies).
Secrets = str | bytes | Sequence[str | bytes]


def _signer(secret: Secrets) -> Signer:
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not secrets or not all(secrets):
        raise ValueError("the secret for stream tokens must not be empty")
    return Signer(secrets, purpose=_PURPOSE)


def sign_stream_token(
    secret: Secrets,
    *,
    sid: str,
    handler: str,
    expires_in: float = DEFAULT_TOKEN_SECONDS,
    now: float | None = None,
) -> str:
    """Sign a token for call ``sid`` and bot ``handler``, valid for ``expires_in`` seconds.

    Raises:
        ValueError: the secret is empty, ``sid`` or ``handler`` is empty, or ``expires_in`` is
            not positive.
    """
    signer = _signer(secret)
    if not sid:
        raise ValueError("sid must not be empty")
    if not handler:
        raise ValueError("handler must not be empty")
    if not expires_in > 0:
        raise ValueError(f"expires_in must be positive, got {expires_in!r}")
    issued = time.time() if now is None else now
    body = json.dumps(
        {"s": sid, "h": handler, "e": round(issued + expires_in, 3)}, separators=(",", ":")
    )
    payload = b64encode(body.encode("utf-8"))
    return f"{_VERSION}.{payload}.{b64encode(signer.sign(payload.encode('ascii')))}"


def verify_stream_token(
    secret: Secrets,
    token: Any,
    *,
    sid: str | None,
    handler: str | None = None,
    now: float | None = None,
) -> StreamToken:
    """Check ``token`` and return what it says, or raise :class:`StreamTokenError`.

    Args:
        secret: the app's secret, or its active secrets (a token signed with any of them
            verifies: rotation).
        token: the value found in ``x-uui`` (anything; non-strings are refused as malformed).
        sid: the call the socket's ``start`` names (``ucid``); ``None`` refuses every token,
            since a token must be bound to a call.
        handler: when given, the token must name this handler.
        now: the current unix time (tests); ``time.time()`` if omitted.
    """
    signer = _signer(secret)
    if token is None or token == "":
        raise StreamTokenError("missing", f"no stream token in x-uui (key {TOKEN_KEY!r})")
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != _VERSION:
        raise StreamTokenError("malformed", "stream token is malformed (expected v2.<data>.<mac>)")
    try:
        mac = b64decode(parts[2])
        payload = json.loads(b64decode(parts[1]))
    except ValueError:
        raise StreamTokenError("malformed", "stream token is malformed (bad base64)") from None
    if not parts[1].isascii() or not signer.verify(parts[1].encode("ascii"), mac):
        raise StreamTokenError("signature", "stream token signature does not match")
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("s"), str)
        and isinstance(payload.get("h"), str)
        and isinstance(payload.get("e"), int | float)
    ):
        raise StreamTokenError("malformed", "stream token payload is malformed")
    found = StreamToken(sid=payload["s"], handler=payload["h"], expires_at=float(payload["e"]))
    current = time.time() if now is None else now
    if current >= found.expires_at:
        raise StreamTokenError(
            "expired", f"stream token expired {current - found.expires_at:.0f} s ago"
        )
    if sid is None or sid != found.sid:
        raise StreamTokenError(
            "sid", f"stream token was signed for call {found.sid}, not {sid or '(no ucid)'}"
        )
    if handler is not None and handler != found.handler:
        raise StreamTokenError(
            "handler", f"stream token is for handler {found.handler!r}, not {handler!r}"
        )
    return found


def stream_uui(
    secret: Secrets,
    *,
    sid: str,
    handler: str,
    data: Mapping[str, Any] | None = None,
    expires_in: float = DEFAULT_TOKEN_SECONDS,
    now: float | None = None,
) -> str:
    """The ``x-uui`` JSON for ``<stream>``: ``data``, the ``sid`` and a signed token.

    Pass it as ``Response().stream(number, url=..., uui=stream_uui(...))``. ``data`` must be
    JSON; its keys ``sid`` and ``kookoo_token`` are overwritten. [U] KooKoo's size limit for
    ``x-uui`` is unknown; keep ``data`` small.

    >>> stream_uui("k", sid="1", handler="echo", data={"lang": "hi"}, now=0)[:35]
    '{"lang":"hi","sid":"1","kookoo_toke'
    """
    token = sign_stream_token(secret, sid=sid, handler=handler, expires_in=expires_in, now=now)
    values = {**(data or {}), "sid": sid, TOKEN_KEY: token}
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)
