"""The exceptions of the outbound client: one family, :class:`OutboundError`.

Three kinds of failure need three different reactions from an app, so they are separate types:

- :class:`RejectedError` (and its subclasses): KooKoo read the request and refused it. No call
  was placed and no SMS sent. KooKoo answers these with HTTP 200 and ``<status>error</status>``
  (``protocol.md`` §4.1); the exception carries KooKoo's own ``message``.
- :class:`ConnectError`: KooKoo was never reached (DNS, refused connection, connect timeout,
  TLS handshake). Nothing was sent, so a retry cannot dial twice; the client already retried
  with backoff before raising it.
- :class:`OutcomeUnknownError` (and :class:`ReplyTimeoutError`): the request was sent and no
  usable answer came back. KooKoo may have queued the call. It is never retried automatically.
  :class:`BadReplyError` (an answer nobody can read) is one of these.

Every error has :attr:`~OutboundError.retryable` (retrying the same request soon may succeed
and cannot place a second call) and :attr:`~OutboundError.permanent` (the same request will
never succeed until a person changes something: the key, the number, the DND registration).

No message, ``repr`` or attribute of these errors contains the API key: the client redacts it
from everything it puts in them, and never chains the HTTP library's own exception (whose text
holds the request URL, key included).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from kookoo.core.errors import KooKooError

__all__ = [
    "AuthenticationError",
    "BadReplyError",
    "CallingHoursError",
    "ConnectError",
    "DNDError",
    "InvalidNumberError",
    "OutboundError",
    "OutcomeUnknownError",
    "Reason",
    "RejectedError",
    "ReplyTimeoutError",
]

Reason = Literal["authentication", "dnd", "calling_hours", "invalid_number", "other"]
"""Why KooKoo refused a request, as read from its message (see :func:`classify_message`)."""


class OutboundError(KooKooError):
    """Base class of every error the outbound client raises.

    Attributes:
        api: which KooKoo API was called: ``"call"`` (``outbound.php``) or ``"sms"``
            (``outbound_sms.php``).
        phone_no: the number as it was sent to KooKoo (``None`` if it never got that far).
        endpoint: the endpoint URL, without the query string (so without the key).
    """

    retryable: ClassVar[bool] = False
    """Retrying the same request soon may succeed, and cannot place a second call."""
    permanent: ClassVar[bool] = False
    """The same request can never succeed until a person changes the key, number or account."""

    def __init__(
        self,
        message: str,
        *,
        api: Literal["call", "sms"],
        phone_no: str | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(message)
        self.api: Literal["call", "sms"] = api
        self.phone_no = phone_no
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, api={self.api!r}, phone_no={self.phone_no!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive pickle's default (positional args only);
        # task queues (Celery, multiprocessing) pickle exceptions, so rebuild from the state.
        return (_rebuild, (type(self), str(self), self.__dict__.copy()))


def _rebuild(cls: type[OutboundError], message: str, state: dict[str, Any]) -> OutboundError:
    error = cls.__new__(cls, message)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RejectedError(OutboundError):
    """KooKoo refused the request (``<status>error</status>``): nothing was dialled or sent.

    Attributes:
        message: KooKoo's own message, exactly as it sent it (key redacted, should it ever
            echo one), e.g. ``"Phone number in DND list"``.
        reason: what the message means, see :data:`Reason`; ``"other"`` for messages kookoo
            does not recognise (the message is still there to read).
        status: KooKoo's ``<status>`` text (``"error"``).
        raw: KooKoo's reply body.
    """

    reason: ClassVar[Reason] = "other"

    def __init__(
        self,
        message: str,
        *,
        api: Literal["call", "sms"],
        phone_no: str | None = None,
        endpoint: str = "",
        status: str = "error",
        raw: bytes = b"",
    ) -> None:
        what = "call" if api == "call" else "SMS"
        number = f" to {phone_no}" if phone_no else ""
        super().__init__(
            f"KooKoo refused the {what}{number}: {message}{self._hint()}",
            api=api,
            phone_no=phone_no,
            endpoint=endpoint,
        )
        self.message = message
        self.status = status
        self.raw = raw

    @classmethod
    def _hint(cls) -> str:
        return ""


class AuthenticationError(RejectedError):
    """KooKoo did not accept the API key (e.g. ``"Authentication error"``).

    Permanent: check ``KOOKOO_API_KEY`` (the dashboard's key, ``KK`` and 32 hex digits) and that
    outbound calling is enabled for the account (``protocol.md`` §4.1: it is off by default).
    """

    reason: ClassVar[Reason] = "authentication"
    permanent: ClassVar[bool] = True

    @classmethod
    def _hint(cls) -> str:
        return " (check the API key, KOOKOO_API_KEY)"


class DNDError(RejectedError):
    """The number is on India's Do-Not-Disturb register; KooKoo does not dial it. Permanent."""

    reason: ClassVar[Reason] = "dnd"
    permanent: ClassVar[bool] = True


class CallingHoursError(RejectedError):
    """Outside the hours KooKoo dials or sends (TRAI: no calls from 9 pm to 9 am IST), e.g.
    ``"Calls will not be made between 9PM to 9AM."``.

    Not retryable now and not permanent: the same request succeeds once the window opens
    (:meth:`kookoo.outbound.CallingWindow.next_open` says when).
    """

    reason: ClassVar[Reason] = "calling_hours"

    @classmethod
    def _hint(cls) -> str:
        return " (KooKoo dials between 9 am and 9 pm IST)"


class InvalidNumberError(RejectedError):
    """KooKoo says the number is not one it can dial or text. Permanent.

    [U] KooKoo's exact wording for this is not in any public source (``protocol.md`` §8 item
    5); kookoo recognises messages that speak of an invalid or wrong number.
    """

    reason: ClassVar[Reason] = "invalid_number"
    permanent: ClassVar[bool] = True


class ConnectError(OutboundError):
    """KooKoo could not be reached; nothing was sent, so retrying cannot dial twice.

    The client has already retried with backoff (``connect_retries``) before raising this.

    Attributes:
        cause: what went wrong, as text (``"NewConnectionError: ... Connection refused"``),
            with the key redacted.
        attempts: how many connections were tried.
        timed_out: whether the last attempt was a connect timeout.
    """

    retryable: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        api: Literal["call", "sms"],
        phone_no: str | None = None,
        endpoint: str = "",
        cause: str = "",
        attempts: int = 1,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, api=api, phone_no=phone_no, endpoint=endpoint)
        self.cause = cause
        self.attempts = attempts
        self.timed_out = timed_out


