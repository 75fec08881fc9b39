"""Logs you can see under any WSGI server: a default handler on the ``kookoo`` logger, and a
JSON format.

Like Flask's default handler on ``app.logger``, :func:`install_default_handler` puts one
:class:`DefaultHandler` (a :class:`logging.StreamHandler` on ``sys.stderr``) on the ``kookoo``
logger and sets that logger to INFO, but only when nobody configured logging: the root logger
has no handler and the ``kookoo`` logger has none of its own. Under gunicorn that makes the
request lines and handler errors appear in gunicorn's stderr (its ``--error-logfile``), with
time, level and the call's sid, without a line of logging config. The app installs it at its
first request in each worker.

The handler steps aside as soon as the user configures logging, even later: once the root
logger or the ``kookoo`` logger has another handler it writes nothing (the user's handlers
get the records through propagation) and gives the ``kookoo`` logger back the level it had.

The ``log_format`` setting (``KOOKOO_LOG_FORMAT=json``) makes it write one JSON object per
line (:class:`JSONFormatter`); ``text`` (the default) writes
``<time> [<pid>] <LEVEL> <logger>: <message>``.

The request line
================

The app logs one INFO line per request, ``sid=... event=... route=... handler=... status=...
ms=...``, and passes the same fields as ``extra={"kookoo": RequestFields(...)}`` so
:class:`JSONFormatter` (or any formatter of yours, as ``record.kookoo``) reads them without
parsing the message.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from typing import Any, NamedTuple, TextIO

from kookoo.core.text import escape_for_log
from kookoo.web.context import Reply, RequestContext

__all__ = [
    "JSON_FIELDS",
    "REQUEST_LINE",
    "TEXT_FORMAT",
    "DefaultHandler",
    "JSONFormatter",
    "RequestFields",
    "TextFormatter",
    "default_handler",
    "install_default_handler",
    "log_request",
    "log_request_line",
    "logging_configured",
    "make_formatter",
    "mask_caller",
    "remove_default_handler",
    "request_fields",
]


TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
"""The default handler's text format: time, worker pid, level, logger and message."""

JSON_FIELDS = (
    "time",
    "level",
    "logger",
    "message",
    "sid",
    "event",
    "route",
    "handler",
    "status",
    "ms",
    "caller",
)
"""The keys of every object :class:`JSONFormatter` writes, in order (``exception`` is added
when the record carries one). Request fields are ``null`` on lines that are not request lines."""

REQUEST_LINE = "sid=%s event=%s route=%s handler=%s status=%d ms=%.2f"
"""The format of the app's request line (its arguments: the first six :class:`RequestFields`)."""

_logger = logging.getLogger("kookoo")


class RequestFields(NamedTuple):
    """The fields of one request line, passed as ``extra={"kookoo": RequestFields(...)}``."""

    sid: str
    """The call's sid (``"-"`` when the request had none)."""
    event: str
    """The event name (``"-"`` when the request was refused before parsing)."""
    route: str
    """The matched route (``"-"`` when none matched)."""
    handler: str
    """The handler that ran (``"-"`` when none did)."""
    status: int
    """The HTTP status sent."""
    ms: float
    """Milliseconds the app spent on the request."""
    caller: str | None
    """The raw ``cid`` parameter, if any; formatters mask it (:func:`mask_caller`)."""


def request_fields(ctx: RequestContext, status: int, ms: float) -> RequestFields:
    """The fields of the request line for ``ctx``; the event name (which a request may
    choose) has its control characters escaped."""
    event = ctx.event
    handler = ctx.handler
    return RequestFields(
        event.sid if event is not None and event.sid else "-",
        escape_for_log(event.name or "Continue") if event is not None else "-",
        ctx.route,
        handler.name if handler is not None else "-",
        status,
        ms,
        ctx.params.get("cid"),
    )


def log_request_line(logger: logging.Logger, fields: RequestFields) -> None:
    """Log the app's request line for ``fields`` on ``logger`` at INFO, with the fields as
    ``extra={"kookoo": fields}``.

    The record is made with :meth:`logging.Logger.makeRecord` and handed to
    :meth:`logging.Logger.handle`, not with ``logger.info()``, which would walk the stack for a
    file and line the request line never shows (about a third of its cost).
    """
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        0,
        REQUEST_LINE,
        tuple(fields[:6]),
        None,
        extra={"kookoo": fields},
    )
    logger.handle(record)


def log_request(ctx: RequestContext, reply: Reply) -> None:
    """The app's ``after_response`` hook that writes the request line (at INFO on the
    ``kookoo`` logger); a passed health or metrics probe writes none."""
    if reply.status == 200 and ctx.probe:
        return
    if _logger.isEnabledFor(logging.INFO):
        ms = (time.perf_counter() - ctx.started) * 1000
        log_request_line(_logger, request_fields(ctx, reply.status, ms))


def mask_caller(number: str | None) -> str | None:
    """A caller number for a log: every character but the last 4 digits replaced by ``*``
    (a number of 4 characters or fewer is masked whole). ``None`` stays ``None``.

    >>> mask_caller("09876543210")
    '*******3210'
    >>> mask_caller("123")
    '***'
    """
    if number is None:
        return None
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


class JSONFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line (keys: :data:`JSON_FIELDS`).

    ``time`` is ISO 8601 in UTC with milliseconds; ``caller`` is masked to its last 4 digits.
    Non-ASCII and control characters (CR, LF, U+2028, ...) are written as ``\\uXXXX`` escapes,
    so a value a caller sent can never break the line or start a fake one. A record without
    request fields still gets its ``sid`` when its message starts with ``sid=%s`` (the app's
    error lines do). An exception's traceback goes into ``exception``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        fields: RequestFields | None = getattr(record, "kookoo", None)
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "sid": None,
            "event": None,
            "route": None,
            "handler": None,
            "status": None,
            "ms": None,
            "caller": None,
        }
        if isinstance(fields, RequestFields):
            out.update(fields._asdict())
            out["ms"] = round(fields.ms, 2)
            out["caller"] = mask_caller(fields.caller)
        elif (
            isinstance(record.msg, str)
            and record.msg.startswith("sid=%s")
            and isinstance(record.args, tuple)
            and record.args
        ):
            out["sid"] = str(record.args[0])
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=True, default=str)


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT`, written exactly as :class:`logging.Formatter` writes it, with the
    date and time of day worked out once per second (``time.strftime`` was a sixth of the
    request line's cost) instead of once per line, through the documented override point
    (:meth:`formatTime`).

    The converter (``time.localtime``, or what ``converter`` was set to) and the class's
    ``default_time_format`` / ``default_msec_format`` are honoured as by the base class.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        # (second, its text), replaced as one object, so threads never pair the two wrongly
        self._cached: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``record``'s time as ``%(asctime)s`` (a given ``datefmt`` goes to the base class)."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached_second, text = self._cached
        if second != cached_second:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._cached = (second, text)
        msec_format = self.default_msec_format
        if msec_format:
            return msec_format % (text, record.msecs)
        return text


def logging_configured(logger: logging.Logger | None = None) -> bool:
    """Whether the user set up logging: the root logger has a handler, or ``logger`` (the
    ``kookoo`` logger) has one that is not the :class:`DefaultHandler`."""
    target = _logger if logger is None else logger
    if logging.root.handlers:
        return True
    return any(not isinstance(h, DefaultHandler) for h in target.handlers)


class DefaultHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`install_default_handler` puts on the ``kookoo`` logger.

    Writes to ``sys.stderr`` as it is at the time of each record (so a test's capture, or a
    server that redirects stderr, gets the lines). Writes nothing once the user configures
    logging (:func:`logging_configured`), and then gives the logger back its former level.

    Args:
        logger: the logger it serves (the ``kookoo`` logger).
        previous_level: the logger's level before the handler raised it to INFO.
    """

    def __init__(self, logger: logging.Logger, previous_level: int) -> None:
        logging.Handler.__init__(self)
        self.logger = logger
        self.previous_level = previous_level
        self.stepped_aside = False

    @property
    def stream(self) -> TextIO:
        """``sys.stderr``, looked up at each record."""
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.setStream assigns it
        pass

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record``, unless the user has configured logging meanwhile."""
        if self.stepped_aside:
            return
        handlers = self.logger.handlers
        # The usual case, this handler alone, is told without logging_configured's scan.
        alone = len(handlers) == 1 and handlers[0] is self and not logging.root.handlers
        if not alone and logging_configured(self.logger):
            self.step_aside()
            return
        super().emit(record)

    def step_aside(self) -> None:
        """Stop writing and restore the logger's former level (only if it is still the INFO
        this handler set)."""
        self.stepped_aside = True
        if self.logger.level == logging.INFO:
            self.logger.setLevel(self.previous_level)


def default_handler(logger: logging.Logger | None = None) -> DefaultHandler | None:
    """The :class:`DefaultHandler` on ``logger`` (the ``kookoo`` logger), if one is there."""
    target = _logger if logger is None else logger
    for handler in target.handlers:
        if isinstance(handler, DefaultHandler):
            return handler
    return None


def make_formatter(log_format: str) -> logging.Formatter:
    """The default handler's formatter for ``log_format`` (the ``log_format`` setting).

    Raises:
        ValueError: neither ``text`` nor ``json``.
    """
    value = log_format.strip().lower()
    if value == "text":
        return TextFormatter()
    if value == "json":
        return JSONFormatter()
    raise ValueError(f"log_format={log_format!r}: give text or json")


def install_default_handler(logger: logging.Logger | None = None, log_format: str = "text") -> bool:
    """Give the ``kookoo`` logger a :class:`DefaultHandler` if nobody configured logging;
    return whether one is in place afterwards.

    Does nothing (returns ``False``) when :func:`logging_configured`. Otherwise adds the
    handler once (calling again is cheap and adds no second one), formatted as
    ``log_format`` says (``text`` or ``json``: the app passes its ``log_format`` setting,
    ``KOOKOO_LOG_FORMAT``), and sets the logger to INFO if it had no level of its own, so
    the request lines are written.

    Raises:
        ValueError: ``log_format`` is neither ``text`` nor ``json``.
    """
    target = _logger if logger is None else logger
    existing = default_handler(target)
    if logging_configured(target):
        if existing is not None:
            existing.step_aside()
        return False
    if existing is not None and not existing.stepped_aside:
        return True
    formatter = make_formatter(log_format)
    if existing is not None:
        target.removeHandler(existing)
    handler = DefaultHandler(target, target.level)
    handler.setFormatter(formatter)
    target.addHandler(handler)
    if target.level == logging.NOTSET:
        target.setLevel(logging.INFO)
    return True


def remove_default_handler(logger: logging.Logger | None = None) -> None:
    """Take the :class:`DefaultHandler` off ``logger`` (the ``kookoo`` logger) and restore
    the level it found; nothing happens when there is none."""
    target = _logger if logger is None else logger
    handler = default_handler(target)
    if handler is None:
        return
    target.removeHandler(handler)
    if not handler.stepped_aside:
        handler.step_aside()
