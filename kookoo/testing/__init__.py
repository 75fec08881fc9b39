"""Test a KooKoo app without a phone: the call simulator, a fake of KooKoo's outbound API, a
fake stream client, and helpers that start real servers (gunicorn, redis-server) for tests.

- :class:`Simulator` plays KooKoo's part on a call (:mod:`kookoo.testing.simulator`);
- :class:`FakeOutbound` plays ``outbound.php`` and the completion callback
  (:mod:`kookoo.testing.fake_outbound`);
- :class:`FakeStreamClient` plays KooKoo's side of a ``<stream>`` socket
  (:mod:`kookoo.stream.fake`);
- :mod:`kookoo.testing.servers` starts gunicorn and redis-server on loopback;
- :mod:`kookoo.testing.transport` is how the simulator reaches an app (in-process or HTTP).

>>> from kookoo import KooKoo, Response
>>> app = KooKoo(store=False)
>>> @app.on_new_call
... def hello(event):
...     return Response().play_text("Hello").hangup()
>>> Simulator(app).call().heard
['Hello']
"""

from __future__ import annotations

from kookoo.core.loading import load_app
from kookoo.stream.fake import FakeStreamClient, FakeStreamResult
from kookoo.testing.fake_outbound import (
    TEST_API_KEY,
    CallbackResult,
    FakeOutbound,
    OutboundCallPlay,
)
from kookoo.testing.simulator import (
    DEFAULT_CALLED_NUMBER,
    DEFAULT_CALLER,
    CallEndedError,
    InvalidReplyError,
    SimulatedCall,
    Simulator,
    SimulatorError,
    Sms,
    Turn,
    UnexpectedActionError,
    WaitingFor,
)

__all__ = [
    "DEFAULT_CALLED_NUMBER",
    "DEFAULT_CALLER",
    "TEST_API_KEY",
    "CallEndedError",
    "CallbackResult",
    "FakeOutbound",
    "FakeStreamClient",
    "FakeStreamResult",
    "InvalidReplyError",
    "OutboundCallPlay",
    "SimulatedCall",
    "Simulator",
    "SimulatorError",
    "Sms",
    "Turn",
    "UnexpectedActionError",
    "WaitingFor",
    "load_app",
]