class OutcomeUnknownError(OutboundError):
    """The request reached KooKoo (or may have) but no usable answer came back.

    KooKoo may have queued the call (or sent the SMS). kookoo never retries this on its own,
    because a retry could dial the person twice. Find out first (the completion callback, the
    KooKoo dashboard), or accept the risk and call :meth:`~kookoo.outbound.Client.place_call`
    again yourself.

    Attributes:
        cause: what went wrong, as text, with the key redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        api: Literal["call", "sms"],
        phone_no: str | None = None,
        endpoint: str = "",
        cause: str = "",
    ) -> None:
        super().__init__(message, api=api, phone_no=phone_no, endpoint=endpoint)
        self.cause = cause


class ReplyTimeoutError(OutcomeUnknownError):
    """The request was sent and KooKoo did not answer within the client's ``timeout``."""


class BadReplyError(OutcomeUnknownError):
    """KooKoo answered something the client cannot read: an empty or non-XML body, no
    ``<status>``, an unknown status word, a queued call without a sid, or an HTTP status other
    than 200 without a readable error.

    Attributes:
        http_status: the HTTP status of the reply.
        raw: the reply body (key redacted).
    """

    def __init__(
        self,
        message: str,
        *,
        api: Literal["call", "sms"],
        phone_no: str | None = None,
        endpoint: str = "",
        http_status: int = 200,
        raw: bytes = b"",
    ) -> None:
        super().__init__(message, api=api, phone_no=phone_no, endpoint=endpoint)
        self.http_status = http_status
        self.raw = raw
