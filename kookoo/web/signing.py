"""Signed app parameters: state carried in a URL (``gotourl``, the outbound ``url`` and
``callback_url``) that nobody without the app's secret can change.

KooKoo appends its own parameters to the URL it was given and sends them all back (protocol.md
§1), so only the app's parameters are signed, and their names are part of what is signed.

Example::

    url = signed_url("/ivr/account", account="42", secret=SECRET, expires_in=600)
    ...
    verify_signed(event.params, secret=SECRET)   # {"account": "42"}, or SignatureError
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from kookoo.core.errors import KooKooError
from kookoo.core.signing import Signer, b64decode, b64encode
from kookoo.core.text import escape_for_log
from kookoo.web.security import SharedSecret, with_token

__all__ = ["SignatureError", "signed_url", "verify_signed"]

# Parameters KooKoo sends itself (protocol.md §3, §4): an app parameter of the same name would
# shadow KooKoo's value (the first one wins), so they cannot be signed.
_KOOKOO_PARAMS = frozenset(
    (
        *("sid", "cid", "cid_e164", "cid_type", "cid_country", "cid_countryname"),
        *("called_number", "circle", "operator", "request_time", "outbound_sid", "event"),
        *("data", "status", "message", "callduration", "duration", "record_duration"),
        *("total_call_duration", "process", "telco_code", "call_recording_url", "caller_id"),
        *("status_details", "start_time", "end_time", "ringing_time", "pickup_time"),
    )
)
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_SIG, _NAMES, _EXPIRES = "kk_sig", "kk_params", "kk_exp"
_KEY_LABEL = b"kookoo signed app parameters v1"


class SignatureError(KooKooError, ValueError):
    """Signed app parameters that cannot be trusted.

    Attributes:
        reason: ``"unsigned"`` (no signature), ``"malformed"``, ``"tampered"`` (the signature
            does not match) or ``"expired"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def _signer(secret: str | Sequence[str] | SharedSecret) -> tuple[SharedSecret, Signer]:
    shared = secret if isinstance(secret, SharedSecret) else SharedSecret(secret)
    # The label keeps the key of the URLs signed before the one signing primitive existed.
    signer = Signer(shared.secrets, purpose="signed app parameters", size=16, label=_KEY_LABEL)
    return shared, signer


def _payload(pairs: Sequence[tuple[str, str]], expires: str) -> bytes:
    return json.dumps([expires, pairs], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_url(
    url: str,
    /,
    *,
    secret: str | Sequence[str] | SharedSecret,
    expires_in: float | None = None,
    include_token: bool = True,
    now: float | None = None,
    **params: str | int,
) -> str:
    """``url`` with the app parameters ``params`` and an HMAC over them (and their names, and
    the expiry), keyed by the primary secret: for ``gotourl``, and the outbound ``url`` and
    ``callback_url``. KooKoo appends its own parameters; only these are signed.

    Args:
        url: the target, relative (``/ivr/account``) or absolute; it may have a query already
            (those parameters are not signed).
        secret: the app's secret(s); the first signs.
        expires_in: seconds the URL stays valid, or ``None`` for no expiry.
        include_token: also add ``kk_token`` (needed by any URL KooKoo requests).
        now: the current unix time (tests).
        params: the app parameters; names are letters, digits and ``_``, not ``kk_...`` and not
            a parameter KooKoo sends (``sid``, ``data``, ...).

    >>> signed_url("/ivr/account", account="42", secret="0123456789abcdef", include_token=False)
    ... # doctest: +ELLIPSIS
    '/ivr/account?account=42&kk_params=account&kk_sig=...'
    """
    shared, signer = _signer(secret)
    if not params:
        raise ValueError("signed_url: give at least one app parameter to sign")
    pairs: list[tuple[str, str]] = []
    for name in sorted(params):
        value = params[name]
        if not _PARAM_NAME.fullmatch(name) or name.startswith("kk_") or name in _KOOKOO_PARAMS:
            raise ValueError(
                f"signed_url: parameter name {name!r} cannot be used: names are letters, digits "
                "and '_', not 'kk_...' and not one KooKoo sends itself (sid, data, status, ...)"
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"signed_url: {name} must be a str or int, not {type(value).__name__}")
        pairs.append((name, str(value)))
    if "#" in url:
        raise ValueError(f"signed_url: {url!r} has a fragment, which KooKoo does not send back")
    expires = ""
    if expires_in is not None:
        expires = str(int((time.time() if now is None else now) + expires_in))
    extra = [*pairs]
    if expires:
        extra.append((_EXPIRES, expires))
    extra.append((_NAMES, ",".join(name for name, _ in pairs)))
    extra.append((_SIG, b64encode(signer.sign(_payload(pairs, expires)))))
    query = urlencode(extra, safe=",")
    joined = f"{url}{'&' if '?' in url else '?'}{query}"
    return with_token(joined, shared.primary) if include_token else joined


def verify_signed(
    params: Mapping[str, str],
    *,
    secret: str | Sequence[str] | SharedSecret,
    now: float | None = None,
) -> dict[str, str]:
    """The app parameters a :func:`signed_url` carried, once their signature checks out.

    Args:
        params: the request's parameters, first value per name (``event.params``); KooKoo's
            own and any others are ignored.
        secret: the app's secret(s); a signature by any active one is accepted.
        now: the current unix time (tests).

    Returns:
        Only the signed parameters, by name.

    Raises:
        SignatureError: unsigned, malformed, tampered with or expired; the message says which.
    """
    _, signer = _signer(secret)
    signature = params.get(_SIG)
    names_raw = params.get(_NAMES)
    if signature is None and names_raw is None:
        raise SignatureError("unsigned", "the request carries no signed app parameters (kk_sig)")
    if not signature or not names_raw:
        raise SignatureError("malformed", "signed app parameters need both kk_sig and kk_params")
    names = names_raw.split(",")
    if names != sorted(set(names)) or not all(_PARAM_NAME.fullmatch(n) for n in names):
        raise SignatureError(
            "malformed", f"kk_params '{escape_for_log(names_raw, 100)}' is not a sorted name list"
        )
    missing = [n for n in names if n not in params]
    if missing:
        raise SignatureError("tampered", f"signed parameter {missing[0]!r} is missing")
    expires = params.get(_EXPIRES, "")
    if expires and not (expires.isascii() and expires.isdigit()):
        raise SignatureError("malformed", "kk_exp is not a unix time")
    pairs = [(n, params[n]) for n in names]
    try:
        presented = b64decode(signature)
    except ValueError:
        presented = b""
    if not signer.verify(_payload(pairs, expires), presented):
        raise SignatureError(
            "tampered",
            f"the signature does not match parameters {', '.join(names)}: they were changed, "
            "or signed with a secret that is no longer active",
        )
    current = time.time() if now is None else now
    if expires and current > int(expires):
        raise SignatureError(
            "expired", f"the signed URL expired {int(current) - int(expires)} s ago"
        )
    return dict(pairs)
