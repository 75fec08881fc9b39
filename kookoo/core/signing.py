"""The one signing primitive: HMAC-SHA256 with a key of its own per purpose, and rotation.

Signed app parameters in URLs (:mod:`kookoo.web.signing`) and stream tokens
(:mod:`kookoo.stream.tokens`) both sign with a :class:`Signer`. Each use names its
``purpose``; the key is derived from the secret and that purpose, so a signature made for one
use never verifies for another, and never equals the secret or anything derived for another
purpose. Several secrets may be active (rotation): the first signs, every one verifies, and
verification compares against all of them in constant time.

Why not ``itsdangerous`` (Pallets): its serializers bring their own token formats and a
timestamp scheme; kookoo's formats (query parameters KooKoo carries back, a short ``x-uui``
token) are small and fixed, and what they need of a library is exactly this: a derived key
and a constant-time comparison over several keys, which :mod:`hmac` gives in a few lines
without a new dependency.

>>> signer = Signer(["0123456789abcdef"], purpose="example")
>>> mac = signer.sign(b"hello")
>>> signer.verify(b"hello", mac), signer.verify(b"hullo", mac)
(True, False)
>>> Signer(["0123456789abcdef"], purpose="other").verify(b"hello", mac)
False
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["Signer", "b64decode", "b64encode"]


@functools.lru_cache(maxsize=64)
def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


class Signer:
    """Signs and verifies byte strings for one purpose.

    Args:
        secrets: the active secrets, the first one signs (text is UTF-8 encoded).
        purpose: what the signatures are for; part of the key (the exact label is
            ``label`` when given, for formats whose keys must stay as they were).
        size: bytes of the HMAC kept in a signature (16 to 32).
        label: the key-derivation label to use instead of ``b"kookoo:" + purpose``.

    Raises:
        ValueError: no secret, an empty one, or ``size`` out of range.
    """

    __slots__ = ("_keys", "purpose", "size")

    def __init__(
        self,
        secrets: Sequence[str | bytes],
        *,
        purpose: str,
        size: int = 32,
        label: bytes | None = None,
    ) -> None:
        if isinstance(secrets, str | bytes):
            secrets = [secrets]
        raw = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in secrets]
        if not raw or not all(raw):
            raise ValueError("a Signer needs at least one non-empty secret")
        if not 16 <= size <= 32:
            raise ValueError(f"size must be 16 to 32 bytes, got {size}")
        derivation = label if label is not None else b"kookoo:" + purpose.encode("utf-8")
        self.purpose = purpose
        self.size = size
        self._keys = tuple(_derive(secret, derivation) for secret in raw)

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message`` with the first (primary) secret's key."""
        return hmac.new(self._keys[0], message, hashlib.sha256).digest()[: self.size]

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ``message``'s under any active secret; every key is
        compared, in constant time, whichever matches."""
        found = False
        for key in self._keys:
            expected = hmac.new(key, message, hashlib.sha256).digest()[: self.size]
            if hmac.compare_digest(expected, signature):
                found = True
        return found


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding (what tokens and query parameters carry)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """The bytes of :func:`b64encode`'s text, read strictly: only the one spelling
    :func:`b64encode` writes is accepted, so a signature has one form (a check or a replay
    cache keyed on it cannot be passed with another spelling of the same bytes).

    >>> mac = b64encode(bytes(16)); mac
    'AAAAAAAAAAAAAAAAAAAAAA'
    >>> b64decode(mac) == bytes(16)
    True
    >>> b64decode(mac[:-1] + "B")  # the same 16 bytes, with a bit set past the last one
    Traceback (most recent call last):
    ...
    ValueError: not URL-safe base64 as kookoo writes it

    Raises:
        ValueError: not URL-safe base64, padded, or not in its canonical form.
    """
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not URL-safe base64 as kookoo writes it") from None
    if b64encode(data) != text:  # padding, or bits set past the last byte
        raise ValueError("not URL-safe base64 as kookoo writes it")
    return data
