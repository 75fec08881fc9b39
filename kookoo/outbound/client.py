"""The client for KooKoo's outbound-call and SMS APIs (``protocol.md`` §4.1, §4.3).

Needs the ``outbound`` extra (``pip install 'kookoo[outbound]'``), which brings urllib3: its
:class:`urllib3.util.Retry` separates errors before a request is sent (``connect``) from errors
after it (``read``), which is exactly the line between "safe to retry" and "may dial twice".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self
from urllib.parse import urlsplit

from kookoo.core.settings import Settings
from kookoo.outbound.errors import (
    AuthenticationError,
    BadReplyError,
    CallingHoursError,
    ConnectError,
    DNDError,
    InvalidNumberError,
    OutboundError,
    OutcomeUnknownError,
    RejectedError,
    ReplyTimeoutError,
)
from kookoo.outbound.numbers import caller_id_number, dial_number, sms_number
from kookoo.outbound.reply import Reply, UnreadableReply, classify_message, parse_reply
from kookoo.protocol.phone import PhoneNumber
from kookoo.xml.response import Response

if TYPE_CHECKING:
    import urllib3

__all__ = [
    "API_KEY_ENV",
    "CALL_ENDPOINT",
    "DEFAULT_BASE_URL",
    "SMS_ENDPOINT",
    "Client",
    "QueuedCall",
    "SentSms",
]

DEFAULT_BASE_URL = "https://www.kookoo.in/outbound/"
"""Where KooKoo's outbound APIs live. KooKoo's documentation writes ``http://``; kookoo uses
``https://`` (seen working for the SMS API, ``protocol.md`` §4.3) so the key is not sent in
clear text. Pass ``base_url="http://www.kookoo.in/outbound/"`` if your account needs it, or
another Ozonetel region (``https://in1-cpaas.ozonetel.com/outbound/``, [U])."""
CALL_ENDPOINT = "outbound.php"
"""The call API, relative to the base URL."""
SMS_ENDPOINT = "outbound_sms.php"
"""The SMS API, relative to the base URL."""
API_KEY_ENV = "KOOKOO_API_KEY"
"""The environment variable the API key is read from when none is passed."""

logger = logging.getLogger("kookoo.outbound")

_KEY_IN_TEXT = re.compile(r"(api_?key=)[^&\s'\"]+", re.IGNORECASE)
_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


class _RedactKeys(logging.Filter):
    """Removes ``api_key=...`` from urllib3's log records (it logs request URLs at DEBUG and in
    its retry WARNING, and KooKoo takes the key in the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        if "api" in text.lower():
            redacted = _KEY_IN_TEXT.sub(r"\1***", text)
            if redacted != text:
                record.msg = redacted
                record.args = None
        return True


_REDACT = _RedactKeys()


def _install_log_redaction() -> None:
    for name in _URLLIB3_LOGGERS:
        urllib3_logger = logging.getLogger(name)
        if _REDACT not in urllib3_logger.filters:
            urllib3_logger.addFilter(_REDACT)


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """KooKoo accepted the call and queued it.

    Attributes:
        sid: the call's id: KooKoo sends it again as ``sid`` (and ``outbound_sid``) with the
            call's ``NewCall`` and in the completion callback.
        phone_no: the number as it was sent to KooKoo (``09876543210``).
        status: KooKoo's status word (``"queued"``).
        raw: KooKoo's reply body.
    """

    sid: str
    phone_no: str
    status: str = "queued"
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SentSms:
    """KooKoo accepted the SMS.

    Attributes:
        phone_no: the number as it was sent to KooKoo (``9876543210``).
        status: KooKoo's status word (``"success"``).
        message: KooKoo's message (text it chose; [U] what it holds).
        raw: KooKoo's reply body.
    """

    phone_no: str
    status: str = "success"
    message: str = ""
    raw: bytes = field(default=b"", repr=False, compare=False)


_REJECTIONS: dict[str, type[RejectedError]] = {
    "authentication": AuthenticationError,
    "dnd": DNDError,
    "calling_hours": CallingHoursError,
    "invalid_number": InvalidNumberError,
    "other": RejectedError,
}


def _check_url(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str URL, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL KooKoo can reach, got {value!r}")
    return value


def _extra_data_text(value: Response | str) -> str:
    if isinstance(value, Response):
        text = value.to_xml().decode("utf-8")
    elif isinstance(value, str):
        from kookoo.xml.parser import parse_response
        from kookoo.xml.response import ResponseParseError

        try:
            parse_response(value)
        except ResponseParseError as exc:
            raise ValueError(f"extra_data is not KooKoo XML: {exc}") from None
        text = value
    else:
        raise TypeError(f"extra_data must be a Response or str, not {type(value).__name__}")
    # The declaration only lengthens the URL; KooKoo's own sample sends the bare element.
    return _DECLARATION.sub("", text, count=1)


class Client:
    """Places calls and sends SMS through KooKoo's HTTP APIs.

    Args:
        api_key: the account's API key (KooKoo dashboard); default: ``$KOOKOO_API_KEY``.
        base_url: the folder holding ``outbound.php`` and ``outbound_sms.php``
            (:data:`DEFAULT_BASE_URL`); tests point it at :mod:`kookoo.testing.fake_outbound`.
        timeout: seconds to wait for KooKoo's answer once the request is sent.
        connect_timeout: seconds to wait for a connection.
        connect_retries: how many times a failed connection is retried (nothing was sent).
        backoff_factor: seconds; retries wait 0, then ``2 * backoff_factor``,
            ``4 * backoff_factor``, ... (urllib3's exponential backoff).

    Never twice: a request is retried only when the connection failed before anything was
    sent (refused, DNS, connect timeout, TLS handshake). When the request was sent and the
    answer did not come back (read timeout, connection reset or closed, unreadable reply),
    the call may have been placed: the client raises
    :class:`~kookoo.outbound.OutcomeUnknownError` and does not retry. This is urllib3's
    ``Retry(connect=connect_retries, read=False, status=0, other=0, redirect=False)``; no
    retry loop is written here. Redirects are not followed (the key would travel to the new
    location); a redirect is a :class:`~kookoo.outbound.BadReplyError` naming it.

    The key: KooKoo takes it as a query parameter, so it is in the request URL. It never
    appears in this client's ``repr``, its exceptions or its log lines, and the client adds a
    filter to urllib3's loggers that replaces ``api_key=...`` with ``api_key=***``.

    Example::

        client = Client()                      # key from KOOKOO_API_KEY
        call = client.place_call("09876543210", url="https://ivr.example.in/remind?p=42",
                                 callback_url="https://ivr.example.in/ended")
        call.sid                               # '2470213640781123'

    Raises:
        ValueError: no key given and ``KOOKOO_API_KEY`` unset or empty; bad arguments.
        ImportError: urllib3 is missing (``pip install 'kookoo[outbound]'``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        connect_retries: int = 3,
        backoff_factor: float = 0.5,
    ) -> None:
        try:
            import urllib3
        except ImportError as exc:
            raise ImportError(
                "kookoo.outbound.Client needs urllib3: pip install 'kookoo[outbound]'"
            ) from exc
        key = api_key if api_key is not None else Settings.from_environ(only=["api_key"]).api_key
        key = "" if key is None else key
        if not isinstance(key, str):
            raise TypeError(f"api_key must be a str, not {type(key).__name__}")
        if not key:
            raise ValueError(
                "no KooKoo API key: pass Client(api_key=...) or set the "
                f"{API_KEY_ENV} environment variable (the key is on KooKoo's dashboard)"
            )
        if key != key.strip() or any(ch.isspace() or ch in "&#?=" for ch in key):
            raise ValueError(
                "the KooKoo API key holds spaces or URL characters (&, #, ?, =); copy it from "
                "KooKoo's dashboard again"
            )
        if not (timeout > 0 and connect_timeout > 0):
            raise ValueError("timeout and connect_timeout must be positive")
        if connect_retries < 0 or backoff_factor < 0:
            raise ValueError("connect_retries and backoff_factor must not be negative")
        _check_url("base_url", base_url)
        self._api_key = key
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.connect_retries = int(connect_retries)
        self.retry: urllib3.Retry = urllib3.Retry(
            total=None,
            connect=self.connect_retries,
            read=False,  # sent, no answer: never again
            redirect=False,
            status=0,
            other=0,
            backoff_factor=backoff_factor,
            raise_on_redirect=False,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        """The urllib3 retry policy in use (read-only by convention)."""
        self._pool = urllib3.PoolManager(
            retries=self.retry,
            timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout),
            headers={"User-Agent": "kookoo-outbound/0.1"},
        )
        _install_log_redaction()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<hidden>)"

    # -- the APIs ------------------------------------------------------------------------------

    def place_call(
        self,
        phone_no: PhoneNumber | str,
        *,
        url: str | None = None,
        extra_data: Response | str | None = None,
        caller_id: PhoneNumber | str | None = None,
        callback_url: str | None = None,
    ) -> QueuedCall:
        """Ask KooKoo to call ``phone_no`` (``outbound.php``, ``outbound_version=2``).

        Args:
            phone_no: the person to call; sent as ``0`` + ten digits (or ``00`` + the
                international number), see :func:`~kookoo.outbound.dial_number`.
            url: the app KooKoo requests with ``NewCall`` (and ``outbound_sid``) when the
                person answers; query parameters in it come back with every request.
            extra_data: KooKoo XML to play instead of requesting ``url`` (a
                :class:`~kookoo.Response` or its text), e.g. a message and ``<hangup/>``.
            caller_id: which of your KooKoo numbers the person sees (``91`` + ten digits).
            callback_url: KooKoo POSTs the call's outcome here when it ends (``sid``,
                ``status``, ``status_details``, ``duration``, ...; ``protocol.md`` §4.2).

        ``url`` and ``extra_data`` exclude each other (KooKoo uses ``extra_data`` *instead of*
        ``url``); with neither, KooKoo presumably plays the number's portal application [U].

        Returns:
            :class:`QueuedCall` with the ``sid``. Queued is not answered: the outcome comes
            with the completion callback.

        Raises:
            RejectedError: KooKoo refused (subclasses for authentication, DND, calling hours,
                invalid number). Nothing was dialled.
            ConnectError: KooKoo could not be reached, even after retries. Nothing was sent.
            OutcomeUnknownError: sent, but no usable answer (:class:`ReplyTimeoutError`,
                :class:`BadReplyError`). The call may be placed; it is not retried.
            ValueError, TypeError: a bad argument (the message names it); nothing was sent.
        """
        number = dial_number(phone_no)
        if url is not None and extra_data is not None:
            raise ValueError(
                "pass url or extra_data, not both: KooKoo uses extra_data instead of url"
            )
        params: dict[str, str] = {
            "api_key": self._api_key,
            "phone_no": number,
            "outbound_version": "2",
        }
        if url is not None:
            params["url"] = _check_url("url", url)
        if extra_data is not None:
            params["extra_data"] = _extra_data_text(extra_data)
        if caller_id is not None:
            params["caller_id"] = caller_id_number(caller_id)
        if callback_url is not None:
            params["callback_url"] = _check_url("callback_url", callback_url)
        reply = self._request("call", CALL_ENDPOINT, params, number)
        sid = reply.message.strip()
        if not sid or any(ch.isspace() for ch in sid):
            raise BadReplyError(
                f"KooKoo queued the call to {number} but its reply holds no call sid "
                f"(message {reply.message!r}); the call is placed, but its NewCall and "
                "callback cannot be matched to it",
                api="call",
                phone_no=number,
                endpoint=self.base_url + CALL_ENDPOINT,
                raw=reply.body,
            )
        logger.info("KooKoo queued the call to %s: sid %s", number, sid)
        return QueuedCall(sid=sid, phone_no=number, status=reply.status, raw=reply.body)

    def send_sms(
        self,
        phone_no: PhoneNumber | str,
        message: str,
        *,
        sender_id: str | None = None,
    ) -> SentSms:
        """Send an SMS through ``outbound_sms.php``.

        Args:
            phone_no: an Indian number; sent as its ten national digits.
            message: the text (sent UTF-8, form-encoded; [U] how KooKoo bills long or
                non-Latin text).
            sender_id: the sender name shown (``senderid``; [O] optional; TRAI registers them).

        Same errors and the same never-twice rule as :meth:`place_call` (a second send is a
        second SMS). [U] VoIP Drupal also passes ``outbound_version``, ``caller_id`` and
        ``callback_url`` to the SMS API; no other source does, so they are not sent.
        """
        number = sms_number(phone_no)
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, not {type(message).__name__}")
        if not message.strip():
            raise ValueError("message is empty; KooKoo sends no empty SMS")
        params = {"api_key": self._api_key, "phone_no": number, "message": message}
        if sender_id is not None:
            if not isinstance(sender_id, str) or not sender_id.strip():
                raise ValueError(f"sender_id must be a non-empty str, got {sender_id!r}")
            params["senderid"] = sender_id
        reply = self._request("sms", SMS_ENDPOINT, params, number)
        logger.info("KooKoo accepted the SMS to %s", number)
        return SentSms(phone_no=number, status=reply.status, message=reply.message, raw=reply.body)

    # -- HTTP ----------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return _KEY_IN_TEXT.sub(r"\1***", text.replace(self._api_key, "***"))

    def _redact_bytes(self, body: bytes) -> bytes:
        key = self._api_key.encode("utf-8")
        return body.replace(key, b"***") if key in body else body

    def _request(
        self, api: Literal["call", "sms"], path: str, params: dict[str, str], number: str
    ) -> _RawReply:
        import urllib3.exceptions as ue

        endpoint = self.base_url + path
        logger.debug("asking KooKoo (%s) about %s", endpoint, number)
        failure: OutboundError | None = None
        response: urllib3.BaseHTTPResponse | None = None
        # The exceptions are built inside the except blocks but raised outside them, so
        # that they carry no __context__: urllib3's exception text holds the URL, key included.
        try:
            response = self._pool.request("GET", endpoint, fields=params, redirect=False)
        except ue.MaxRetryError as exc:
            reason = exc.reason
            cause = self._redact(f"{type(reason).__name__}: {reason}")
            failure = ConnectError(
                f"could not reach KooKoo at {endpoint} after {self.connect_retries + 1} "
                f"attempt{'s' if self.connect_retries else ''}: {cause}",
                api=api,
                phone_no=number,
                endpoint=endpoint,
                cause=cause,
                attempts=self.connect_retries + 1,
                timed_out=isinstance(reason, ue.ConnectTimeoutError)
                and not isinstance(reason, ue.NewConnectionError),
            )
        except ue.ReadTimeoutError as exc:
            cause = self._redact(f"{type(exc).__name__}: {exc}")
            failure = ReplyTimeoutError(
                f"KooKoo did not answer within {self.timeout:g} s; the "
                f"{'call to' if api == 'call' else 'SMS to'} {number} may have been "
                "placed, so it is not retried",
                api=api,
                phone_no=number,
                endpoint=endpoint,
                cause=cause,
            )
        except (ue.HTTPError, OSError) as exc:
            cause = self._redact(f"{type(exc).__name__}: {exc}")
            failure = OutcomeUnknownError(
                f"the connection to KooKoo broke after the request was sent ({cause}); the "
                f"{'call to' if api == 'call' else 'SMS to'} {number} may have been "
                "placed, so it is not retried",
                api=api,
                phone_no=number,
                endpoint=endpoint,
                cause=cause,
            )
        if failure is not None:
            logger.warning("%s", failure)
            raise failure
        assert response is not None
        return self._interpret(api, endpoint, number, response.status, response)

    def _interpret(
        self,
        api: Literal["call", "sms"],
        endpoint: str,
        number: str,
        http_status: int,
        response: urllib3.BaseHTTPResponse,
    ) -> _RawReply:
        body = self._redact_bytes(response.data)
        try:
            reply: Reply | None = parse_reply(body)
            unreadable = ""
        except UnreadableReply as exc:
            reply = None
            unreadable = self._redact(str(exc))
        if reply is not None and reply.refused:
            message = self._redact(reply.message)
            error_class = _REJECTIONS[classify_message(message)]
            rejected = error_class(
                message or "(KooKoo gave no message)",
                api=api,
                phone_no=number,
                endpoint=endpoint,
                status=reply.status,
                raw=body,
            )
            logger.info("%s", rejected)
            raise rejected
        if http_status != 200:
            detail = ""
            location = response.headers.get("Location")
            if 300 <= http_status < 400 and location:
                detail = f" redirecting to {self._redact(location)} (set base_url to it)"
            raise self._bad(
                api,
                endpoint,
                number,
                f"KooKoo answered HTTP {http_status}{detail}",
                http_status,
                body,
            )
        if reply is None:
            raise self._bad(api, endpoint, number, unreadable, http_status, body)
        if not reply.accepted:
            raise self._bad(
                api,
                endpoint,
                number,
                f"KooKoo answered the unknown status {reply.status!r} "
                f"(message {self._redact(reply.message)!r})",
                http_status,
                body,
            )
        return _RawReply(reply.status, self._redact(reply.message), body)

    def _bad(
        self,
        api: Literal["call", "sms"],
        endpoint: str,
        number: str,
        what: str,
        http_status: int,
        body: bytes,
    ) -> BadReplyError:
        thing = "call to" if api == "call" else "SMS to"
        error = BadReplyError(
            f"{what}; the {thing} {number} may have been placed, so it is not retried",
            api=api,
            phone_no=number,
            endpoint=endpoint,
            http_status=http_status,
            raw=body,
        )
        logger.warning("%s", error)
        return error

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close pooled connections. The client stays usable (it reconnects)."""
        self._pool.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _RawReply:
    status: str
    message: str
    body: bytes
