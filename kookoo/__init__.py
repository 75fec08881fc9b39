"""kookoo: a Werkzeug-based web framework for KooKoo (Ozonetel) IVR phone apps.

What an app's code types every day is here; the layers behind it are subpackages
(``kookoo.protocol``, ``kookoo.xml``, ``kookoo.state``, ``kookoo.flow``, ``kookoo.web``,
``kookoo.outbound``, ``kookoo.stream``, ``kookoo.testing``; see docs/architecture.md).

>>> from kookoo import KooKoo, NewCall, Response
>>> app = KooKoo(store=False)
>>> @app.on_new_call
... def welcome(event):
...     return Response().play_text("Welcome to kookoo").hangup()
"""

from __future__ import annotations

from kookoo.core.errors import ConfigError, KooKooError, SetupError
from kookoo.flow import DialOutcome, FlowCall, FlowMismatchError, Recording, Skipped, Step
from kookoo.protocol.events import (
    CallStatus,
    Conference,
    Continue,
    Dial,
    Disconnect,
    Event,
    EventParseError,
    GotDTMF,
    Hangup,
    NewCall,
    NewSms,
    Recognize,
    Record,
    Stream,
    UnknownEvent,
    parse_event,
)
from kookoo.protocol.lang import SayAsFormat
from kookoo.protocol.phone import PhoneNumber
from kookoo.state.calls import Call, CallStateError
from kookoo.state.session import CallSession
from kookoo.state.stores import (
    CallStore,
    ConflictError,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    StoreUnavailableError,
)
from kookoo.web.app import KooKoo
from kookoo.web.context import HandlerError
from kookoo.web.handlers import HandlerResult
from kookoo.web.scaffold import HandlerGroup
from kookoo.xml.lint import Finding, has_errors, lint
from kookoo.xml.parser import parse_response
from kookoo.xml.response import (
    CollectDtmf,
    Node,
    Response,
    ResponseParseError,
    XMLValueError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Call",
    "CallSession",
    "CallStateError",
    "CallStatus",
    "CallStore",
    "CollectDtmf",
    "Conference",
    "ConfigError",
    "ConflictError",
    "Continue",
    "Dial",
    "DialOutcome",
    "Disconnect",
    "Event",
    "EventParseError",
    "Finding",
    "FlowCall",
    "FlowMismatchError",
    "GotDTMF",
    "HandlerError",
    "HandlerGroup",
    "HandlerResult",
    "Hangup",
    "KooKoo",
    "KooKooError",
    "MemoryStore",
    "NewCall",
    "NewSms",
    "Node",
    "PhoneNumber",
    "Recognize",
    "Record",
    "Recording",
    "RedisStore",
    "Response",
    "ResponseParseError",
    "SQLiteStore",
    "SayAsFormat",
    "SetupError",
    "Skipped",
    "Step",
    "StoreUnavailableError",
    "Stream",
    "UnknownEvent",
    "XMLValueError",
    "has_errors",
    "lint",
    "parse_event",
    "parse_response",
]
