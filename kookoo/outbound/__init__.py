"""Outbound calls and SMS through KooKoo's APIs (``protocol.md`` §4), paced and never twice.

- :class:`Client`: ``place_call`` (``outbound.php``) and ``send_sms`` (``outbound_sms.php``);
  needs ``pip install 'kookoo[outbound]'`` (urllib3).
- :class:`OutboundError` and its family: what KooKoo refused (with its own message and a
  ``reason``), what never reached it, and what may or may not have been placed.
- :class:`Pacer`: calls per second, concurrent calls and the 9 am-9 pm IST window, with its
  slots in the app's call store.
- :class:`CallingWindow`, :data:`IST`; :func:`dial_number`, :func:`sms_number`,
  :func:`caller_id_number`: the number forms KooKoo takes.

The fake KooKoo endpoint for tests is :mod:`kookoo.testing.fake_outbound`.

What ``protocol.md`` marks uncertain [U], and what kookoo does about it:

- the reply's root element (``<response>`` or ``<request>``), tag case, and a possible JSON
  reply: all read (:func:`parse_reply`); a status word that is neither accepted nor refused is
  a :class:`BadReplyError`, never a guess;
- the list of error messages: classified by their words (:func:`classify_message`);
  unrecognised ones are :class:`RejectedError` with ``reason="other"`` and KooKoo's message;
- the endpoint's scheme and region: :data:`DEFAULT_BASE_URL` is https, ``base_url`` changes it;
- what KooKoo does with both ``url`` and ``extra_data``: refused before sending;
- international dialling and non-Indian SMS: calls send ``00`` + the number, SMS refuse it;
- the completion callback's ``status`` vocabulary and ``start_time`` format: the client does
  not read callbacks (the app's ``CallStatus`` event does); :meth:`Pacer.release` only needs
  the ``sid``.

Example::

    from kookoo.outbound import Client, DNDError

    client = Client()                       # KOOKOO_API_KEY
    try:
        call = client.place_call("9876543210", url="https://ivr.example.in/remind?visit=7",
                                 callback_url="https://ivr.example.in/ended")
    except DNDError:
        ...                                 # permanent: do not try this number again
"""

from __future__ import annotations

from kookoo.outbound.client import (
    API_KEY_ENV,
    CALL_ENDPOINT,
    DEFAULT_BASE_URL,
    SMS_ENDPOINT,
    Client,
    QueuedCall,
    SentSms,
)
from kookoo.outbound.errors import (
    AuthenticationError,
    BadReplyError,
    CallingHoursError,
    ConnectError,
    DNDError,
    InvalidNumberError,
    OutboundError,
    OutcomeUnknownError,
    Reason,
    RejectedError,
    ReplyTimeoutError,
)
from kookoo.outbound.numbers import caller_id_number, dial_number, sms_number
from kookoo.outbound.pacing import (
    SLOTS_NAMESPACE,
    Busy,
    Pacer,
    PacerConflictError,
    PacerTimeout,
    Slot,
)
from kookoo.outbound.reply import Reply, UnreadableReply, classify_message, parse_reply
from kookoo.outbound.window import IST, CallingWindow

__all__ = [
    "API_KEY_ENV",
    "CALL_ENDPOINT",
    "DEFAULT_BASE_URL",
    "IST",
    "SLOTS_NAMESPACE",
    "SMS_ENDPOINT",
    "AuthenticationError",
    "BadReplyError",
    "Busy",
    "CallingHoursError",
    "CallingWindow",
    "Client",
    "ConnectError",
    "DNDError",
    "InvalidNumberError",
    "OutboundError",
    "OutcomeUnknownError",
    "Pacer",
    "PacerConflictError",
    "PacerTimeout",
    "QueuedCall",
    "Reason",
    "RejectedError",
    "Reply",
    "ReplyTimeoutError",
    "SentSms",
    "Slot",
    "UnreadableReply",
    "caller_id_number",
    "classify_message",
    "dial_number",
    "parse_reply",
    "sms_number",
]
