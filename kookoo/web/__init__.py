"""The application layer: registration (:mod:`kookoo.web.scaffold`), the app
(:mod:`kookoo.web.app`), the request pipeline (:mod:`kookoo.web.pipeline`), and what serves
it: guards (:mod:`kookoo.web.security`), signed URLs (:mod:`kookoo.web.signing`), logs,
metrics, the health check, the live-call cap and the stream glue.

The names a hook or a pipeline extension types are here: a ``before_dispatch`` hook gets the
event and the :class:`RequestContext`; an ``after_response`` hook the context and the
:class:`Reply`.
"""

from __future__ import annotations

from kookoo.web.context import (
    AfterResponse,
    BeforeDispatch,
    HandlerError,
    Outcome,
    Reply,
    RequestContext,
)
from kookoo.web.handlers import ErrorHandler, Handler, HandlerResult
from kookoo.web.pipeline import Pipeline

__all__ = [
    "AfterResponse",
    "BeforeDispatch",
    "ErrorHandler",
    "Handler",
    "HandlerError",
    "HandlerResult",
    "Outcome",
    "Pipeline",
    "Reply",
    "RequestContext",
]
