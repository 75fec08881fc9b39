"""kookoo: a Werkzeug-based web framework for KooKoo (Ozonetel) IVR phone apps.

>>> from kookoo import KooKoo, NewCall, Response
>>> app = KooKoo(store=False)
>>> @app.on_new_call
... def welcome(event):
...     return Response().play_text("Welcome to kookoo").hangup()
"""

from __future__ import annotations

from kookoo.core.errors import KooKooError
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
from kookoo.web.app import HandlerError, HandlerGroup, KooKoo, Reply, RequestContext
from kookoo.web.scaffold import Handler, HandlerResult
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
    "CollectDtmf",
    "Conference",
    "Continue",
    "Dial",
    "Disconnect",
    "Event",
    "EventParseError",
    "Finding",
    "GotDTMF",
    "Handler",
    "HandlerError",
    "HandlerGroup",
    "HandlerResult",
    "Hangup",
    "KooKoo",
    "KooKooError",
    "NewCall",
    "NewSms",
    "Node",
    "PhoneNumber",
    "Recognize",
    "Record",
    "Reply",
    "RequestContext",
    "Response",
    "ResponseParseError",
    "SayAsFormat",
    "Stream",
    "UnknownEvent",
    "XMLValueError",
    "has_errors",
    "lint",
    "parse_event",
    "parse_response",
]
